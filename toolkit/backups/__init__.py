"""PostgreSQL backups on bare metal: pgBackRest on the database host, its repository in the object store.

The ``backups`` role (``playbooks/roles/backups``) installs and schedules it; this package drives
it over SSH as the deploy user (``postgres`` through sudo, as the data movers do):

- ``repository``: the stanza on the database host, its ``pgbackrest`` commands and units;
- ``status``: the last full backup and its age, the recovery window, the WAL archiver's health;
- ``restore``: a point-in-time restore into a scratch cluster, verified table by table, removed
  unless kept; or over the live cluster, its data directory kept aside.
"""
