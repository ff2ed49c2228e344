"""The risk engine in the shell: live views of the groups, the timer, executing a plan.

Owns: per-group risk views, the skip/block flags, the risk actions rows.
Receives: price and group changes; Run Now / Skip once / Block from the operator.
Sends: close and partial-close commands to group actors; Panel C rows to the UI hub.
"""
