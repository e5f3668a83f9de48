-- +goose Up
-- Service clients authenticate machines (Spark, Trino, PyIceberg, ...) to the OAuth2
-- client_credentials token endpoint. Only the SHA-256 of the secret is stored; revoking a
-- client keeps its row (for the audit trail) and stops it from getting new tokens.
CREATE TABLE service_clients (
    id             text PRIMARY KEY,             -- lgc_<16 hex>
    name           text NOT NULL,
    roles          text[] NOT NULL,
    secret_sha256  bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    created_by     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    revoked_at     timestamptz
);

-- +goose Down
DROP TABLE service_clients;
