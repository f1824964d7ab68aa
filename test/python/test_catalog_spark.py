# The account catalog through real PySpark sessions and Owlet's Hive Metastore service: what one session
# creates (a database, a saveAsTable table, a partitioned table, an external table, a view) another session
# lists and reads, also after the server was killed with SIGKILL and started again on the same data directory;
# and two sessions creating one table at once: one wins, the other gets Spark's "already exists".
import json
import threading

from owlet_clients import keys_under, make_boto3_client, make_s3_client
from spark_sessions import run, stdout_of, wait_session

SETUP = '''
spark.sql("CREATE DATABASE sales COMMENT 'the sales'")
spark.range(5).selectExpr("id", "id * 10 AS amount").write.saveAsTable("sales.orders")
(spark.range(6).selectExpr("id", "CAST(id % 3 AS STRING) AS region")
    .write.partitionBy("region").format("parquet").saveAsTable("sales.by_region"))
spark.range(3).selectExpr("id", "'x' AS tag").write.mode("overwrite").json(EXTERNAL_DIR)
spark.sql(f"CREATE EXTERNAL TABLE sales.ext (id BIGINT, tag STRING) STORED AS TEXTFILE LOCATION '{EXTERNAL_DIR}'")
spark.sql("CREATE TABLE sales.raw (id BIGINT, tag STRING) USING json LOCATION '" + EXTERNAL_DIR + "'")
spark.sql("CREATE VIEW sales.big AS SELECT * FROM sales.orders WHERE amount >= 20")
spark.sql("INSERT INTO sales.orders VALUES (100, 1000)")
spark.sql("ALTER TABLE sales.by_region ADD PARTITION (region='9')")
spark.sql("ALTER TABLE sales.orders SET TBLPROPERTIES ('owner_team'='ops')")
spark.sql("ANALYZE TABLE sales.orders COMPUTE STATISTICS")
print('setup done')
'''

READ = '''
import json
out = {
  'databases': sorted(r[0] for r in spark.sql("SHOW DATABASES").collect()),
  'tables': sorted(r.tableName for r in spark.sql("SHOW TABLES IN sales").collect()),
  'orders': spark.sql("SELECT count(*), sum(amount) FROM sales.orders").collect()[0][:],
  'partitions': sorted(r[0] for r in spark.sql("SHOW PARTITIONS sales.by_region").collect()),
  'by_region': spark.sql("SELECT count(*) FROM sales.by_region WHERE region = '1'").collect()[0][0],
  'raw': spark.sql("SELECT count(*) FROM sales.raw").collect()[0][0],
  'big': spark.sql("SELECT count(*) FROM sales.big").collect()[0][0],
  'props': spark.sql("SHOW TBLPROPERTIES sales.orders ('owner_team')").collect()[0][1],
  'stats': [r.data_type for r in spark.sql("DESCRIBE EXTENDED sales.orders").collect() if r.col_name == 'Statistics'],
}
print(json.dumps(out))
'''

# The rest of the statements, in session B: a database with LOCATION, ORC and CSV saveAsTable, STORED AS,
# INSERT OVERWRITE, RENAME, ADD COLUMNS, dynamic partition overwrite, DROP PARTITION, MSCK REPAIR TABLE,
# DESCRIBE, DROP DATABASE CASCADE.
MORE = '''
import json, os
spark.sql(f"CREATE DATABASE scratch LOCATION '{SCRATCH}'")
spark.range(3).write.format("orc").saveAsTable("scratch.o")
spark.range(4).write.format("csv").saveAsTable("scratch.c")
spark.sql("CREATE TABLE scratch.h (id INT, name STRING) STORED AS PARQUET")
spark.sql("INSERT INTO scratch.h VALUES (1, 'a'), (2, 'b')")
spark.sql("INSERT OVERWRITE TABLE scratch.h VALUES (3, 'c')")
spark.sql("ALTER TABLE scratch.h RENAME TO scratch.h2")
spark.sql("ALTER TABLE scratch.h2 ADD COLUMNS (extra STRING)")
spark.sql("CREATE TABLE scratch.p (v INT, d STRING) USING parquet PARTITIONED BY (d)")
spark.sql("INSERT INTO scratch.p VALUES (1, 'x'), (2, 'y')")
spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
spark.sql("INSERT OVERWRITE TABLE scratch.p VALUES (5, 'x')")
spark.sql("ALTER TABLE scratch.p DROP PARTITION (d = 'y')")
loc = spark.sql("DESCRIBE EXTENDED scratch.p").where("col_name = 'Location'").collect()[0][1]
spark.range(2).selectExpr("CAST(id AS INT) AS v").write.parquet(loc + "/d=z")
spark.sql("MSCK REPAIR TABLE scratch.p")
out = {
  'o': spark.table("scratch.o").count(),
  'c': spark.table("scratch.c").count(),
  'h2': [list(r) for r in spark.table("scratch.h2").collect()],
  'h2_columns': [r.col_name for r in spark.sql("DESCRIBE scratch.h2").collect()],
  'tables': sorted(r.tableName for r in spark.sql("SHOW TABLES IN scratch").collect()),
  'p_partitions': sorted(r[0] for r in spark.sql("SHOW PARTITIONS scratch.p").collect()),
  'p_rows': sorted(list(r) for r in spark.table("scratch.p").collect()),
  'y_gone': not os.path.exists(loc.replace("file:", "") + "/d=y"),
  'db_location': [r[1] for r in spark.sql("DESCRIBE DATABASE scratch").collect() if r[0] == 'Location'][0],
}
spark.sql("DROP DATABASE scratch CASCADE")
out['dropped'] = 'scratch' not in [r[0] for r in spark.sql("SHOW DATABASES").collect()] and not os.path.exists(SCRATCH.replace("file://", ""))
print(json.dumps(out))
'''


def calc_ok(server, athena, session_id, code):
    calc = run(athena, session_id, code)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], stdout_of(server, calc), server.stdout_lines[-20:])
    return stdout_of(server, calc)


def start(athena):
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    wait_session(athena, session_id, ('IDLE',))
    return session_id


def check_read(out: str):
    seen = json.loads(out.strip().splitlines()[-1])
    assert 'sales' in seen['databases'] and 'default' in seen['databases']
    assert seen['tables'] == ['big', 'by_region', 'ext', 'orders', 'raw']
    assert seen['orders'] == [6, 1100]
    assert seen['partitions'] == ['region=0', 'region=1', 'region=2', 'region=9']
    assert seen['by_region'] == 2
    assert seen['raw'] == 3
    assert seen['big'] == 4
    assert seen['props'] == 'ops'
    assert seen['stats'] and 'rows' in seen['stats'][0]


def unserved_calls(server) -> set[str]:
    """Hive Metastore calls a session made that Owlet's metastore does not serve (it logs each once)."""
    calls = set()
    for line in server.stdout_lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get('msg', '').startswith('a session made a Hive Metastore call'):
            calls.add(record.get('call'))
    return calls


def test_tables_of_one_session_are_seen_by_another_and_after_a_restart(owlet_servers, tmp_path):
    external = tmp_path / 'external'
    first = owlet_servers.start({'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'true'})
    root = first.root
    try:
        athena = make_boto3_client(first.endpoint)
        a = start(athena)
        assert 'setup done' in calc_ok(first, athena, a, f'EXTERNAL_DIR = "file://{external}"\n' + SETUP)
        b = start(athena)
        check_read(calc_ok(first, athena, b, READ))
        scratch = tmp_path / 'scratch_db'
        more = json.loads(calc_ok(first, athena, b, f'SCRATCH = "file://{scratch}"\n' + MORE).strip().splitlines()[-1])
        assert more['o'] == 3 and more['c'] == 4
        assert more['h2'] == [[3, 'c', None]]
        assert more['h2_columns'] == ['id', 'name', 'extra']
        assert more['tables'] == ['c', 'h2', 'o', 'p']
        assert more['p_partitions'] == ['d=x', 'd=z']
        assert more['p_rows'] == [[0, 'z'], [1, 'z'], [5, 'x']]
        assert more['y_gone'] is True
        assert more['db_location'].startswith('file:') and more['db_location'].endswith(str(scratch))
        assert more['dropped'] is True

        # Two sessions create one table at once: one wins, the other is told it already exists. The race is
        # on the catalog alone: two concurrent saveAsTable of one name also race on the table's directory
        # (each overwrites it before writing), so the loser's error may come from the file system instead.
        code = '''
try:
    spark.sql("CREATE TABLE sales.race (id BIGINT) USING parquet")
    print("won")
except Exception as error:
    # The message on one line: Spark's (and the Java stack under it) span many.
    print("lost:", " ".join(str(error).split())[:2000])
'''
        results = {}
        threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, calc_ok(first, athena, s, code))) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        outcomes = sorted(r.strip().splitlines()[-1] for r in results.values())
        assert outcomes[1] == 'won', outcomes
        assert outcomes[0].startswith('lost:') and 'already exists' in outcomes[0], outcomes
        assert calc_ok(first, athena, b, 'spark.range(3).write.insertInto("sales.race")\nprint(spark.table("sales.race").count())').strip().splitlines()[-1] == '3'

        # DROP TABLE: a managed table's data goes, an external table's stays. `sales` was created without
        # LOCATION, so it is under the workgroup's output location, in Owlet's store (docs/catalog.md).
        s3 = make_s3_client(first.endpoint)
        race = 'spark/spark-warehouse/sales.db/race/'
        assert [k for k in keys_under(s3, 'owlet-results', race) if k.endswith('.parquet')]
        out = calc_ok(first, athena, b, '''
loc = spark.sql("DESCRIBE EXTENDED sales.race").where("col_name = 'Location'").collect()[0][1]
spark.sql("DROP TABLE sales.race")
spark.sql("DROP TABLE sales.ext")
print(loc, spark.catalog.tableExists("sales.race"))
''')
        assert out.strip().splitlines()[-1] == f's3://owlet-results/{race.rstrip("/")} False'
        assert keys_under(s3, 'owlet-results', race) == []
        assert any(external.iterdir()), 'the external table\'s data stays'
        calc_ok(first, athena, b, f'spark.sql("CREATE EXTERNAL TABLE sales.ext (id BIGINT, tag STRING) STORED AS TEXTFILE LOCATION \'file://{external}\'")')
        assert unserved_calls(first) == set()
    finally:
        first.kill()

    second = owlet_servers.start({}, root=root)
    with owlet_servers.serving(second):
        athena = make_boto3_client(second.endpoint)
        c = start(athena)
        check_read(calc_ok(second, athena, c, READ))
        assert unserved_calls(second) == set()
