-- +goose Up
-- The outcome of a mutation sent with an Idempotency-Key, per principal, so a retry with the
-- same key is answered from here instead of running again. A pending row marks a request in
-- flight; created_at identifies the reservation and starts the key's lifetime.
CREATE TABLE idempotency_keys (
    key           text NOT NULL,
    principal     text NOT NULL,
    fingerprint   bytea NOT NULL,                -- SHA-256 of method, path and body hash
    status        integer NOT NULL DEFAULT 0,
    content_type  text NOT NULL DEFAULT '',
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    body          bytea NOT NULL DEFAULT ''::bytea,
    authz         jsonb,                         -- the decision input to re-check on replay
    pending       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
