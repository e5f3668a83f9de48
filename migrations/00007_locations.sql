-- +goose Up
-- Every table and view owns a location (normalized: scheme://bucket-or-empty/path) that no
-- other object has ever had. catalog_entries.location is what a live entry owns (NULL for
-- entries made before this migration: the catalog fills it in at start from their metadata);
-- catalog_locations remembers every location ever handed out, so none is handed out twice.
ALTER TABLE catalog_entries ADD COLUMN location text;
CREATE INDEX catalog_entries_location_idx ON catalog_entries (location text_pattern_ops);

CREATE TABLE catalog_locations (
    location    text PRIMARY KEY,
    namespace   text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE catalog_locations;
DROP INDEX catalog_entries_location_idx;
ALTER TABLE catalog_entries DROP COLUMN location;
