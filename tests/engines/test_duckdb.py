"""DuckDB 1.5 with its iceberg extension (from pip packages, loaded offline) against lakegate.

Issue #9's list, one test per step. The DML steps run on tables that lakegate's REST API
creates (a plain createTable), so that INSERT/UPDATE/DELETE are tested whether or not DuckDB's
own CREATE TABLE (a staged create) works; test_create_table checks that one on its own.
"""

import importlib
import pathlib
import tempfile

import pytest

from conftest import unique

CAT = "lg"
NOGRANT = "lg_nogrant"
NOSTAGE = "lg_nostage"  # admin token, STAGE_CREATE_TABLES false: DuckDB's non-staged CREATE TABLE

FIELDS = [("id", "long", False), ("name", "string", False), ("amount", "double", False)]


def extension_file(name):
    mod = importlib.import_module("duckdb_extension_" + name)
    return next(pathlib.Path(mod.__file__).parent.glob("extensions/*/*.duckdb_extension"))


def connect():
    """A DuckDB connection whose extensions come from the pip packages: installed from their
    files into a private extension directory, autoinstall off, so nothing is downloaded."""
    import duckdb

    ext_dir = tempfile.mkdtemp(prefix="duckdb-ext-")
    con = duckdb.connect(config={"extension_directory": ext_dir, "autoinstall_known_extensions": False})
    for name in ("avro", "httpfs", "iceberg"):
        con.execute(f"INSTALL '{extension_file(name)}'")
    con.execute("LOAD httpfs")
    con.execute("LOAD iceberg")
    return con


def attach(con, alias, uri, token, **options):
    con.execute(f"CREATE SECRET {alias}_secret (TYPE iceberg, TOKEN '{token}')")
    opts = "".join(f", {k} {v}" for k, v in options.items())
    con.execute(f"ATTACH 'lakegate' AS {alias} (TYPE iceberg, SECRET {alias}_secret, ENDPOINT '{uri}', "
                f"ACCESS_DELEGATION_MODE 'none'{opts})")


@pytest.fixture(scope="module")
def ns(lakegate):
    n = unique("duck")
    lakegate.create_namespace(n)
    return n


@pytest.fixture(scope="module")
def duck(lakegate, nogrant_token, ns):
    con = connect()
    attach(con, CAT, lakegate.catalog_uri, lakegate.token)
    attach(con, NOGRANT, lakegate.catalog_uri, nogrant_token)
    attach(con, NOSTAGE, lakegate.catalog_uri, lakegate.token, STAGE_CREATE_TABLES="false")
    yield con
    con.close()


def q(con, sql):
    return con.execute(sql).fetchall()


def rest_table(lakegate, ns, name, rows=None, con=None):
    """A table created through lakegate's REST createTable, optionally filled by DuckDB."""
    lakegate.create_table(ns, name, FIELDS)
    if rows:
        values = ",".join(f"({i}, '{n}', {a})" for i, n, a in rows)
        con.execute(f"INSERT INTO {CAT}.{ns}.{name} VALUES {values}")
    return f"{CAT}.{ns}.{name}"


ROWS = [(1, "a", 10.0), (2, "b", 20.0), (3, "c", 30.0), (4, "d", 40.0), (5, "e", 50.0)]


def test_attach_with_token(duck, ns):
    # The namespace made through REST is a schema of the attached catalog.
    schemas = [r[0] for r in q(duck, f"SELECT schema_name FROM duckdb_schemas() WHERE database_name = '{CAT}'")]
    assert ns in schemas


def test_create_schema(duck, lakegate):
    n = unique("duck_schema")
    duck.execute(f"CREATE SCHEMA {CAT}.{n}")
    assert lakegate.call("GET", f"/iceberg/v1/namespaces/{n}").status_code == 200


def test_create_table(duck, lakegate, ns):
    # DuckDB creates tables with a staged create (stage-create, then a commit with assert-create).
    duck.execute(f"CREATE TABLE {CAT}.{ns}.created (id BIGINT, name VARCHAR)")
    md = lakegate.load_table(ns, "created")["metadata"]
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    assert [f["name"] for f in schema["fields"]] == ["id", "name"]
    assert [s["schema-id"] for s in md["schemas"]] == [md["current-schema-id"]], "one schema, no placeholder"
    duck.execute(f"INSERT INTO {CAT}.{ns}.created VALUES (1, 'x'), (2, 'y')")
    assert q(duck, f"SELECT id, name FROM {CAT}.{ns}.created ORDER BY id") == [(1, "x"), (2, "y")]


def test_create_table_unstaged(duck, lakegate, ns):
    # The same through a plain createTable (STAGE_CREATE_TABLES false), then DuckDB's follow-up
    # metadata commit.
    duck.execute(f"CREATE TABLE {NOSTAGE}.{ns}.created_plain (id BIGINT, name VARCHAR)")
    md = lakegate.load_table(ns, "created_plain")["metadata"]
    schema = next(s for s in md["schemas"] if s["schema-id"] == md["current-schema-id"])
    assert [f["name"] for f in schema["fields"]] == ["id", "name"]
    duck.execute(f"INSERT INTO {NOSTAGE}.{ns}.created_plain VALUES (1, 'x'), (2, 'y')")
    assert q(duck, f"SELECT id, name FROM {NOSTAGE}.{ns}.created_plain ORDER BY id") == [(1, "x"), (2, "y")]


def test_create_table_as_select_unstaged(duck, lakegate, ns):
    duck.execute(f"CREATE TABLE {NOSTAGE}.{ns}.ctas_plain AS SELECT range AS id, 'r' || range AS name FROM range(4)")
    assert q(duck, f"SELECT count(*), sum(id) FROM {NOSTAGE}.{ns}.ctas_plain") == [(4, 6)]
    assert lakegate.current_snapshot(ns, "ctas_plain")["summary"]["total-records"] == "4"


def test_create_table_as_select(duck, lakegate, ns):
    duck.execute(f"CREATE TABLE {CAT}.{ns}.ctas AS SELECT range AS id, 'r' || range AS name FROM range(4)")
    assert q(duck, f"SELECT count(*), sum(id) FROM {CAT}.{ns}.ctas") == [(4, 6)]
    assert lakegate.current_snapshot(ns, "ctas")["summary"]["total-records"] == "4"


def test_insert_select(duck, lakegate, ns):
    t = rest_table(lakegate, ns, "ins", ROWS, duck)
    duck.execute(f"INSERT INTO {t} VALUES (6, 'f', 60.0)")
    assert q(duck, f"SELECT count(*), sum(amount) FROM {t}") == [(6, 210.0)]
    assert q(duck, f"SELECT id, name FROM {t} WHERE amount > 45 ORDER BY id") == [(5, "e"), (6, "f")]
    assert lakegate.current_snapshot(ns, "ins")["summary"]["total-records"] == "6"


def test_update(duck, lakegate, ns):
    t = rest_table(lakegate, ns, "upd", ROWS, duck)
    duck.execute(f"UPDATE {t} SET amount = amount + 1000 WHERE id IN (2, 4)")
    assert q(duck, f"SELECT id, amount FROM {t} ORDER BY id") == \
        [(1, 10.0), (2, 1020.0), (3, 30.0), (4, 1040.0), (5, 50.0)]
    assert lakegate.current_snapshot(ns, "upd")["summary"]["total-records"] is not None


def test_delete(duck, lakegate, ns):
    t = rest_table(lakegate, ns, "del", ROWS, duck)
    duck.execute(f"DELETE FROM {t} WHERE id IN (1, 5)")
    assert q(duck, f"SELECT id FROM {t} ORDER BY id") == [(2,), (3,), (4,)]
    assert q(duck, f"SELECT count(*) FROM {t}") == [(3,)]


def test_read_streamed_dataset(duck, lakegate):
    sns, name, _, _ = lakegate.stream_readings("duck_stream")
    t = f"{CAT}.{sns}.{name}"
    assert q(duck, f"SELECT count(*), count(DISTINCT id), sum(value) FROM {t}") == \
        [(150, 150, sum(i * 0.5 for i in range(100)) + 50.0)]
    assert q(duck, f"SELECT sensor, count(*) FROM {t} GROUP BY sensor ORDER BY sensor") == \
        [("s0", 34), ("s1", 33), ("s2", 33), ("s9", 50)]


def test_nogrant_denied(duck, lakegate, ns, nogrant_token):
    t = rest_table(lakegate, ns, "secret", ROWS, duck)
    with pytest.raises(Exception) as e:
        q(duck, f"SELECT count(*) FROM {NOGRANT}.{ns}.secret")
    msg = str(e.value)
    assert "403" in msg or "Forbidden" in msg or "does not exist" in msg, msg[:2000]
    assert q(duck, f"SELECT count(*) FROM {t}") == [(5,)]
    # A fresh attach with that token lists nothing (DuckDB keeps entries it looked up itself,
    # so the listing is checked on a new connection).
    con = connect()
    try:
        attach(con, "fresh", lakegate.catalog_uri, nogrant_token)
        assert q(con, "SELECT table_name FROM duckdb_tables() WHERE database_name = 'fresh'") == []
        assert q(con, "SELECT schema_name FROM duckdb_schemas() WHERE database_name = 'fresh' "
                      "AND schema_name NOT IN ('main', 'information_schema', 'pg_catalog')") == []
    finally:
        con.close()
    denied = [a for a in lakegate.audit(principal="engines-nogrant")["entries"] if a["decision"] == "deny"]
    assert denied, "no denied request of the no-grant principal in the audit log"
