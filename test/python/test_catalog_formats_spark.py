# Delta Lake and Apache Hudi tables in the account catalog, with the SparkProperties Athena documents for them
# (UG notebooks-spark-table-formats-delta-lake / -apache-hudi): DeltaCatalog or HoodieCatalog on spark_catalog,
# over Owlet's Hive Metastore. One session creates a table and changes it (INSERT, UPDATE, DELETE, MERGE), reads
# an older version back (time travel), and another session finds the table in the catalog and reads it. The
# Delta pair spans both engines: the writer runs Spark 3.5, the reader Spark 4.1, which also writes a plain
# table the Spark 3.5 session reads back.
import json
import threading

import pytest

from owlet_clients import make_boto3_client
from spark_sessions import run, stdout_of, wait_session

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
SPARK_4 = 'Apache Spark version 4.1'
# A table format's first write loads and compiles its classes: minutes on a loaded 2-core machine.
FORMAT_CALCULATION_TIMEOUT_S = 600

DELTA = {
    'spark.sql.catalog.spark_catalog': 'org.apache.spark.sql.delta.catalog.DeltaCatalog',
    'spark.sql.extensions': 'io.delta.sql.DeltaSparkSessionExtension',
}
HUDI = {
    'spark.sql.catalog.spark_catalog': 'org.apache.spark.sql.hudi.catalog.HoodieCatalog',
    'spark.serializer': 'org.apache.spark.serializer.KryoSerializer',
    'spark.sql.extensions': 'org.apache.spark.sql.hudi.HoodieSparkSessionExtension',
}


@pytest.fixture(scope='module')
def server(owlet_servers):
    server = owlet_servers.start({'OWLET_WARM_POOL_SIZE': '0'})
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


def start_all(athena, specs: list[tuple[str, dict]]) -> list[str]:
    """Starts sessions (workgroup, properties) at once and waits for all of them to be IDLE."""
    ids = [
        athena.start_session(WorkGroup=wg, EngineConfiguration={'MaxConcurrentDpus': 2, 'SparkProperties': props})['SessionId']
        for wg, props in specs
    ]
    for session_id in ids:
        status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
        assert status['State'] == 'IDLE', status
    return ids


def last_json(athena, server, session_id: str, code: str):
    calc = run(athena, session_id, code, timeout=FORMAT_CALCULATION_TIMEOUT_S)
    out = stdout_of(server, calc)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], out)
    return json.loads(out.strip().splitlines()[-1])


CHANGES = '''
import json
spark.sql("CREATE DATABASE IF NOT EXISTS {db}")
spark.sql("CREATE TABLE {db}.langs (language STRING, users INT) USING {fmt} {props}")
spark.sql("INSERT INTO {db}.langs VALUES ('Golang', 3000), ('Rust', 2000), ('Perl', 10)")
spark.sql("UPDATE {db}.langs SET users = 3500 WHERE language = 'Golang'")
spark.sql("DELETE FROM {db}.langs WHERE language = 'Perl'")
spark.createDataFrame([('Rust', 2500), ('Zig', 50)], 'language STRING, users INT').createOrReplaceTempView('updates')
spark.sql("""MERGE INTO {db}.langs t USING updates u ON t.language = u.language
  WHEN MATCHED THEN UPDATE SET t.users = u.users WHEN NOT MATCHED THEN INSERT (language, users) VALUES (u.language, u.users)""")
now = sorted((r.language, r.users) for r in spark.sql("SELECT language, users FROM {db}.langs").collect())
{travel}
old = sorted((r.language, r.users) for r in spark.sql(old_sql).collect())
print(json.dumps({{"now": now, "old": old}}))
'''

READ = '''
import json
print(json.dumps({{"tables": sorted(r.tableName for r in spark.sql("SHOW TABLES IN {db}").collect()),
  "rows": sorted((r.language, r.users) for r in spark.sql("SELECT language, users FROM {db}.langs").collect())}}))
'''

AFTER_CHANGES = [['Golang', 3500], ['Rust', 2500], ['Zig', 50]]
FIRST_INSERT = [['Golang', 3000], ['Perl', 10], ['Rust', 2000]]


def test_a_delta_table_made_on_spark_3_5_is_read_on_spark_4_1(athena, server):
    athena.create_work_group(Name='spark4', Configuration={'EngineVersion': {'SelectedEngineVersion': SPARK_4}, 'ExecutionRole': ROLE})
    writer, reader = start_all(athena, [('spark', DELTA), ('spark4', DELTA)])
    # Version 0 is the CREATE, 1 the first INSERT.
    travel = 'old_sql = "SELECT language, users FROM lake.langs VERSION AS OF 1"'
    seen = last_json(athena, server, writer, CHANGES.format(db='lake', fmt='delta', props='', travel=travel))
    assert seen == {'now': AFTER_CHANGES, 'old': FIRST_INSERT}
    read = last_json(athena, server, reader, READ.format(db='lake'))
    assert read == {'tables': ['langs'], 'rows': AFTER_CHANGES}

    # Spark 4.1 writes through the metastore too, and Spark 3.5 reads what it wrote.
    assert last_json(athena, server, reader, '''
import json
spark.range(4).selectExpr("id", "id % 2 AS half").write.partitionBy("half").saveAsTable("lake.from_four")
print(json.dumps(spark.sql("SHOW PARTITIONS lake.from_four").count()))
''') == 2
    assert last_json(athena, server, writer, 'import json\nprint(json.dumps(spark.table("lake.from_four").count()))') == 4


def test_a_hudi_table_is_changed_by_one_session_and_read_by_another(athena, server):
    writer, reader = start_all(athena, [('spark', HUDI), ('spark', HUDI)])
    props = "TBLPROPERTIES (primaryKey = 'language', preCombineField = 'users', type = 'cow')"
    # Hudi's time travel names a commit instant: the first INSERT's is the oldest on the table's timeline.
    travel = (
        'first = min(r.commit_time for r in spark.sql("CALL show_commits(table => \'hoodie.langs\')").collect())\n'
        'old_sql = f"SELECT language, users FROM hoodie.langs TIMESTAMP AS OF \'{first}\'"'
    )
    seen = last_json(athena, server, writer, CHANGES.format(db='hoodie', fmt='hudi', props=props, travel=travel))
    assert seen['now'] == AFTER_CHANGES
    assert seen['old'] == FIRST_INSERT
    read = last_json(athena, server, reader, READ.format(db='hoodie'))
    assert read == {'tables': ['langs'], 'rows': AFTER_CHANGES}
