# The account catalog with tables on `s3://`, through real PySpark sessions (docs/catalog.md): session A creates
# a database without LOCATION (it lands under the workgroup's output location), a saveAsTable table, a partitioned
# table, and external tables over data boto3 put in Owlet's store; session B, started while A is IDLE, lists and
# reads them; the server is SIGKILLed and started again, awswrangler registers a table through the Glue API, and
# session C reads everything; boto3's Glue client sees the databases, tables and partitions with their schemas;
# DROP TABLE removes a managed table's objects and leaves an external table's. Sessions are few (three): each
# takes minutes to start on a loaded machine.
import io
import json

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from owlet_clients import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, keys_under, make_boto3_client, make_s3_client
from spark_sessions import run, stdout_of, wait_session

# The first S3A use in a session starts its classes and the AWS SDK's: minutes on a loaded 2-core machine.
S3_CALCULATION_TIMEOUT_S = 900
DATA = 'owlet-catalog-data'
# The seeded workgroup `spark` keeps results at s3://owlet-results/spark/; its sessions' warehouse is below it.
RESULTS = 'owlet-results'
LAKE_DB = 'spark/spark-warehouse/lake.db'

SETUP = '''
import json
spark.sql("CREATE DATABASE lake COMMENT 'tables on s3'")
spark.range(5).selectExpr("id", "id * 10 AS amount").write.saveAsTable("lake.orders")
(spark.range(6).selectExpr("id", "CAST(id % 3 AS STRING) AS region")
    .write.partitionBy("region").saveAsTable("lake.by_region"))
spark.sql("""CREATE EXTERNAL TABLE lake.people (name STRING, age INT)
    ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE LOCATION 's3://owlet-catalog-data/people/'""")
spark.sql("CREATE TABLE lake.numbers USING parquet LOCATION 's3a://owlet-catalog-data/numbers/'")
spark.sql("INSERT INTO lake.orders VALUES (100, 1000)")
location = lambda what: [r[1] for r in spark.sql(f"DESCRIBE {what}").collect() if r[0] == 'Location'][0]
print(json.dumps({
    "lake": location("DATABASE lake"),
    "orders": location("TABLE EXTENDED lake.orders"),
    "warehouse": spark.conf.get("spark.sql.warehouse.dir"),
}))
'''

READ = '''
import json
out = {
  'databases': sorted(r[0] for r in spark.sql("SHOW DATABASES").collect()),
  'tables': sorted(r.tableName for r in spark.sql("SHOW TABLES IN lake").collect()),
  'orders': list(spark.sql("SELECT count(*), sum(amount) FROM lake.orders").collect()[0]),
  'partitions': sorted(r[0] for r in spark.sql("SHOW PARTITIONS lake.by_region").collect()),
  'by_region': spark.sql("SELECT count(*) FROM lake.by_region WHERE region = '1'").collect()[0][0],
  'people': sorted([r.name, r.age] for r in spark.table("lake.people").collect()),
  'numbers': spark.sql("SELECT sum(n) FROM lake.numbers").collect()[0][0],
}
print(json.dumps(out))
'''

# In session C, after awswrangler made lake.wr_sales through the Glue API.
DROPS = '''
import json
wr_sales = sorted(list(r) for r in spark.sql("SELECT region, count(*) FROM lake.wr_sales GROUP BY region").collect())
spark.sql("DROP TABLE lake.orders")
spark.sql("DROP TABLE lake.people")
print(json.dumps({"wr_sales": wr_sales, "tables": sorted(r.tableName for r in spark.sql("SHOW TABLES IN lake").collect())}))
'''


def calc_ok(server, athena, session_id, code):
    calc = run(athena, session_id, code, timeout=S3_CALCULATION_TIMEOUT_S)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], stdout_of(server, calc), server.stdout_lines[-20:])
    return stdout_of(server, calc)


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def start(athena):
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    return session_id


def check_read(out: str, *, with_wrangler: bool = False):
    seen = last_json(out)
    assert 'lake' in seen['databases'] and 'default' in seen['databases']
    expected_tables = ['by_region', 'numbers', 'orders', 'people'] + (['wr_sales'] if with_wrangler else [])
    assert seen['tables'] == sorted(expected_tables), seen
    assert seen['orders'] == [6, 1100]
    assert seen['partitions'] == ['region=0', 'region=1', 'region=2']
    assert seen['by_region'] == 2
    assert seen['people'] == [['ada', 36], ['alan', 41], ['grace', 45]]
    assert seen['numbers'] == 5050


def put_external_data(s3):
    s3.create_bucket(Bucket=DATA)
    s3.put_object(Bucket=DATA, Key='people/people.csv', Body=b'ada,36\ngrace,45\nalan,41\n')
    buffer = io.BytesIO()
    pq.write_table(pa.table({'n': pa.array(range(1, 101), pa.int64())}), buffer)
    s3.put_object(Bucket=DATA, Key='numbers/numbers.parquet', Body=buffer.getvalue())


def check_glue(endpoint: str):
    glue = make_boto3_client(endpoint, service='glue')
    databases = {d['Name']: d for page in glue.get_paginator('get_databases').paginate() for d in page['DatabaseList']}
    assert databases['lake']['LocationUri'] == f's3://{RESULTS}/{LAKE_DB}', databases['lake']
    assert databases['lake']['Description'] == 'tables on s3'
    tables = {t['Name']: t for page in glue.get_paginator('get_tables').paginate(DatabaseName='lake') for t in page['TableList']}
    assert sorted(tables) == ['by_region', 'numbers', 'orders', 'people']
    orders = tables['orders']
    assert orders['TableType'] == 'MANAGED_TABLE'
    assert orders['StorageDescriptor']['Location'] == f's3://{RESULTS}/{LAKE_DB}/orders'
    assert orders['Parameters'].get('spark.sql.sources.provider') == 'parquet'
    people = tables['people']
    assert people['TableType'] == 'EXTERNAL_TABLE'
    assert [(c['Name'], c['Type']) for c in people['StorageDescriptor']['Columns']] == [('name', 'string'), ('age', 'int')]
    assert people['StorageDescriptor']['Location'] == f's3://{DATA}/people'
    assert people['StorageDescriptor']['SerdeInfo']['SerializationLibrary'] == 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe'
    by_region = tables['by_region']
    assert [(k['Name'], k['Type']) for k in by_region['PartitionKeys']] == [('region', 'string')]
    partitions = [p for page in glue.get_paginator('get_partitions').paginate(DatabaseName='lake', TableName='by_region') for p in page['Partitions']]
    assert sorted((p['Values'], p['StorageDescriptor']['Location']) for p in partitions) == [
        ([r], f's3://{RESULTS}/{LAKE_DB}/by_region/region={r}') for r in ('0', '1', '2')
    ]
    assert all(p['StorageDescriptor']['Columns'] == [{'Name': 'id', 'Type': 'bigint'}] for p in partitions), partitions


def make_wrangler_table(endpoint: str):
    """awswrangler writes a partitioned parquet dataset into Owlet's store and registers it in database `lake`
    through the Glue API; it also lists Spark's tables there."""
    import awswrangler as wr

    saved = (wr.config.glue_endpoint_url, wr.config.s3_endpoint_url)
    wr.config.glue_endpoint_url = endpoint
    wr.config.s3_endpoint_url = endpoint
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY, region_name=REGION)
    try:
        df = pd.DataFrame({'id': [1, 2, 3, 4, 5], 'label': list('abcde'), 'region': ['eu', 'eu', 'us', 'us', 'us']})
        wr.s3.to_parquet(df, path=f's3://{DATA}/wr/sales/', dataset=True, database='lake', table='wr_sales', partition_cols=['region'], boto3_session=session)
        return sorted(wr.catalog.tables(database='lake', boto3_session=session)['Table'].tolist())
    finally:
        wr.config.glue_endpoint_url, wr.config.s3_endpoint_url = saved


def test_tables_on_s3_are_shared_survive_a_restart_and_show_in_glue(owlet_servers):
    first = owlet_servers.start({'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'true'})
    root = first.root
    try:
        athena = make_boto3_client(first.endpoint)
        put_external_data(make_s3_client(first.endpoint))
        a = start(athena)
        made = last_json(calc_ok(first, athena, a, SETUP))
        # A database without LOCATION goes under the workgroup's output location (docs/catalog.md).
        assert made == {
            'lake': f's3://{RESULTS}/{LAKE_DB}',
            'orders': f's3://{RESULTS}/{LAKE_DB}/orders',
            'warehouse': f's3://{RESULTS}/spark/spark-warehouse',
        }, made
        b = start(athena)
        assert athena.get_session_status(SessionId=a)['Status']['State'] == 'IDLE'
        check_read(calc_ok(first, athena, b, READ))
    finally:
        first.kill()

    second = owlet_servers.start({}, root=root)
    with owlet_servers.serving(second):
        s3 = make_s3_client(second.endpoint)
        athena = make_boto3_client(second.endpoint)
        check_glue(second.endpoint)
        assert make_wrangler_table(second.endpoint) == ['by_region', 'numbers', 'orders', 'people', 'wr_sales']
        c = start(athena)
        check_read(calc_ok(second, athena, c, READ), with_wrangler=True)

        orders_before = keys_under(s3, RESULTS, f'{LAKE_DB}/orders/')
        assert [k for k in orders_before if k.endswith('.parquet')], orders_before
        # No directory marker: the metastore writes nothing to make an S3 location (docs/catalog.md).
        assert not [k for k in keys_under(s3, RESULTS, 'spark/spark-warehouse/') if k.endswith('/')]
        dropped = last_json(calc_ok(second, athena, c, DROPS))
        assert dropped['wr_sales'] == [['eu', 2], ['us', 3]]
        assert dropped['tables'] == ['by_region', 'numbers', 'wr_sales']
        assert keys_under(s3, RESULTS, f'{LAKE_DB}/orders/') == [], 'a managed table\'s objects go with DROP TABLE'
        assert keys_under(s3, DATA, 'people/') == ['people/people.csv'], 'an external table\'s objects stay'
        assert keys_under(s3, RESULTS, f'{LAKE_DB}/by_region/'), 'another table\'s objects stay'
