-- Schema of the reference service. Idempotent: applied by `python3 -m refservice.schema`, never by
-- the app at start. Every table has a primary key (logical replication needs one).
CREATE TABLE IF NOT EXISTS notes (
    id            bigserial PRIMARY KEY,
    title         text        NOT NULL,
    body          text        NOT NULL,
    object_key    text        NOT NULL,
    object_sha256 text        NOT NULL,
    version       integer     NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
