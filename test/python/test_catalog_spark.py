# The account catalog through real PySpark sessions and Owlet's Hive Metastore service: what one session
# creates (a database, a saveAsTable table, a partitioned table, an external table, a view) another session
# lists and reads, also after the server was killed with SIGKILL and started again on the same data directory;
# and two sessions creating one table at once: one wins, the other gets Spark's "already exists".
import json
import signal
import threading

from owlet_clients import make_boto3_client
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

        # Two sessions create one table at once: one wins, the other is told it already exists.
        code = '''
try:
    spark.range(3).write.saveAsTable("sales.race")
    print("won")
except Exception as error:
    print("lost:", error)
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

        # DROP TABLE: a managed table's data goes, an external table's stays.
        out = calc_ok(first, athena, b, '''
import os
loc = spark.sql("DESCRIBE EXTENDED sales.race").where("col_name = 'Location'").collect()[0][1]
spark.sql("DROP TABLE sales.race")
spark.sql("DROP TABLE sales.ext")
print(os.path.exists(loc.replace('file:', '')), spark.catalog.tableExists("sales.race"))
''')
        assert out.strip().splitlines()[-1] == 'False False'
        assert any(external.iterdir()), 'the external table\'s data stays'
        calc_ok(first, athena, b, f'spark.sql("CREATE EXTERNAL TABLE sales.ext (id BIGINT, tag STRING) STORED AS TEXTFILE LOCATION \'file://{external}\'")')
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=60)
        first.stop()

    second = owlet_servers.start({}, root=root)
    with owlet_servers.serving(second):
        athena = make_boto3_client(second.endpoint)
        c = start(athena)
        check_read(calc_ok(second, athena, c, READ))
