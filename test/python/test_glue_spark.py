# One catalog behind Spark sessions and Glue clients, with real PySpark. What a session records through Owlet's
# Hive Metastore service is what Glue clients see (boto3's glue client, Athena's own catalog calls), and a table
# made through the Glue API is queryable from a session. Iceberg tables, with the SparkProperties Athena documents
# for Iceberg (Athena user guide, notebooks-spark-table-formats-apache-iceberg) used as written (spark_catalog is
# Iceberg's SparkSessionCatalog over GlueCatalog with S3FileIO): Owlet injects the Glue and S3 endpoints (its
# own), so the table's metadata lands in Owlet's catalog and its files in Owlet's S3 store; commits go through
# UpdateTable with VersionId, concurrent ones all land, and a stale version is refused.
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from owlet_clients import make_boto3_client, make_s3_client
from spark_sessions import run, stdout_of, wait_session

ICEBERG_AS_ATHENA_DOCUMENTS_IT = {
    'spark.sql.catalog.spark_catalog': 'org.apache.iceberg.spark.SparkSessionCatalog',
    'spark.sql.catalog.spark_catalog.catalog-impl': 'org.apache.iceberg.aws.glue.GlueCatalog',
    'spark.sql.catalog.spark_catalog.io-impl': 'org.apache.iceberg.aws.s3.S3FileIO',
    'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
}
# A deadline for one calculation on a loaded 2-core machine, not a measure of speed.
CALCULATION_TIMEOUT_S = 600


@pytest.fixture(scope='module')
def server(owlet_servers):
    with owlet_servers.serving(owlet_servers.start({'OWLET_WARM_POOL_SIZE': '0'})) as server:
        yield server


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


@pytest.fixture(scope='module')
def glue(server):
    return make_boto3_client(server.endpoint, service='glue')


def start(athena, properties: dict | None = None) -> str:
    configuration = {'MaxConcurrentDpus': 2, **({'SparkProperties': properties} if properties else {})}
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration=configuration)['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status.get('StateChangeReason', status)
    return session_id


def printed(athena, server, session_id: str, code: str) -> str:
    calc = run(athena, session_id, code, timeout=CALCULATION_TIMEOUT_S)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    return stdout_of(server, calc).strip()


@pytest.fixture(scope='module')
def session(athena):
    session_id = start(athena)
    yield session_id
    athena.terminate_session(SessionId=session_id)


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


@pytest.fixture(scope='module')
def lake(server, glue):
    """A bucket in Owlet's S3 store and a Glue database whose location is in it."""
    bucket = f'iceberg-{uuid.uuid4().hex[:10]}'
    make_s3_client(server.endpoint).create_bucket(Bucket=bucket)
    glue.create_database(DatabaseInput={'Name': 'lakehouse', 'LocationUri': f's3://{bucket}/lakehouse'})
    return bucket


@pytest.fixture(scope='module')
def writer(athena, lake):
    session_id = start(athena, ICEBERG_AS_ATHENA_DOCUMENTS_IT)
    yield session_id
    athena.terminate_session(SessionId=session_id)


def test_an_iceberg_table_made_in_a_session_is_in_the_catalog_and_the_s3_store(athena, server, glue, lake, writer):
    code = (
        "spark.sql('CREATE TABLE lakehouse.orders (id bigint, label string) USING iceberg')\n"
        "spark.sql(\"INSERT INTO lakehouse.orders VALUES (1, 'a'), (2, 'b'), (3, 'c')\")\n"
        "spark.sql(\"UPDATE lakehouse.orders SET label = 'B' WHERE id = 2\")\n"
        "spark.sql('DELETE FROM lakehouse.orders WHERE id = 3')\n"
        "print(sorted((r.id, r.label) for r in spark.table('lakehouse.orders').collect()))"
    )
    assert printed(athena, server, writer, code) == "[(1, 'a'), (2, 'B')]"

    table = glue.get_table(DatabaseName='lakehouse', Name='orders')['Table']
    assert table['Parameters']['table_type'].upper() == 'ICEBERG'
    assert table['Parameters']['metadata_location'].startswith(f's3://{lake}/lakehouse/orders/metadata/')
    assert table['StorageDescriptor']['Location'] == f's3://{lake}/lakehouse/orders'
    # Each commit (create, insert, update, delete) was an UpdateTable of the version before it.
    assert int(table['VersionId']) >= 4
    versions = glue.get_table_versions(DatabaseName='lakehouse', TableName='orders')['TableVersions']
    assert len(versions) == int(table['VersionId'])
    keys = [o['Key'] for o in make_s3_client(server.endpoint).list_objects_v2(Bucket=lake, Prefix='lakehouse/orders/')['Contents']]
    assert any(k.startswith('lakehouse/orders/data/') and k.endswith('.parquet') for k in keys)

    # A commit based on a version that is no longer current is refused: Iceberg would otherwise lose the commit
    # that came in between.
    stale = versions[-1]['Table']
    stale_input = {k: stale[k] for k in ('Name', 'TableType', 'Parameters', 'StorageDescriptor') if k in stale}
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName='lakehouse', TableInput=stale_input, VersionId=versions[-1]['VersionId'])


def test_concurrent_iceberg_commits_all_land(athena, server, writer):
    # Four writers commit at once: GlueCatalog's UpdateTable with VersionId lets one win each round and the others
    # refresh and retry, so every row arrives.
    code = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "spark.sql('CREATE TABLE lakehouse.events (writer int, n bigint) USING iceberg')\n"
        "def write(w):\n"
        "    spark.range(100).selectExpr(f'{w} AS writer', 'id AS n').writeTo('lakehouse.events').append()\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    list(pool.map(write, range(4)))\n"
        "print(spark.table('lakehouse.events').groupBy('writer').count().orderBy('writer').collect())"
    )
    assert printed(athena, server, writer, code) == (
        '[Row(writer=0, count=100), Row(writer=1, count=100), Row(writer=2, count=100), Row(writer=3, count=100)]'
    )


def test_another_session_reads_the_iceberg_table(athena, server, writer):
    reader = start(athena, ICEBERG_AS_ATHENA_DOCUMENTS_IT)
    try:
        assert printed(athena, server, reader, "print(spark.table('lakehouse.orders').count())") == '2'
    finally:
        athena.terminate_session(SessionId=reader)
