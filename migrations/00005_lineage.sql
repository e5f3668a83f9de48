-- +goose Up
-- Lineage: producer -> batch -> snapshot -> dataset. Lineage rows follow their dataset: a rename
-- carries them along (ON UPDATE CASCADE) and dropping the dataset removes them, so a table
-- created again under the same name starts with no stale lineage. The audit log keeps the
-- history of who did what.

-- One row per table snapshot lakegate knows about: committed by the streaming writer
-- (source 'ingest', with the JetStream sequence range it covers) or by an external engine
-- through the Iceberg REST catalog (source 'catalog', with the audit request id).
CREATE TABLE lineage_snapshots (
    namespace           text NOT NULL,
    dataset             text NOT NULL,
    snapshot_id         bigint NOT NULL,
    parent_snapshot_id  bigint,
    sequence_number     bigint NOT NULL DEFAULT 0,      -- Iceberg's data sequence number (0 in format v1)
    operation           text NOT NULL DEFAULT '',       -- append | overwrite | delete | replace
    committed_by        text NOT NULL,                  -- the principal, or 'writer'
    source              text NOT NULL CHECK (source IN ('ingest', 'catalog')),
    first_seq           bigint,                         -- JetStream sequence range; null for catalog commits
    last_seq            bigint,
    request_id          text NOT NULL DEFAULT '',       -- the audit request id of a catalog commit
    added_records       bigint,                         -- from the snapshot summary, when present
    added_files         bigint,
    committed_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, dataset, snapshot_id),
    CHECK ((first_seq IS NULL) = (last_seq IS NULL) AND (first_seq IS NULL OR first_seq <= last_seq)),
    FOREIGN KEY (namespace, dataset) REFERENCES datasets (namespace, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX lineage_snapshots_recent_idx ON lineage_snapshots (namespace, dataset, committed_at DESC, sequence_number DESC);

-- One row per ingest request batch (one JetStream message). snapshot_id stays null until the
-- writer commits the batch.
CREATE TABLE lineage_batches (
    batch_id         text PRIMARY KEY,
    namespace        text NOT NULL,
    dataset          text NOT NULL,
    producer         text NOT NULL,                     -- the principal's subject
    producer_roles   text[] NOT NULL DEFAULT '{}',
    accepted         bigint NOT NULL DEFAULT 0 CHECK (accepted >= 0),
    rejected         bigint NOT NULL DEFAULT 0 CHECK (rejected >= 0),
    stream_seq       bigint,                            -- the JetStream sequence of its message
    policy_revision  text NOT NULL DEFAULT '',
    received_at      timestamptz NOT NULL DEFAULT now(),
    snapshot_id      bigint,
    committed_at     timestamptz,
    CHECK ((snapshot_id IS NULL) = (committed_at IS NULL)),
    FOREIGN KEY (namespace, dataset) REFERENCES datasets (namespace, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX lineage_batches_snapshot_idx ON lineage_batches (namespace, dataset, snapshot_id);

-- The exactly-once watermark: the highest JetStream sequence committed into each dataset,
-- advanced in the writer's commit transaction. It describes the stream, not the table, so it
-- has no foreign key: it survives a drop, and redelivered messages at or below it are never
-- written twice.
CREATE TABLE stream_watermarks (
    namespace   text NOT NULL,
    dataset     text NOT NULL,
    last_seq    bigint NOT NULL CHECK (last_seq >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, dataset)
);

-- +goose Down
DROP TABLE stream_watermarks;
DROP TABLE lineage_batches;
DROP TABLE lineage_snapshots;
