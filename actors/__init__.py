"""The imperative shell: trio actors, exchange adapters, the journal. Each actor module starts
with a docstring saying what it Owns, Receives, Sends, and how it Fails."""
