# The catalog on PostgreSQL, through real PySpark: two server nodes share one PostgreSQL database (state and
# catalog); a session on the first node creates a database and a partitioned table, and a session on the
# second node, which has a Hive Metastore of its own over the same catalog tables, lists and reads them.
import json

import pytest

from owlet_clients import make_boto3_client
from spark_sessions import run, stdout_of, wait_session
from throwaway_postgres import ThrowawayPostgres

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'


@pytest.fixture
def postgres():
    server = ThrowawayPostgres()
    yield server
    server.stop()


def calc_json(server, athena, session_id, code):
    calc = run(athena, session_id, code)
    out = stdout_of(server, calc)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], out)
    return json.loads(out.strip().splitlines()[-1])


def test_two_nodes_on_one_postgres_share_the_catalog(owlet_servers, postgres, tmp_path):
    env = {'OWLET_STATE_STORE_URL': postgres.url(), 'OWLET_CATALOG_WAREHOUSE': f'file://{tmp_path}/warehouse'}
    with owlet_servers.serving(owlet_servers.start(env)) as first, owlet_servers.serving(owlet_servers.start(env)) as second:
        athena1 = make_boto3_client(first.endpoint)
        athena2 = make_boto3_client(second.endpoint)
        # A workgroup without an output location: its databases go to OWLET_CATALOG_WAREHOUSE, a directory both
        # nodes see. (Under an output location they would be in each node's own object store, whose blob files
        # these two nodes do not share; docs/object-store.md.)
        athena1.create_work_group(Name='shared-catalog', Configuration={'EngineVersion': {'SelectedEngineVersion': 'PySpark engine version 3'}, 'ExecutionRole': ROLE})
        one = athena1.start_session(WorkGroup='shared-catalog', EngineConfiguration={})['SessionId']
        two = athena2.start_session(WorkGroup='shared-catalog', EngineConfiguration={})['SessionId']
        wait_session(athena1, one, ('IDLE',))
        wait_session(athena2, two, ('IDLE',))
        made = calc_json(first, athena1, one, '''
import json
spark.sql("CREATE DATABASE shared")
spark.range(6).selectExpr("id", "CAST(id % 2 AS STRING) AS half").write.partitionBy("half").saveAsTable("shared.t")
print(json.dumps(spark.table("shared.t").count()))
''')
        assert made == 6
        seen = calc_json(second, athena2, two, '''
import json
print(json.dumps({"tables": [r.tableName for r in spark.sql("SHOW TABLES IN shared").collect()],
  "partitions": sorted(r[0] for r in spark.sql("SHOW PARTITIONS shared.t").collect()),
  "odd": spark.sql("SELECT count(*) FROM shared.t WHERE half = '1'").collect()[0][0]}))
''')
        assert seen == {'tables': ['t'], 'partitions': ['half=0', 'half=1'], 'odd': 3}
