-- +goose Up
CREATE TABLE namespaces (
    name        text PRIMARY KEY,               -- dotted namespace, e.g. 'sales.eu'
    levels      text[] NOT NULL,                -- its levels, e.g. {sales,eu}
    properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per Iceberg table or view: the metadata pointer. Commits swap it with
-- UPDATE ... WHERE metadata_location = $old (compare-and-swap).
CREATE TABLE catalog_entries (
    namespace                   text NOT NULL REFERENCES namespaces (name) ON UPDATE CASCADE,
    name                        text NOT NULL,
    kind                        text NOT NULL CHECK (kind IN ('table', 'view')),
    metadata_location           text NOT NULL,
    previous_metadata_location  text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- Governance attributes of a table. Every table is a dataset; the declared schema and
-- partitioning mirror the current Iceberg metadata in our API's shape.
CREATE TABLE datasets (
    namespace      text NOT NULL,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    owner          text NOT NULL DEFAULT '',
    tags           text[] NOT NULL DEFAULT '{}',
    schema         jsonb NOT NULL,
    partitioning   jsonb NOT NULL DEFAULT '[]'::jsonb,
    quality        jsonb NOT NULL DEFAULT '[]'::jsonb,
    unknown_fields text NOT NULL DEFAULT 'reject' CHECK (unknown_fields IN ('reject', 'drop')),
    version        bigint NOT NULL DEFAULT 1,
    created_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name),
    FOREIGN KEY (namespace, name) REFERENCES catalog_entries (namespace, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX datasets_tags_idx ON datasets USING gin (tags);

CREATE TABLE grants (
    id              text PRIMARY KEY,
    principal_type  text NOT NULL CHECK (principal_type IN ('role', 'subject')),
    principal       text NOT NULL,
    privilege       text NOT NULL,
    scope_type      text NOT NULL CHECK (scope_type IN ('namespace', 'dataset')),
    namespace       text NOT NULL,
    name            text NOT NULL DEFAULT '',
    created_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (principal_type, principal, privilege, scope_type, namespace, name)
);

CREATE TABLE audit_log (
    id               bigserial PRIMARY KEY,
    at               timestamptz NOT NULL,
    request_id       text NOT NULL,
    principal        text NOT NULL DEFAULT '',
    roles            text[] NOT NULL DEFAULT '{}',
    action           text NOT NULL DEFAULT '',
    resource         text NOT NULL DEFAULT '',
    decision         text NOT NULL,            -- allow | deny | unauthenticated | invalid
    policy_revision  text NOT NULL DEFAULT '',
    reason           text NOT NULL DEFAULT '',
    status           integer NOT NULL,
    latency_ms       double precision NOT NULL DEFAULT 0,
    method           text NOT NULL DEFAULT '',
    path             text NOT NULL DEFAULT '',
    client_addr      text NOT NULL DEFAULT '',
    user_agent       text NOT NULL DEFAULT '',
    details          jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_principal_idx ON audit_log (principal, id);
CREATE INDEX audit_log_resource_idx ON audit_log (resource, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE grants;
DROP TABLE datasets;
DROP TABLE catalog_entries;
DROP TABLE namespaces;
