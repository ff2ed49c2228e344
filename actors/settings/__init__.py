"""What an operator configures: engine.toml, secrets, users, operator controls.

Owns: ``engine.toml`` edits and versions, the encrypted secrets file, users and sessions.
Receives: calls from the handle and the CLI.
Sends: ``ConfigChanged`` to the engine core after an Apply.
"""
