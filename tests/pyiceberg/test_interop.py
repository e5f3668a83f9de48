"""PyIceberg against lakegate's Iceberg REST catalog.

Run by tests/pyiceberg_test.go (go test ./tests -run PyIceberg), which starts the real server
and sets:

  LAKEGATE_URI         http://HOST:PORT/iceberg
  LAKEGATE_TOKEN       an admin JWT (lakegate token --roles admin)
  LAKEGATE_CREDENTIAL  client_id:client_secret of a service client with role admin

The warehouse is a local directory shared with the server, so PyIceberg reads and writes the
data files itself. Every namespace is unique to the run and dropped at the end.
"""

import logging
import os
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NoSuchNamespaceError,
    NoSuchTableError,
    OAuthError,
    UnauthorizedError,
)
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        pytest.fail(f"{name} is not set: run this through `go test ./tests -run PyIceberg` (or `make test`)")
    return value


@pytest.fixture(scope="session")
def uri() -> str:
    return _env("LAKEGATE_URI")


def _catalog(uri: str, mode: str):
    if mode == "token":
        return load_catalog(f"lakegate-{mode}", type="rest", uri=uri, token=_env("LAKEGATE_TOKEN"))
    # OAuth2 client_credentials at the token endpoint, then the bearer token it got. The endpoint
    # is named explicitly, as PyIceberg recommends (its fallback is deprecated; see below).
    return load_catalog(
        f"lakegate-{mode}",
        **{"type": "rest", "uri": uri, "credential": _env("LAKEGATE_CREDENTIAL"), "oauth2-server-uri": f"{uri}/v1/oauth/tokens"},
    )


@pytest.fixture(params=["token", "credential"])
def catalog(request, uri):
    return _catalog(uri, request.param)


@pytest.fixture
def namespace(catalog):
    """A namespace of this test's own, with everything in it dropped (and purged) at the end."""
    ns = f"pyinterop_{uuid.uuid4().hex[:12]}"
    yield ns
    try:
        for ident in catalog.list_tables(ns):
            try:
                catalog.purge_table(ident)
            except NoSuchTableError:
                pass
        catalog.drop_namespace(ns)
    except NoSuchNamespaceError:
        pass


SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=True),
    NestedField(2, "ts", TimestamptzType(), required=False),
    NestedField(3, "category", StringType(), required=False),
    NestedField(4, "amount", DoubleType(), required=False),
)

SPEC = PartitionSpec(
    PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"),
    PartitionField(source_id=3, field_id=1001, transform=IdentityTransform(), name="category"),
)

ARROW = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC")),
        pa.field("category", pa.string()),
        pa.field("amount", pa.float64()),
    ]
)

DAY0 = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _rows(first_id: int, n: int) -> list[dict]:
    """n rows over three days and two categories; amount = id * 1.5."""
    cats = ["books", "games"]
    return [
        {
            "id": i,
            "ts": DAY0 + timedelta(days=i % 3, hours=i),
            "category": cats[i % 2],
            "amount": i * 1.5,
        }
        for i in range(first_id, first_id + n)
    ]


def _by_id(tbl: pa.Table) -> list[dict]:
    return sorted(tbl.to_pylist(), key=lambda r: r["id"])


def _local_path(location: str) -> Path:
    u = urlparse(location)
    assert u.scheme == "file", f"the interop test runs with a local warehouse, got {location}"
    return Path(u.path)


def test_table_lifecycle(catalog, namespace):
    ns = namespace
    ident = (ns, "events")

    # Namespace.
    catalog.create_namespace(ns, properties={"owner": "pyiceberg-interop"})
    assert catalog.namespace_exists(ns)
    assert (ns,) in catalog.list_namespaces()
    assert catalog.load_namespace_properties(ns).get("owner") == "pyiceberg-interop"

    # Partitioned table.
    tbl = catalog.create_table(ident, schema=SCHEMA, partition_spec=SPEC)
    assert catalog.table_exists(ident)
    assert [f.name for f in tbl.spec().fields] == ["ts_day", "category"]
    assert str(tbl.spec().fields[0].transform) == "day"
    assert tbl.schema().find_field("id").required
    table_dir = _local_path(tbl.location())

    # Two appends: two snapshots, data files written by PyIceberg into the shared warehouse.
    batch1, batch2 = _rows(1, 6), _rows(7, 6)
    tbl.append(pa.Table.from_pylist(batch1, schema=ARROW))
    tbl.append(pa.Table.from_pylist(batch2, schema=ARROW))
    data_files = list(table_dir.rglob("*.parquet"))
    assert data_files, f"no data files under {table_dir}"

    # A fresh load sees what the server committed.
    tbl = catalog.load_table(ident)
    assert len(tbl.snapshots()) == 2
    assert tbl.current_snapshot().summary["total-records"] == "12"
    assert _by_id(tbl.scan().to_arrow()) == batch1 + batch2

    # Row filters: exact rows, values compared.
    games_ge_9 = tbl.scan(row_filter=And(EqualTo("category", "games"), GreaterThanOrEqual("amount", 9.0))).to_arrow()
    expected = [r for r in batch1 + batch2 if r["category"] == "games" and r["amount"] >= 9.0]
    assert [r["id"] for r in expected] == [7, 9, 11]
    assert _by_id(games_ge_9) == expected

    day1 = tbl.scan(
        row_filter=And(GreaterThanOrEqual("ts", (DAY0 + timedelta(days=1)).isoformat()),
                       LessThan("ts", (DAY0 + timedelta(days=2)).isoformat())),
        selected_fields=("id", "amount"),
    ).to_arrow()
    expected_day1 = [{"id": r["id"], "amount": r["amount"]} for r in batch1 + batch2 if r["ts"].date() == (DAY0 + timedelta(days=1)).date()]
    assert [r["id"] for r in expected_day1] == [1, 4, 7, 10]
    assert _by_id(day1) == expected_day1

    # String filter syntax, as users write it.
    assert sorted(tbl.scan(row_filter="category = 'books' AND id < 5").to_arrow()["id"].to_pylist()) == [2, 4]

    # Schema evolution: an optional column, then rows that have it.
    with tbl.update_schema() as update:
        update.add_column("note", StringType(), doc="added by the interop test")
    tbl = catalog.load_table(ident)
    note = tbl.schema().find_field("note")
    assert not note.required and note.field_type == StringType()
    assert len(tbl.schemas()) == 2

    batch3 = [dict(r, note=f"note-{r['id']}") for r in _rows(13, 3)]
    tbl.append(pa.Table.from_pylist(batch3, schema=ARROW.append(pa.field("note", pa.string()))))

    tbl = catalog.load_table(ident)
    assert len(tbl.snapshots()) == 3
    rows = _by_id(tbl.scan().to_arrow())
    assert [r["id"] for r in rows] == list(range(1, 16))
    assert rows == [dict(r, note=None) for r in batch1 + batch2] + batch3
    noted = tbl.scan(row_filter="note IS NOT NULL", selected_fields=("id", "note")).to_arrow()
    assert _by_id(noted) == [{"id": r["id"], "note": r["note"]} for r in batch3]
    # Time travel to the snapshot before the new column: the old rows only.
    first_two = tbl.scan(snapshot_id=tbl.snapshots()[1].snapshot_id).to_arrow()
    assert sorted(first_two["id"].to_pylist()) == list(range(1, 13))

    # Listing.
    assert catalog.list_tables(ns) == [ident]
    assert (ns,) in catalog.list_namespaces()

    # Drop with purge: gone from the catalog and from the warehouse.
    catalog.purge_table(ident)
    assert not catalog.table_exists(ident)
    assert catalog.list_tables(ns) == []
    with pytest.raises(NoSuchTableError):
        catalog.load_table(ident)
    assert not any(p.exists() for p in data_files), "purge left data files behind"
    assert not table_dir.exists(), f"purge left {table_dir} behind"

    catalog.drop_namespace(ns)
    assert not catalog.namespace_exists(ns)
    assert (ns,) not in catalog.list_namespaces()
    with pytest.raises(NoSuchNamespaceError):
        catalog.load_namespace_properties(ns)


def test_drop_without_purge_keeps_files(catalog, namespace):
    ns = namespace
    ident = (ns, "kept")
    catalog.create_namespace(ns)
    tbl = catalog.create_table(ident, schema=SCHEMA, partition_spec=SPEC)
    tbl.append(pa.Table.from_pylist(_rows(1, 3), schema=ARROW))
    data_files = list(_local_path(tbl.location()).rglob("*.parquet"))
    assert data_files

    table_dir = _local_path(tbl.location())
    catalog.drop_table(ident)
    assert not catalog.table_exists(ident)
    assert all(p.exists() for p in data_files), "drop without purge must keep the files"
    catalog.drop_namespace(ns)
    assert not catalog.namespace_exists(ns)
    shutil.rmtree(table_dir)  # the files are ours now: leave nothing behind


def test_concurrent_commits(catalog, namespace, caplog):
    """Two writers from the same metadata: the server refuses the stale commit (409
    CommitFailedException); PyIceberg retries an append on fresh metadata, not a schema change."""
    ns = namespace
    ident = (ns, "contended")
    catalog.create_namespace(ns)
    catalog.create_table(ident, schema=SCHEMA)
    a, b = catalog.load_table(ident), catalog.load_table(ident)
    a.append(pa.Table.from_pylist(_rows(1, 2), schema=ARROW))
    with caplog.at_level(logging.WARNING, logger="pyiceberg.table"):
        b.append(pa.Table.from_pylist(_rows(3, 2), schema=ARROW))
    assert "Commit failed due to a concurrent update" in caplog.text, "the stale append was not refused"
    tbl = catalog.load_table(ident)
    first, second = tbl.snapshots()
    assert second.parent_snapshot_id == first.snapshot_id
    assert sorted(tbl.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3, 4]

    # Schema changes are not retried: the failed requirement (assert-current-schema-id) surfaces.
    with a.update_schema() as update:
        update.add_column("first", StringType())
    with pytest.raises(CommitFailedException):
        with b.update_schema() as update:
            update.add_column("second", StringType())
    assert [f.name for f in catalog.load_table(ident).schema().fields][-1] == "first"


def test_credential_with_the_default_token_endpoint(uri):
    """Without oauth2-server-uri, PyIceberg posts the credential to <uri>/v1/oauth/tokens."""
    with pytest.warns(DeprecationWarning, match="oauth2-server-uri"):
        cat = load_catalog("lakegate-default-oauth", type="rest", uri=uri, credential=_env("LAKEGATE_CREDENTIAL"))
    ns = f"pyinterop_{uuid.uuid4().hex[:12]}"
    cat.create_namespace(ns)
    try:
        assert (ns,) in cat.list_namespaces()
    finally:
        cat.drop_namespace(ns)
    assert not cat.namespace_exists(ns)


def test_bad_credentials_are_refused(uri):
    with pytest.raises(OAuthError) as err:
        load_catalog(
            "lakegate-bad",
            **{"type": "rest", "uri": uri, "credential": "no-such-client:wrong-secret", "oauth2-server-uri": f"{uri}/v1/oauth/tokens"},
        )
    assert str(err.value).startswith("invalid_client"), str(err.value)

    with pytest.raises(UnauthorizedError):
        load_catalog("lakegate-anon", type="rest", uri=uri)
