-- +goose Up
-- Tags of schema fields (e.g. "pii"), by the field's dotted path: {"email": ["pii"]}. Kept apart
-- from the schema column, which always mirrors the Iceberg table's current schema.
ALTER TABLE datasets ADD COLUMN field_tags jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE datasets DROP COLUMN field_tags;
