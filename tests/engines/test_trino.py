"""Trino 476 (single node, Iceberg connector, REST catalog) against lakegate.

Issue #9's list for Trino, one test per step. Run through scripts/trino.sh (`make test-trino`),
which starts Trino with a catalog `lakegate` (the Iceberg REST catalog behind the capture proxy,
admin token, local file system) and sets LAKEGATE_TRINO_URL. Every step makes its own table, so
that a failure names one feature; what Trino did is checked through the catalog's REST answer
too (schema, spec, location, snapshots), not only through Trino.
"""

import datetime as dt
import decimal
import os
import urllib.parse

import pytest

from conftest import env, file_path, unique

CAT = "lakegate"  # admin token
NOGRANT = "lakegate_nogrant"  # principal without any grant
SCOPED = "lakegate_scoped"  # subject engines-scoped, granted table.* on single tables by the tests
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def trino_conn():
    import trino

    u = urllib.parse.urlsplit(env("LAKEGATE_TRINO_URL"))
    conn = trino.dbapi.connect(host=u.hostname, port=u.port, user="engines", catalog=CAT,
                               http_scheme="http", request_timeout=300)
    yield conn
    conn.close()


def q(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    return [tuple(r) for r in rows]


def scalar(conn, sql):
    return q(conn, sql)[0][0]


@pytest.fixture(scope="module")
def ns(trino_conn):
    """A schema created by Trino without a location (the server derives it)."""
    n = unique("trino")
    q(trino_conn, f"CREATE SCHEMA {CAT}.{n}")
    return n


def spec_fields(md):
    spec = next(s for s in md["partition-specs"] if s["spec-id"] == md["default-spec-id"])
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    names = {f["id"]: f["name"] for f in schema["fields"]}
    return [(names.get(f["source-id"]), f["transform"]) for f in spec["fields"]]


def schema_names(md):
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    return [f["name"] for f in schema["fields"]]


def make_table(conn, ns, name, partitioned=False):
    """CREATE TABLE id bigint, category varchar, amount double (optionally by category), 6 rows.

    Trino's CREATE TABLE commits an empty append snapshot with the create, so the table has two
    snapshots afterwards: the empty one and the INSERT's."""
    t = f"{CAT}.{ns}.{name}"
    with_ = " WITH (partitioning = ARRAY['category'])" if partitioned else ""
    q(conn, f"CREATE TABLE {t} (id bigint, category varchar, amount double){with_}")
    assert q(conn, f"INSERT INTO {t} VALUES (1,'a',10.0),(2,'a',20.0),(3,'b',30.0),(4,'b',40.0),"
                   "(5,'c',50.0),(6,'c',60.0)") == [(6,)]
    return t


def ts(y, m, d, h=0, mi=0):
    return dt.datetime(y, m, d, h, mi)


# --- namespaces and tables


def test_create_schema_without_location(trino_conn, lakegate, ns):
    assert (ns,) in q(trino_conn, f"SHOW SCHEMAS FROM {CAT}")
    props = lakegate.call("GET", f"/iceberg/v1/namespaces/{ns}", expect=200).json()["properties"]
    assert props.get("location", "").rstrip("/").endswith("/" + ns), props


def test_create_partitioned_table_day(trino_conn, lakegate, ns):
    t = f"{CAT}.{ns}.part"
    q(trino_conn, f"CREATE TABLE {t} (id bigint, category varchar, ts timestamp(6), amount double) "
                  "WITH (partitioning = ARRAY['day(ts)'])")
    md = lakegate.load_table(ns, "part")["metadata"]
    assert schema_names(md) == ["id", "category", "ts", "amount"]
    assert spec_fields(md) == [("ts", "day")]
    nsloc = lakegate.call("GET", f"/iceberg/v1/namespaces/{ns}", expect=200).json()["properties"]["location"]
    assert md["location"].startswith(nsloc.rstrip("/") + "/part-"), (nsloc, md["location"])
    assert (("part",) in q(trino_conn, f"SHOW TABLES FROM {CAT}.{ns}"))


def test_insert_select(trino_conn, lakegate, ns):
    t = f"{CAT}.{ns}.ins"
    q(trino_conn, f"CREATE TABLE {t} (id bigint, category varchar, ts timestamp(6), amount double) "
                  "WITH (partitioning = ARRAY['day(ts)'])")
    assert q(trino_conn, f"INSERT INTO {t} VALUES "
                         "(1,'a',TIMESTAMP '2024-01-01 10:00:00',1.5),(2,'a',TIMESTAMP '2024-01-02 10:00:00',2.5),"
                         "(3,'b',TIMESTAMP '2024-01-01 11:00:00',3.5)") == [(3,)]
    assert q(trino_conn, f"SELECT id, category, ts, amount FROM {t} ORDER BY id") == [
        (1, "a", ts(2024, 1, 1, 10), 1.5), (2, "a", ts(2024, 1, 2, 10), 2.5), (3, "b", ts(2024, 1, 1, 11), 3.5)]
    assert q(trino_conn, f"SELECT category, count(*), sum(amount) FROM {t} GROUP BY category ORDER BY category") \
        == [("a", 2, 4.0), ("b", 1, 3.5)]
    snap = lakegate.current_snapshot(ns, "ins")
    assert snap["summary"]["operation"] == "append"
    assert snap["summary"]["added-records"] == "3"
    assert snap["summary"]["added-data-files"] == "2"  # two days
    assert q(trino_conn, f'SELECT count(*) FROM "{ns}"."ins$partitions"') == [(2,)]
    # Trino writes where the table's (server-given) location says, nowhere else.
    loc = lakegate.load_table(ns, "ins")["metadata"]["location"].rstrip("/")
    paths = [r[0] for r in q(trino_conn, f'SELECT file_path FROM "{ns}"."ins$files"')]
    assert len(paths) == 2 and all(p.startswith(loc + "/data/") for p in paths), (loc, paths)


def test_add_column(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "addcol")
    q(trino_conn, f"ALTER TABLE {t} ADD COLUMN note varchar")
    assert schema_names(lakegate.load_table(ns, "addcol")["metadata"]) == ["id", "category", "amount", "note"]
    q(trino_conn, f"INSERT INTO {t} VALUES (7,'d',70.0,'new')")
    assert q(trino_conn, f"SELECT id, note FROM {t} WHERE id IN (1, 7) ORDER BY id") == [(1, None), (7, "new")]


def test_update(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "upd")
    assert q(trino_conn, f"UPDATE {t} SET amount = amount + 1 WHERE category = 'b'") == [(2,)]
    assert q(trino_conn, f"SELECT id, amount FROM {t} ORDER BY id") == [
        (1, 10.0), (2, 20.0), (3, 31.0), (4, 41.0), (5, 50.0), (6, 60.0)]
    assert lakegate.current_snapshot(ns, "upd")["summary"]["operation"] in ("overwrite", "delete")


def test_delete(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "del")
    assert q(trino_conn, f"DELETE FROM {t} WHERE id IN (2, 5)") == [(2,)]
    assert q(trino_conn, f"SELECT id FROM {t} ORDER BY id") == [(1,), (3,), (4,), (6,)]
    snap = lakegate.current_snapshot(ns, "del")
    assert snap["summary"]["operation"] in ("overwrite", "delete")


def test_merge(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "mrg")
    n = q(trino_conn, f"MERGE INTO {t} t USING (VALUES (1, 'a', 11.0), (3, 'x', 0.0), (9, 'z', 90.0)) "
                      "AS s(id, category, amount) ON t.id = s.id "
                      "WHEN MATCHED AND s.category = 'x' THEN DELETE "
                      "WHEN MATCHED THEN UPDATE SET amount = s.amount "
                      "WHEN NOT MATCHED THEN INSERT (id, category, amount) VALUES (s.id, s.category, s.amount)")
    assert n == [(3,)]
    assert q(trino_conn, f"SELECT id, category, amount FROM {t} ORDER BY id") == [
        (1, "a", 11.0), (2, "a", 20.0), (4, "b", 40.0), (5, "c", 50.0), (6, "c", 60.0), (9, "z", 90.0)]


def test_snapshots_and_history(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "meta")
    q(trino_conn, f"INSERT INTO {t} VALUES (7,'d',70.0)")
    md = lakegate.load_table(ns, "meta")["metadata"]
    snaps = sorted(md["snapshots"], key=lambda s: s["sequence-number"])
    ids = [s["snapshot-id"] for s in snaps]
    # the create's empty snapshot, the 6 rows, the 1 row
    assert [s["summary"]["total-records"] for s in snaps] == ["0", "6", "7"]
    assert q(trino_conn, f'SELECT snapshot_id, parent_id, operation FROM "{ns}"."meta$snapshots" ORDER BY committed_at') \
        == [(ids[0], None, "append"), (ids[1], ids[0], "append"), (ids[2], ids[1], "append")]
    assert q(trino_conn, f'SELECT snapshot_id, parent_id, is_current_ancestor FROM "{ns}"."meta$history" ORDER BY made_current_at') \
        == [(ids[0], None, True), (ids[1], ids[0], True), (ids[2], ids[1], True)]
    assert scalar(trino_conn, f'SELECT count(*) FROM "{ns}"."meta$files"') == 2


def test_time_travel_version(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "ttv")
    first = lakegate.current_snapshot(ns, "ttv")["snapshot-id"]
    q(trino_conn, f"INSERT INTO {t} VALUES (7,'d',70.0)")
    assert scalar(trino_conn, f"SELECT count(*) FROM {t}") == 7
    assert scalar(trino_conn, f"SELECT count(*) FROM {t} FOR VERSION AS OF {first}") == 6


def test_time_travel_timestamp(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "ttt")
    first = lakegate.current_snapshot(ns, "ttt")
    q(trino_conn, f"INSERT INTO {t} VALUES (7,'d',70.0)")
    at = dt.datetime.fromtimestamp(first["timestamp-ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert scalar(trino_conn, f"SELECT count(*) FROM {t} FOR TIMESTAMP AS OF TIMESTAMP '{at} UTC'") == 6


def test_ctas(trino_conn, lakegate, ns):
    src = make_table(trino_conn, ns, "ctas_src")
    t = f"{CAT}.{ns}.ctas"
    assert q(trino_conn, f"CREATE TABLE {t} WITH (partitioning = ARRAY['category']) AS "
                         f"SELECT category, sum(amount) AS total FROM {src} GROUP BY category") == [(3,)]
    assert q(trino_conn, f"SELECT category, total FROM {t} ORDER BY category") == [("a", 30.0), ("b", 70.0), ("c", 110.0)]
    md = lakegate.load_table(ns, "ctas")["metadata"]
    assert schema_names(md) == ["category", "total"]
    assert spec_fields(md) == [("category", "identity")]
    assert lakegate.current_snapshot(ns, "ctas")["summary"]["added-records"] == "3"


def test_views(trino_conn, lakegate, ns):
    src = make_table(trino_conn, ns, "view_src")
    v = f"{CAT}.{ns}.big"
    q(trino_conn, f"CREATE VIEW {v} AS SELECT id, amount FROM {src} WHERE amount > 30")
    vmd = lakegate.call("GET", f"/iceberg/v1/namespaces/{ns}/views/big", expect=200).json()["metadata"]
    ver = next(x for x in vmd["versions"] if x["version-id"] == vmd["current-version-id"])
    assert [r["dialect"] for r in ver["representations"]] == ["trino"]
    assert [f["name"] for f in next(s for s in vmd["schemas"] if s["schema-id"] == ver["schema-id"])["fields"]] \
        == ["id", "amount"]
    assert q(trino_conn, f"SELECT id, amount FROM {v} ORDER BY id") == [(4, 40.0), (5, 50.0), (6, 60.0)]
    q(trino_conn, f"CREATE OR REPLACE VIEW {v} AS SELECT id FROM {src} WHERE amount > 50")
    assert q(trino_conn, f"SELECT id FROM {v} ORDER BY id") == [(6,)]
    q(trino_conn, f"DROP VIEW {v}")
    assert lakegate.view_status(ns, "big") == 404


def test_optimize(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "opt")
    for i in range(3):
        q(trino_conn, f"INSERT INTO {t} VALUES ({10 + i}, 'a', 1.0)")
    assert scalar(trino_conn, f'SELECT count(*) FROM "{ns}"."opt$files"') == 4
    q(trino_conn, f"ALTER TABLE {t} EXECUTE optimize")
    assert scalar(trino_conn, f'SELECT count(*) FROM "{ns}"."opt$files"') == 1
    assert scalar(trino_conn, f"SELECT count(*) FROM {t}") == 9
    assert lakegate.current_snapshot(ns, "opt")["summary"]["operation"] == "replace"


def test_expire_snapshots(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "exp")
    for i in range(2):
        q(trino_conn, f"INSERT INTO {t} VALUES ({10 + i}, 'a', 1.0)")
    assert len(lakegate.load_table(ns, "exp")["metadata"]["snapshots"]) == 4  # with the create's empty one
    expired = [file_path(s["manifest-list"]) for s in lakegate.load_table(ns, "exp")["metadata"]["snapshots"]][:-1]
    assert all(os.path.exists(p) for p in expired), expired
    q(trino_conn, f"ALTER TABLE {t} EXECUTE expire_snapshots(retention_threshold => '0s')")
    md = lakegate.load_table(ns, "exp")["metadata"]
    assert [s["snapshot-id"] for s in md["snapshots"]] == [md["current-snapshot-id"]]
    # Trino deletes the files only the expired snapshots used.
    assert [p for p in expired if os.path.exists(p)] == []
    assert scalar(trino_conn, f"SELECT count(*) FROM {t}") == 8


def test_remove_orphan_files(trino_conn, lakegate, data_dir, ns):
    t = make_table(trino_conn, ns, "orph")
    loc = file_path(lakegate.load_table(ns, "orph")["metadata"]["location"])
    assert loc and os.path.isdir(loc), loc
    orphan = os.path.join(loc, "data", "orphan-not-in-any-snapshot.parquet")
    os.makedirs(os.path.dirname(orphan), exist_ok=True)
    with open(orphan, "wb") as f:
        f.write(b"not referenced")
    old = dt.datetime.now().timestamp() - 3600
    os.utime(orphan, (old, old))
    q(trino_conn, f"ALTER TABLE {t} EXECUTE remove_orphan_files(retention_threshold => '0s')")
    assert not os.path.exists(orphan)
    assert scalar(trino_conn, f"SELECT count(*) FROM {t}") == 6


def test_drop_table(trino_conn, lakegate, ns):
    t = make_table(trino_conn, ns, "dropme")
    loc = file_path(lakegate.load_table(ns, "dropme")["metadata"]["location"])
    q(trino_conn, f"DROP TABLE {t}")
    assert lakegate.table_status(ns, "dropme") == 404
    assert ("dropme",) not in q(trino_conn, f"SHOW TABLES FROM {CAT}.{ns}")
    assert loc and not os.path.exists(loc), f"{loc} still holds {os.listdir(loc) if os.path.isdir(loc) else '?'}"


def test_drop_schema(trino_conn, lakegate):
    n = unique("trino_drop")
    q(trino_conn, f"CREATE SCHEMA {CAT}.{n}")
    q(trino_conn, f"CREATE TABLE {CAT}.{n}.t (id bigint)")
    q(trino_conn, f"DROP TABLE {CAT}.{n}.t")
    q(trino_conn, f"DROP SCHEMA {CAT}.{n}")
    assert lakegate.call("GET", f"/iceberg/v1/namespaces/{n}").status_code == 404


# --- governance: what a principal without grants, or with one table, can do through Trino


def denied(conn, sql):
    """The error of a query that must fail, with the messages of its causes (Trino wraps the
    REST client's ForbiddenException: "Failed to load view 'x'"; the 403's text is a cause)."""
    import trino

    with pytest.raises(trino.exceptions.TrinoQueryError) as e:
        q(conn, sql)
    msgs, fi = [e.value.message], e.value.failure_info
    while fi:
        msgs.append(f"{fi.get('type')}: {fi.get('message')}")
        fi = fi.get("cause")
    return " | ".join(msgs)


def test_nogrant_denied(trino_conn, ns):
    make_table(trino_conn, ns, "secret")
    msg = denied(trino_conn, f"SELECT count(*) FROM {NOGRANT}.{ns}.secret")
    assert "org.apache.iceberg.exceptions.ForbiddenException: Forbidden" in msg, msg[:2000]
    msg = denied(trino_conn, f"CREATE SCHEMA {NOGRANT}.{unique('nogrant')}")
    assert "org.apache.iceberg.exceptions.ForbiddenException: Forbidden" in msg, msg[:2000]
    assert (ns,) not in q(trino_conn, f"SHOW SCHEMAS FROM {NOGRANT}")


@pytest.fixture(scope="module")
def scoped_table(trino_conn, lakegate, ns, scoped_token):
    """A table on which subject engines-scoped holds table.* and nothing else."""
    make_table(trino_conn, ns, "scoped")
    lakegate.grant_table_and_wait("engines-scoped", scoped_token, ns, "scoped")
    return f"{ns}.scoped"


def test_table_grant_read(trino_conn, scoped_table):
    assert scalar(trino_conn, f"SELECT count(*) FROM {SCOPED}.{scoped_table}") == 6


def test_table_grant_metadata_table(trino_conn, scoped_table):
    ns, name = scoped_table.split(".")
    assert scalar(trino_conn, f'SELECT count(*) FROM {SCOPED}."{ns}"."{name}$snapshots"') == 2


def test_table_grant_write(trino_conn, scoped_table):
    assert q(trino_conn, f"INSERT INTO {SCOPED}.{scoped_table} VALUES (7, 'd', 70.0)") == [(1,)]
    assert q(trino_conn, f"DELETE FROM {SCOPED}.{scoped_table} WHERE id = 7") == [(1,)]
    assert scalar(trino_conn, f"SELECT count(*) FROM {CAT}.{scoped_table}") == 6


def test_table_grant_other_table_denied(trino_conn, scoped_table):
    ns = scoped_table.split(".")[0]
    make_table(trino_conn, ns, "notscoped")
    msg = denied(trino_conn, f"SELECT count(*) FROM {SCOPED}.{ns}.notscoped")
    assert "org.apache.iceberg.exceptions.ForbiddenException: Forbidden" in msg, msg[:2000]


# --- streaming ingest, read back by Trino


def test_streamed_dataset(trino_conn, lakegate):
    sns, name = unique("trino_stream"), "readings"
    lakegate.register_dataset(sns, name, [
        {"name": "id", "type": "long", "required": True},
        {"name": "sensor", "type": "string", "required": True},
        {"name": "ts", "type": "timestamptz", "required": True},
        {"name": "value", "type": "double"},
        {"name": "price", "type": "decimal(10,2)"},
        {"name": "day", "type": "date"},
        {"name": "ok", "type": "boolean"},
    ], partitioning=[{"field": "ts", "transform": "day"}])
    base = dt.datetime(2024, 3, 1, tzinfo=UTC)
    recs = [{"id": i, "sensor": f"s{i % 3}",
             "ts": (base + dt.timedelta(hours=7 * i)).isoformat(),
             "value": i * 0.5, "price": f"{i}.{i % 100:02d}", "day": f"2024-03-{1 + i % 28:02d}",
             "ok": i % 2 == 0} for i in range(100)]
    r1 = lakegate.ingest(sns, name, recs)
    assert (r1["accepted"], r1["rejected"]) == (100, 0)
    r2 = lakegate.ingest(sns, name, [{"id": 100, "sensor": "s9", "ts": "2024-04-01T00:00:00+02:00"},
                                     {"sensor": "s9"}])
    assert (r2["accepted"], r2["rejected"]) == (1, 1)
    t = f"{CAT}.{sns}.{name}"
    got = q(trino_conn, f"SELECT id, sensor, ts, value, price, day, ok FROM {t} ORDER BY id")
    want = [(i, f"s{i % 3}", base + dt.timedelta(hours=7 * i), i * 0.5, decimal.Decimal(f"{i}.{i % 100:02d}"),
             dt.date(2024, 3, 1 + i % 28), i % 2 == 0) for i in range(100)]
    want.append((100, "s9", dt.datetime(2024, 3, 31, 22, tzinfo=UTC), None, None, None, None))
    assert [(r[0], r[1], r[2].astimezone(UTC), *r[3:]) for r in got] == want
    assert scalar(trino_conn, f"SELECT count(*) FROM {t} FOR VERSION AS OF {r1['snapshot_id']}") == 100
