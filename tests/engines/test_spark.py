"""Spark 4.0 (local mode) with iceberg-spark-runtime 1.11.0 against lakegate's Iceberg REST catalog.

Issue #9's list, one test per step. Tables are created per test (plain CREATE TABLE, the
non-staged path) so that a failure points at one feature; what Spark did is checked through the
catalog's REST answer too (schema, spec, snapshot summary), not only through Spark.
"""

import datetime as dt
import os

import pytest

from conftest import env, file_path, unique

CAT = "lg"  # admin token
OAUTH = "lg_oauth"  # service client credential (OAuth2 client_credentials)
NOGRANT = "lg_nogrant"  # principal without any grant
SCOPED = "lg_scoped"  # subject engines-scoped, granted table.* on single tables by the tests


@pytest.fixture(scope="module")
def ns():
    return unique("spark")


@pytest.fixture(scope="module")
def service_client(lakegate):
    return lakegate.create_service_client(unique("spark-engines"), ["admin"])


@pytest.fixture(scope="module")
def spark(lakegate, nogrant_token, scoped_token, service_client, ns):
    from pyspark.sql import SparkSession

    jar = env("LAKEGATE_ICEBERG_SPARK_JAR")
    cid, secret = service_client
    b = (SparkSession.builder.master("local[2]").appName("lakegate-engines")
         .config("spark.jars", jar)
         .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.driver.memory", "1g")
         .config("spark.sql.session.timeZone", "UTC"))
    common = {"type": "rest", "uri": lakegate.catalog_uri, "cache-enabled": "false"}
    catalogs = {
        CAT: {**common, "token": lakegate.token},
        OAUTH: {**common, "credential": f"{cid}:{secret}",
                "oauth2-server-uri": lakegate.catalog_uri + "/v1/oauth/tokens"},
        NOGRANT: {**common, "token": nogrant_token},
        SCOPED: {**common, "token": scoped_token},
    }
    for name, props in catalogs.items():
        b = b.config(f"spark.sql.catalog.{name}", "org.apache.iceberg.spark.SparkCatalog")
        for k, v in props.items():
            b = b.config(f"spark.sql.catalog.{name}.{k}", v)
    s = b.getOrCreate()
    s.sparkContext.setLogLevel("ERROR")
    # The namespace every other test works in; test_create_namespace checks it.
    s.sql(f"CREATE NAMESPACE IF NOT EXISTS {CAT}.{ns}")
    yield s
    s.stop()


def rows(spark, sql):
    return [tuple(r) for r in spark.sql(sql).collect()]


def scalar(spark, sql):
    return spark.sql(sql).collect()[0][0]


def make_table(spark, ns, name, props=None, partitioned_by=None):
    """CREATE TABLE (non-staged) id bigint, category string, amount double, and 6 rows."""
    t = f"{CAT}.{ns}.{name}"
    tbl = ""
    if props:
        tbl = " TBLPROPERTIES (" + ", ".join(f"'{k}'='{v}'" for k, v in props.items()) + ")"
    part = f" PARTITIONED BY ({partitioned_by})" if partitioned_by else ""
    spark.sql(f"CREATE TABLE {t} (id bigint, category string, amount double) USING iceberg{part}{tbl}")
    spark.sql(f"INSERT INTO {t} VALUES (1,'a',10.0),(2,'a',20.0),(3,'b',30.0),(4,'b',40.0),(5,'c',50.0),(6,'c',60.0)")
    return t


def spec_fields(md):
    spec = next(s for s in md["partition-specs"] if s["spec-id"] == md["default-spec-id"])
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    names = {f["id"]: f["name"] for f in schema["fields"]}
    return [(names.get(f["source-id"]), f["transform"]) for f in spec["fields"]]


def schema_names(md):
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    return [f["name"] for f in schema["fields"]]


# --- namespaces and tables


def test_create_namespace(spark, lakegate):
    n = unique("spark_ns")
    spark.sql(f"CREATE NAMESPACE {CAT}.{n}")
    assert (n,) in rows(spark, f"SHOW NAMESPACES IN {CAT}")
    assert lakegate.call("GET", f"/iceberg/v1/namespaces/{n}").status_code == 200
    spark.sql(f"DROP NAMESPACE {CAT}.{n}")
    assert lakegate.call("GET", f"/iceberg/v1/namespaces/{n}").status_code == 404


def test_create_partitioned_table(spark, lakegate, ns):
    spark.sql(f"CREATE TABLE {CAT}.{ns}.part (id bigint, category string, ts timestamp, amount double) "
              "USING iceberg PARTITIONED BY (category, days(ts))")
    md = lakegate.load_table(ns, "part")["metadata"]
    assert schema_names(md) == ["id", "category", "ts", "amount"]
    assert spec_fields(md) == [("category", "identity"), ("ts", "day")]
    spark.sql(f"INSERT INTO {CAT}.{ns}.part VALUES "
              "(1,'a',TIMESTAMP'2024-01-01 10:00:00',1.5),(2,'a',TIMESTAMP'2024-01-02 10:00:00',2.5),"
              "(3,'b',TIMESTAMP'2024-01-01 11:00:00',3.5)")
    assert rows(spark, f"SELECT category, count(*), sum(amount) FROM {CAT}.{ns}.part GROUP BY category ORDER BY category") \
        == [("a", 2, 4.0), ("b", 1, 3.5)]
    assert lakegate.current_snapshot(ns, "part")["summary"]["changed-partition-count"] == "3"


def test_insert_select(spark, lakegate, ns):
    t = make_table(spark, ns, "ins")
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0)")
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 7
    assert scalar(spark, f"SELECT sum(amount) FROM {t}") == 280.0
    assert rows(spark, f"SELECT id, category FROM {t} WHERE amount > 45 ORDER BY id") == [(5, "c"), (6, "c"), (7, "d")]
    assert lakegate.current_snapshot(ns, "ins")["summary"]["total-records"] == "7"


def assert_no_placeholder(md):
    """A table made by one staged create has exactly the schema and spec the client sent, and
    its first snapshot names that schema (not an empty placeholder schema 0)."""
    assert [s["schema-id"] for s in md["schemas"]] == [md["current-schema-id"]], \
        f"schemas {[(s['schema-id'], [f['name'] for f in s['fields']]) for s in md['schemas']]}, current {md['current-schema-id']}"
    assert [s["spec-id"] for s in md["partition-specs"]] == [md["default-spec-id"]], \
        f"specs {md['partition-specs']}, default {md['default-spec-id']}"
    for snap in md.get("snapshots", []):
        assert snap.get("schema-id") == md["current-schema-id"], \
            f"snapshot {snap['snapshot-id']} names schema {snap.get('schema-id')}, current is {md['current-schema-id']}"


def test_ctas_partitioned(spark, lakegate, ns):
    # CTAS is a staged create in Spark: POST tables with stage-create, then a commit with
    # assert-create carrying the schema, spec and the first snapshot.
    spark.sql(f"CREATE TABLE {CAT}.{ns}.ctas USING iceberg PARTITIONED BY (category) AS "
              "SELECT * FROM VALUES (1L,'a',1.0D),(2L,'a',2.0D),(3L,'b',3.0D) AS t(id, category, amount)")
    assert rows(spark, f"SELECT category, count(*) FROM {CAT}.{ns}.ctas GROUP BY category ORDER BY category") \
        == [("a", 2), ("b", 1)]
    assert rows(spark, f"SELECT id FROM {CAT}.{ns}.ctas WHERE category = 'b'") == [(3,)]
    md = lakegate.load_table(ns, "ctas")["metadata"]
    assert schema_names(md) == ["id", "category", "amount"]
    assert spec_fields(md) == [("category", "identity")]
    assert_no_placeholder(md)


def test_ctas_unpartitioned(spark, lakegate, ns):
    spark.sql(f"CREATE TABLE {CAT}.{ns}.ctas_plain USING iceberg AS "
              "SELECT * FROM VALUES (1L,'a'),(2L,'b') AS t(id, category)")
    assert scalar(spark, f"SELECT count(*) FROM {CAT}.{ns}.ctas_plain") == 2
    md = lakegate.load_table(ns, "ctas_plain")["metadata"]
    assert schema_names(md) == ["id", "category"]
    assert_no_placeholder(md)


def test_ctas_then_insert(spark, lakegate, ns):
    # What engines do next with a CTAS table: append with the table's own spec, read back.
    spark.sql(f"CREATE TABLE {CAT}.{ns}.ctas_next USING iceberg PARTITIONED BY (category) AS "
              "SELECT * FROM VALUES (1L,'a'),(2L,'b') AS t(id, category)")
    spark.sql(f"INSERT INTO {CAT}.{ns}.ctas_next VALUES (3, 'b'), (4, 'c')")
    assert rows(spark, f"SELECT category, count(*) FROM {CAT}.{ns}.ctas_next GROUP BY category ORDER BY category") \
        == [("a", 1), ("b", 2), ("c", 1)]
    assert rows(spark, f"SELECT id FROM {CAT}.{ns}.ctas_next WHERE category = 'b' ORDER BY id") == [(2,), (3,)]


def test_ctas_time_travel_first_snapshot(spark, lakegate, ns):
    # Time travel reads a snapshot with the schema the snapshot names.
    spark.sql(f"CREATE TABLE {CAT}.{ns}.ctas_tt USING iceberg AS "
              "SELECT * FROM VALUES (1L,'a'),(2L,'b') AS t(id, category)")
    first = lakegate.current_snapshot(ns, "ctas_tt")["snapshot-id"]
    spark.sql(f"INSERT INTO {CAT}.{ns}.ctas_tt VALUES (3, 'c')")
    assert rows(spark, f"SELECT * FROM {CAT}.{ns}.ctas_tt VERSION AS OF {first} ORDER BY id") == [(1, "a"), (2, "b")]


def test_ctas_partitions_metadata(spark, lakegate, ns):
    # The data files a partitioned CTAS wrote carry the spec id the client knew (0): the
    # table's partition metadata must agree.
    spark.sql(f"CREATE TABLE {CAT}.{ns}.ctas_parts USING iceberg PARTITIONED BY (category) AS "
              "SELECT * FROM VALUES (1L,'a'),(2L,'b'),(3L,'b') AS t(id, category)")
    assert rows(spark, f"SELECT partition.category, record_count FROM {CAT}.{ns}.ctas_parts.partitions ORDER BY 1") \
        == [("a", 1), ("b", 2)]
    spec_id = lakegate.load_table(ns, "ctas_parts")["metadata"]["default-spec-id"]
    assert rows(spark, f"SELECT DISTINCT spec_id FROM {CAT}.{ns}.ctas_parts.files") == [(spec_id,)]


def test_rtas_partitioned(spark, lakegate, ns):
    # REPLACE TABLE … AS SELECT on an existing table: a staged replace (assert-table-uuid).
    t = make_table(spark, ns, "rtas")
    spark.sql(f"REPLACE TABLE {t} USING iceberg PARTITIONED BY (bucket(4, id)) AS "
              "SELECT * FROM VALUES (10L,'x',1.0D),(11L,'y',2.0D) AS t(id, category, amount)")
    md = lakegate.load_table(ns, "rtas")["metadata"]
    assert spec_fields(md) == [("id", "bucket[4]")]
    assert rows(spark, f"SELECT id, category FROM {t} ORDER BY id") == [(10, "x"), (11, "y")]


def test_create_or_replace_as_select_new(spark, lakegate, ns):
    # CREATE OR REPLACE TABLE … AS SELECT on a missing table: a staged create-or-replace.
    spark.sql(f"CREATE OR REPLACE TABLE {CAT}.{ns}.cortas USING iceberg PARTITIONED BY (category) AS "
              "SELECT * FROM VALUES (1L,'a'),(2L,'b'),(3L,'b') AS t(id, category)")
    assert rows(spark, f"SELECT category, count(*) FROM {CAT}.{ns}.cortas GROUP BY category ORDER BY category") \
        == [("a", 1), ("b", 2)]
    md = lakegate.load_table(ns, "cortas")["metadata"]
    assert spec_fields(md) == [("category", "identity")]
    assert_no_placeholder(md)


def test_alter_add_column(spark, lakegate, ns):
    t = make_table(spark, ns, "alter")
    spark.sql(f"ALTER TABLE {t} ADD COLUMN note string")
    assert schema_names(lakegate.load_table(ns, "alter")["metadata"]) == ["id", "category", "amount", "note"]
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0,'hello')")
    assert rows(spark, f"SELECT id, note FROM {t} WHERE note IS NOT NULL") == [(7, "hello")]
    assert scalar(spark, f"SELECT count(*) FROM {t} WHERE note IS NULL") == 6


# --- row-level operations, copy-on-write and merge-on-read

MODES = ["copy-on-write", "merge-on-read"]


def dml_table(spark, ns, op, mode):
    name = f"{op}_{mode.replace('-', '_')}"
    return name, make_table(spark, ns, name, props={
        "format-version": "2", "write.delete.mode": mode, "write.update.mode": mode, "write.merge.mode": mode})


def assert_delete_files(lakegate, ns, name, mode):
    summary = lakegate.current_snapshot(ns, name)["summary"]
    deletes = int(summary.get("total-delete-files", "0"))
    if mode == "merge-on-read":
        assert deletes > 0, f"merge-on-read wrote no delete file: {summary}"
    else:
        assert deletes == 0, f"copy-on-write wrote delete files: {summary}"


@pytest.mark.parametrize("mode", MODES)
def test_delete(spark, lakegate, ns, mode):
    name, t = dml_table(spark, ns, "del", mode)
    spark.sql(f"DELETE FROM {t} WHERE id IN (1, 3)")
    assert rows(spark, f"SELECT id FROM {t} ORDER BY id") == [(2,), (4,), (5,), (6,)]
    assert_delete_files(lakegate, ns, name, mode)


@pytest.mark.parametrize("mode", MODES)
def test_update(spark, lakegate, ns, mode):
    name, t = dml_table(spark, ns, "upd", mode)
    spark.sql(f"UPDATE {t} SET amount = amount + 1000 WHERE category = 'b'")
    assert rows(spark, f"SELECT id, amount FROM {t} WHERE amount > 100 ORDER BY id") == [(3, 1030.0), (4, 1040.0)]
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 6
    assert_delete_files(lakegate, ns, name, mode)


@pytest.mark.parametrize("mode", MODES)
def test_merge(spark, lakegate, ns, mode):
    name, t = dml_table(spark, ns, "mrg", mode)
    spark.sql(f"""MERGE INTO {t} t
        USING (SELECT * FROM VALUES (2L,'a',-2.0D),(5L,'c',-5.0D),(9L,'z',90.0D) AS s(id, category, amount)) s
        ON t.id = s.id
        WHEN MATCHED AND s.id = 5 THEN DELETE
        WHEN MATCHED THEN UPDATE SET t.amount = s.amount
        WHEN NOT MATCHED THEN INSERT *""")
    assert rows(spark, f"SELECT id, amount FROM {t} ORDER BY id") == \
        [(1, 10.0), (2, -2.0), (3, 30.0), (4, 40.0), (6, 60.0), (9, 90.0)]
    assert_delete_files(lakegate, ns, name, mode)


# --- metadata tables


@pytest.fixture(scope="module")
def meta(spark, ns):
    """A table partitioned by category with two appends: 6 rows in 3 partitions, then 1 row in 'd'."""
    t = make_table(spark, ns, "meta", partitioned_by="category")
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0)")
    return t


def test_meta_snapshots(spark, lakegate, ns, meta):
    got = rows(spark, f"SELECT snapshot_id, operation FROM {meta}.snapshots ORDER BY committed_at")
    want = [(s["snapshot-id"], s["summary"]["operation"]) for s in lakegate.load_table(ns, "meta")["metadata"]["snapshots"]]
    assert len(got) == 2
    assert got == want
    assert [op for _, op in got] == ["append", "append"]


def test_meta_history(spark, lakegate, ns, meta):
    md = lakegate.load_table(ns, "meta")["metadata"]
    got = rows(spark, f"SELECT snapshot_id, is_current_ancestor FROM {meta}.history ORDER BY made_current_at")
    assert got == [(e["snapshot-id"], True) for e in md["snapshot-log"]]
    assert len(got) == 2


def test_meta_files(spark, lakegate, ns, meta):
    summary = lakegate.current_snapshot(ns, "meta")["summary"]
    got = rows(spark, f"SELECT partition.category, sum(record_count), count(*) FROM {meta}.files "
                      "GROUP BY partition.category ORDER BY 1")
    assert [(c, n) for c, n, _ in got] == [("a", 2), ("b", 2), ("c", 2), ("d", 1)]
    assert sum(f for _, _, f in got) == int(summary["total-data-files"])


def test_meta_manifests(spark, lakegate, ns, meta):
    summary = lakegate.current_snapshot(ns, "meta")["summary"]
    got = rows(spark, f"SELECT added_data_files_count + existing_data_files_count FROM {meta}.manifests")
    assert len(got) >= 1
    assert sum(n for (n,) in got) == int(summary["total-data-files"])


def test_meta_partitions(spark, meta):
    assert rows(spark, f"SELECT partition.category, record_count FROM {meta}.partitions ORDER BY 1") == \
        [("a", 2), ("b", 2), ("c", 2), ("d", 1)]


def test_meta_refs(spark, lakegate, ns, meta):
    md = lakegate.load_table(ns, "meta")["metadata"]
    assert rows(spark, f"SELECT name, type, snapshot_id FROM {meta}.refs") == \
        [("main", "BRANCH", md["current-snapshot-id"])]


# --- branches, tags, time travel


def test_branch_create_and_read(spark, lakegate, ns):
    t = make_table(spark, ns, "br_read")
    spark.sql(f"ALTER TABLE {t} CREATE BRANCH audit_b")
    refs = lakegate.load_table(ns, "br_read")["metadata"]["refs"]
    assert refs["audit_b"]["type"] == "branch"
    assert refs["audit_b"]["snapshot-id"] == refs["main"]["snapshot-id"]
    assert scalar(spark, f"SELECT count(*) FROM {t} VERSION AS OF 'audit_b'") == 6


def test_branch_insert_identifier(spark, lakegate, ns):
    # INSERT INTO <table>.branch_<name>: Spark resolves the identifier db.t.branch_x first as a
    # table named branch_x in namespace db.t, then as a branch of db.t.
    t = make_table(spark, ns, "br_ins")
    spark.sql(f"ALTER TABLE {t} CREATE BRANCH b1")
    spark.sql(f"INSERT INTO {t}.branch_b1 VALUES (7,'d',70.0),(8,'d',80.0)")
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 6
    assert scalar(spark, f"SELECT count(*) FROM {t} VERSION AS OF 'b1'") == 8
    refs = lakegate.load_table(ns, "br_ins")["metadata"]["refs"]
    assert refs["b1"]["snapshot-id"] != refs["main"]["snapshot-id"]


def test_branch_read_identifier(spark, ns):
    t = make_table(spark, ns, "br_ident")
    spark.sql(f"ALTER TABLE {t} CREATE BRANCH b2")
    spark.sql(f"DELETE FROM {t} WHERE id = 1")
    assert scalar(spark, f"SELECT count(*) FROM {t}.branch_b2") == 6
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 5


def test_tag(spark, lakegate, ns):
    t = make_table(spark, ns, "tagged")
    spark.sql(f"ALTER TABLE {t} CREATE TAG v1")
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0)")
    refs = lakegate.load_table(ns, "tagged")["metadata"]["refs"]
    assert refs["v1"]["type"] == "tag"
    assert scalar(spark, f"SELECT count(*) FROM {t} VERSION AS OF 'v1'") == 6
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 7


def test_time_travel_snapshot_id(spark, lakegate, ns):
    t = make_table(spark, ns, "tt_id")
    first = lakegate.current_snapshot(ns, "tt_id")["snapshot-id"]
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0)")
    assert scalar(spark, f"SELECT count(*) FROM {t} VERSION AS OF {first}") == 6
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 7


def test_time_travel_timestamp(spark, lakegate, ns):
    t = make_table(spark, ns, "tt_ts")
    first = lakegate.current_snapshot(ns, "tt_ts")
    spark.sql(f"INSERT INTO {t} VALUES (7,'d',70.0)")
    at = dt.datetime.fromtimestamp(first["timestamp-ms"] / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    assert scalar(spark, f"SELECT count(*) FROM {t} TIMESTAMP AS OF '{at}'") == 6


# --- system procedures


def single_row_appends(spark, ns, name, n=3):
    t = f"{CAT}.{ns}.{name}"
    spark.sql(f"CREATE TABLE {t} (id bigint, category string) USING iceberg")
    for i in range(n):
        spark.sql(f"INSERT INTO {t} VALUES ({i}, 'x')")
    return t


def test_rewrite_data_files(spark, lakegate, ns):
    t = single_row_appends(spark, ns, "rw_data")
    before = int(lakegate.current_snapshot(ns, "rw_data")["summary"]["total-data-files"])
    r = spark.sql(f"CALL {CAT}.system.rewrite_data_files(table => '{ns}.rw_data', "
                  "options => map('min-input-files', '2'))").collect()[0]
    assert (r["rewritten_data_files_count"], r["added_data_files_count"]) == (before, 1)
    snap = lakegate.current_snapshot(ns, "rw_data")
    assert snap["summary"]["operation"] == "replace"
    assert snap["summary"]["total-data-files"] == "1"
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 3


def test_rewrite_manifests(spark, lakegate, ns):
    t = single_row_appends(spark, ns, "rw_man")
    r = spark.sql(f"CALL {CAT}.system.rewrite_manifests('{ns}.rw_man')").collect()[0]
    assert (r["rewritten_manifests_count"], r["added_manifests_count"]) == (3, 1)
    assert lakegate.current_snapshot(ns, "rw_man")["summary"]["operation"] == "replace"
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 3


def test_expire_snapshots(spark, lakegate, ns):
    t = single_row_appends(spark, ns, "expire")
    assert len(lakegate.load_table(ns, "expire")["metadata"]["snapshots"]) == 3
    now = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)
    r = spark.sql(f"CALL {CAT}.system.expire_snapshots(table => '{ns}.expire', "
                  f"older_than => TIMESTAMP '{now:%Y-%m-%d %H:%M:%S}', retain_last => 1)").collect()[0]
    # Appends only: expiring the two older snapshots deletes their manifest lists, no data file.
    assert r["deleted_data_files_count"] == 0
    assert r["deleted_manifest_lists_count"] == 2
    assert len(lakegate.load_table(ns, "expire")["metadata"]["snapshots"]) == 1
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 3


# --- views


def test_view(spark, lakegate, ns):
    t = make_table(spark, ns, "view_base")
    spark.sql(f"CREATE VIEW {CAT}.{ns}.big AS SELECT id, amount FROM {t} WHERE amount >= 40")
    assert lakegate.view_status(ns, "big") == 200
    assert [r["viewName"] for r in spark.sql(f"SHOW VIEWS IN {CAT}.{ns}").collect()] == ["big"]
    assert rows(spark, f"SELECT id FROM {CAT}.{ns}.big ORDER BY id") == [(4,), (5,), (6,)]
    spark.sql(f"DROP VIEW {CAT}.{ns}.big")
    assert lakegate.view_status(ns, "big") == 404


# --- drop with purge


def test_drop_purge(spark, lakegate, ns, data_dir):
    make_table(spark, ns, "purged")
    loc = lakegate.load_table(ns, "purged")["metadata"]["location"]
    path = file_path(loc)
    if path is not None:
        assert os.path.isdir(path), f"table location {path} missing before the purge"
    spark.sql(f"DROP TABLE {CAT}.{ns}.purged PURGE")
    assert lakegate.table_status(ns, "purged") == 404
    if path is not None:
        leftover = [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs] if os.path.exists(path) else []
        assert leftover == [], f"files left after DROP … PURGE: {leftover[:5]}"


# --- authentication and authorization


def test_oauth2_credential(spark, lakegate, ns, service_client):
    t = make_table(spark, ns, "oauth")
    assert (ns,) in rows(spark, f"SHOW NAMESPACES IN {OAUTH}")
    assert scalar(spark, f"SELECT count(*) FROM {OAUTH}.{ns}.oauth") == 6
    spark.sql(f"INSERT INTO {OAUTH}.{ns}.oauth VALUES (7,'d',70.0)")
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 7
    cid, _ = service_client
    actions = {a["action"] for a in lakegate.audit(principal=cid)["entries"]}
    assert "table.commit" in actions, f"the service client's commit is not in the audit log: {actions}"


def test_nogrant_denied(spark, lakegate, ns):
    make_table(spark, ns, "secret")
    with pytest.raises(Exception) as e:
        spark.sql(f"SELECT count(*) FROM {NOGRANT}.{ns}.secret").collect()
    msg = str(e.value)
    assert "ForbiddenException" in msg or "NotAuthorized" in msg, msg[:2000]
    with pytest.raises(Exception) as e:
        spark.sql(f"CREATE NAMESPACE {NOGRANT}.{unique('nogrant')}")
    msg = str(e.value)
    assert "ForbiddenException" in msg or "NotAuthorized" in msg, msg[:2000]
    # Lists show only what the caller may read.
    assert (ns,) not in rows(spark, f"SHOW NAMESPACES IN {NOGRANT}")


@pytest.fixture(scope="module")
def scoped_table(spark, lakegate, ns, scoped_token):
    """A table on which subject engines-scoped holds table.* and nothing else."""
    make_table(spark, ns, "scoped")
    lakegate.grant_table_and_wait("engines-scoped", scoped_token, ns, "scoped")
    return f"{ns}.scoped"


def test_table_grant_read(spark, scoped_table):
    assert scalar(spark, f"SELECT count(*) FROM {SCOPED}.{scoped_table}") == 6


def test_table_grant_metadata_table(spark, scoped_table):
    # Spark first tries <ns>.scoped as a namespace holding a table "snapshots"; a principal
    # granted the table alone must still reach its metadata tables.
    assert scalar(spark, f"SELECT count(*) FROM {SCOPED}.{scoped_table}.snapshots") == 1


def test_table_grant_branch_identifier(spark, scoped_table):
    spark.sql(f"ALTER TABLE {CAT}.{scoped_table} CREATE BRANCH IF NOT EXISTS sb")
    assert scalar(spark, f"SELECT count(*) FROM {SCOPED}.{scoped_table}.branch_sb") == 6


# --- streaming ingest read back


def test_streamed_dataset(spark, lakegate):
    sns, name, r1, _ = lakegate.stream_readings("spark_stream")
    t = f"{CAT}.{sns}.{name}"
    assert scalar(spark, f"SELECT count(*) FROM {t}") == 150
    assert scalar(spark, f"SELECT count(DISTINCT id) FROM {t}") == 150
    assert scalar(spark, f"SELECT sum(value) FROM {t}") == sum(i * 0.5 for i in range(100)) + 50.0
    assert rows(spark, f"SELECT sensor, count(*) FROM {t} GROUP BY sensor ORDER BY sensor") == \
        [("s0", 34), ("s1", 33), ("s2", 33), ("s9", 50)]
    assert scalar(spark, f"SELECT count(*) FROM {t} VERSION AS OF {r1['snapshot_id']}") == 100
