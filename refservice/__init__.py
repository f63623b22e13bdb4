"""The reference service: a small real web app (PostgreSQL rows + S3 objects) that the toolkit migrates.

Modules: `config` (environment), `db` and `objects` (the two stores), `notes` (the domain),
`canonical` (checksums and the digest), `app`/`wsgi` (HTTP), `schema` (the explicit schema step),
`loadgen` and `checker` (prove that no acknowledged write is lost).
"""
