"""Shared fixtures of the engine interoperability tests (Spark, DuckDB) against a running lakegate.

scripts/engines.sh starts lakegate on a fresh database and data dir and sets:

  LAKEGATE_URL             http://127.0.0.1:PORT (the Iceberg catalog is $LAKEGATE_URL/iceberg)
  LAKEGATE_TOKEN           JWT of a principal with role admin
  LAKEGATE_NOGRANT_TOKEN   JWT of a principal without any grant
  LAKEGATE_SCOPED_TOKEN    JWT of subject engines-scoped, whose grants the tests create
  LAKEGATE_DATA_DIR        the server's --data-dir (file:// warehouse under it), for purge checks
  LAKEGATE_ICEBERG_SPARK_JAR  the iceberg-spark-runtime jar (Spark tests only)

The tests name their namespaces with a random suffix, so they can run against a server that
already holds data. Every step asserts exact values, so that a failure names one feature.
"""

import json
import time
import os
import uuid

import pytest
import requests


def env(name, required=True):
    value = os.environ.get(name, "")
    if required and not value:
        pytest.exit(f"{name} is not set (run the tests through scripts/engines.sh)", returncode=2)
    return value


class Lakegate:
    """A small client of lakegate's own API and of its Iceberg REST routes (verification only)."""

    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.catalog_uri = self.url + "/iceberg"
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = "Bearer " + token

    def call(self, method, path, expect=None, **kw):
        r = self.http.request(method, self.url + path, timeout=120, **kw)
        if expect is not None:
            assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text[:2000]}"
        return r

    # --- Iceberg REST (no prefix)
    def load_table(self, ns, name):
        return self.call("GET", f"/iceberg/v1/namespaces/{ns}/tables/{name}", expect=200).json()

    def table_status(self, ns, name):
        return self.call("GET", f"/iceberg/v1/namespaces/{ns}/tables/{name}").status_code

    def view_status(self, ns, name):
        return self.call("GET", f"/iceberg/v1/namespaces/{ns}/views/{name}").status_code

    def current_snapshot(self, ns, name):
        md = self.load_table(ns, name)["metadata"]
        sid = md.get("current-snapshot-id")
        if sid is None or sid == -1:
            return None
        return next(s for s in md["snapshots"] if s["snapshot-id"] == sid)

    def create_namespace(self, ns):
        self.call("POST", "/iceberg/v1/namespaces", expect=200, json={"namespace": [ns]})

    def create_table(self, ns, name, fields):
        """A plain (non-staged) createTable; fields are (name, iceberg type, required)."""
        schema = {"type": "struct", "schema-id": 0, "fields": [
            {"id": i + 1, "name": n, "type": t, "required": r} for i, (n, t, r) in enumerate(fields)]}
        return self.call("POST", f"/iceberg/v1/namespaces/{ns}/tables", expect=200,
                         json={"name": name, "schema": schema}).json()

    # --- lakegate API
    def create_service_client(self, name, roles):
        body = self.call("POST", "/v1/service-clients", expect=201,
                         json={"name": name, "roles": roles}).json()
        return body["client_id"], body["client_secret"]

    def register_dataset(self, ns, name, schema, partitioning=None):
        body = {"namespace": ns, "name": name, "description": "engine interop", "owner": "engines",
                "schema": {"fields": schema}}
        if partitioning:
            body["partitioning"] = partitioning
        return self.call("POST", "/v1/datasets", expect=201, json=body).json()

    def ingest(self, ns, name, records):
        r = self.call("POST", f"/v1/datasets/{ns}/{name}/records?wait=visible", expect=202,
                      data=json.dumps(records), headers={"Content-Type": "application/json"})
        return r.json()

    def grant_table(self, subject, ns, name, privilege="table.*"):
        return self.call("POST", "/v1/grants", expect=201, json={
            "principal_type": "subject", "principal": subject, "privilege": privilege,
            "scope_type": "dataset", "namespace": ns, "name": name}).json()

    def grant_table_and_wait(self, subject, token, ns, name):
        """Grants subject table.* on ns.name and waits until token can load it: grants
        propagate through Postgres NOTIFY."""
        self.grant_table(subject, ns, name)
        status = None
        for _ in range(50):
            status = self.http.get(f"{self.catalog_uri}/v1/namespaces/{ns}/tables/{name}",
                                   headers={"Authorization": "Bearer " + token}).status_code
            if status == 200:
                return
            time.sleep(0.1)
        raise AssertionError(f"the table grant does not let {subject} load {ns}.{name}: {status}")

    def stream_readings(self, prefix):
        """Registers dataset <prefix_uuid>.readings and streams 152 records into it in two
        requests: 100 valid, then 50 valid and 2 rejected (no id). Returns the namespace, the
        name and both receipts."""
        sns, name = unique(prefix), "readings"
        self.register_dataset(sns, name, [
            {"name": "id", "type": "long", "required": True},
            {"name": "sensor", "type": "string", "required": True},
            {"name": "value", "type": "double"},
        ], partitioning=[{"field": "sensor", "transform": "identity"}])
        r1 = self.ingest(sns, name, [{"id": i, "sensor": f"s{i % 3}", "value": i * 0.5} for i in range(100)])
        assert (r1["accepted"], r1["rejected"]) == (100, 0)
        r2 = self.ingest(sns, name, [{"id": 100 + i, "sensor": "s9", "value": 1.0} for i in range(50)]
                         + [{"sensor": "s9"}, {"sensor": "s9"}])
        assert (r2["accepted"], r2["rejected"]) == (50, 2)
        return sns, name, r1, r2

    def audit(self, **filters):
        return self.call("GET", "/v1/audit", expect=200, params={"page_size": 200, **filters}).json()


@pytest.fixture(scope="session")
def lakegate():
    return Lakegate(env("LAKEGATE_URL"), env("LAKEGATE_TOKEN"))


@pytest.fixture(scope="session")
def nogrant_token():
    return env("LAKEGATE_NOGRANT_TOKEN")


@pytest.fixture(scope="session")
def scoped_token():
    return env("LAKEGATE_SCOPED_TOKEN")


@pytest.fixture(scope="session")
def data_dir():
    return env("LAKEGATE_DATA_DIR", required=False)


def unique(prefix):
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def file_path(location):
    """The local path of a file: location (None for other schemes)."""
    if location.startswith("file://"):
        return location[len("file://"):]
    if location.startswith("file:/"):
        return location[len("file:"):]
    return location if location.startswith("/") else None
