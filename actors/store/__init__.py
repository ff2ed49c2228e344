"""The single SQLite writer and what lives beside it: schema, migrations, checkpoints, backup.

Owns: ``engine.db`` — the one writer connection (group commit, write-through), the schema
version, the WAL checkpointer's connection, backup archives.
Receives: write closures from every actor (``Store.write``), reads from the read models.
Sends: nothing; a failed commit raises ``StorageError`` to the writer's caller.
"""
