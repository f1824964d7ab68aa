# One catalog, two doors: what a Spark session records through Owlet's Hive Metastore service is what Glue
# clients see (boto3's glue client, Athena's own catalog calls), and a table made through the Glue API is
# queryable from a session. Real PySpark.
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from owlet_clients import make_boto3_client
from spark_sessions import run, stdout_of, wait_session

# A deadline for one calculation on a loaded 2-core machine, not a measure of speed.
CALCULATION_TIMEOUT_S = 600


@pytest.fixture(scope='module')
def server(owlet_servers):
    server = owlet_servers.start({'OWLET_WARM_POOL_SIZE': '0'})
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


@pytest.fixture(scope='module')
def glue(server):
    return make_boto3_client(server.endpoint, service='glue')


@pytest.fixture(scope='module')
def session(athena):
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={'MaxConcurrentDpus': 2})['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status.get('StateChangeReason', status)
    yield session_id
    athena.terminate_session(SessionId=session_id)


def printed(athena, server, session_id: str, code: str) -> str:
    calc = run(athena, session_id, code, timeout=CALCULATION_TIMEOUT_S)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    return stdout_of(server, calc).strip()


def test_a_table_spark_makes_shows_in_glue_as_spark_records_it(athena, server, glue, session):
    db = f'spark_{uuid.uuid4().hex[:8]}'
    code = (
        f"spark.sql('CREATE DATABASE {db}')\n"
        "df = spark.createDataFrame([(1, 'a', 'eu'), (2, 'b', 'us'), (3, 'c', 'us')], 'id int, label string, region string')\n"
        f"df.write.partitionBy('region').saveAsTable('{db}.sales')\n"
        f"print(spark.table('{db}.sales').count())"
    )
    assert printed(athena, server, session, code) == '3'

    table = glue.get_table(DatabaseName=db, Name='sales')['Table']
    sd = table['StorageDescriptor']
    assert [(c['Name'], c['Type']) for c in sd['Columns']] == [('id', 'int'), ('label', 'string')]
    assert [(k['Name'], k['Type']) for k in table['PartitionKeys']] == [('region', 'string')]
    assert table['TableType'] == 'MANAGED_TABLE'
    assert sd['Location'].rstrip('/').endswith(f'{db}.db/sales')
    assert sd['SerdeInfo']['SerializationLibrary'] == 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
    assert sd['InputFormat'] == 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
    assert sd['OutputFormat'] == 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
    assert table['Parameters']['spark.sql.sources.provider'] == 'parquet'
    assert 'spark.sql.create.version' in table['Parameters']

    partitions = glue.get_partitions(DatabaseName=db, TableName='sales', Expression="region = 'us'")['Partitions']
    assert [p['Values'] for p in partitions] == [['us']]
    assert partitions[0]['StorageDescriptor']['Location'].rstrip('/').endswith('sales/region=us')

    assert db in [d['Name'] for d in athena.list_databases(CatalogName='AwsDataCatalog')['DatabaseList']]
    meta = athena.get_table_metadata(CatalogName='AwsDataCatalog', DatabaseName=db, TableName='sales')['TableMetadata']
    assert [c['Name'] for c in meta['PartitionKeys']] == ['region']


def test_a_table_made_through_glue_is_queryable_from_spark(athena, server, glue, session, tmp_path):
    # The data is written by pyarrow to a local directory (s3:// paths in sessions are the S3A work's).
    data = tmp_path / 'visits'
    for day, rows in (('2024-01-01', [1, 2]), ('2024-01-02', [3])):
        (data / f'dt={day}').mkdir(parents=True)
        pq.write_table(pa.table({'visitor': pa.array(rows, pa.int64())}), data / f'dt={day}' / 'part-0.parquet')
    db = f'glue_{uuid.uuid4().hex[:8]}'
    glue.create_database(DatabaseInput={'Name': db})
    parquet_sd = {
        'InputFormat': 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        'OutputFormat': 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
        'SerdeInfo': {'SerializationLibrary': 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', 'Parameters': {'serialization.format': '1'}},
    }
    glue.create_table(
        DatabaseName=db,
        TableInput={
            'Name': 'visits',
            'TableType': 'EXTERNAL_TABLE',
            'Parameters': {'EXTERNAL': 'TRUE', 'classification': 'parquet'},
            'StorageDescriptor': {'Columns': [{'Name': 'visitor', 'Type': 'bigint'}], 'Location': f'file://{data}', **parquet_sd},
            'PartitionKeys': [{'Name': 'dt', 'Type': 'string'}],
        },
    )
    glue.batch_create_partition(
        DatabaseName=db,
        TableName='visits',
        PartitionInputList=[
            {'Values': [day], 'StorageDescriptor': {'Columns': [{'Name': 'visitor', 'Type': 'bigint'}], 'Location': f'file://{data}/dt={day}', **parquet_sd}}
            for day in ('2024-01-01', '2024-01-02')
        ],
    )
    code = (
        f"print(sorted((r.dt, r.visitor) for r in spark.table('{db}.visits').collect()))\n"
        f"print([r.partition for r in spark.sql('SHOW PARTITIONS {db}.visits').collect()])"
    )
    assert printed(athena, server, session, code).splitlines() == [
        "[('2024-01-01', 1), ('2024-01-01', 2), ('2024-01-02', 3)]",
        "['dt=2024-01-01', 'dt=2024-01-02']",
    ]
