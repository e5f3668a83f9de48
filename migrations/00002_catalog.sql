-- +goose Up
-- A dataset registered through /v1/datasets has a registered schema: external engines'
-- commits may evolve it only compatibly. Tables created through the Iceberg catalog do not,
-- until an owner registers one.
ALTER TABLE datasets ADD COLUMN schema_enforced boolean NOT NULL DEFAULT false;
UPDATE datasets SET schema_enforced = true;

CREATE INDEX catalog_entries_kind_idx ON catalog_entries (namespace, kind, name);
CREATE INDEX namespaces_levels_len_idx ON namespaces (array_length(levels, 1), name);

-- +goose Down
DROP INDEX namespaces_levels_len_idx;
DROP INDEX catalog_entries_kind_idx;
ALTER TABLE datasets DROP COLUMN schema_enforced;
