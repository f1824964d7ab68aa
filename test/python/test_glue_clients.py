# The Glue Data Catalog API through the Python clients people use with it: boto3's glue client (paginators,
# modelled errors, optimistic locking with VersionId), the AWS CLI's `aws glue`, and awswrangler's `wr.catalog` and
# `wr.s3.to_parquet(dataset=True, database=..., table=...)` writing parquet into Owlet's S3 store and registering
# the table in Owlet's catalog, then reading it back through the catalog.
import json
import uuid

import boto3
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from owlet_clients import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, make_boto3_client, make_s3_client, run_aws_cli


@pytest.fixture(scope='module')
def glue(owlet):
    client = make_boto3_client(owlet.endpoint, service='glue')
    yield client
    client.close()


def name(prefix: str) -> str:
    return f'{prefix}_{uuid.uuid4().hex[:10]}'


def error_of(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response['Error']
    assert caught.value.response['ResponseMetadata']['HTTPStatusCode'] == 400
    return error['Code'], error['Message']


def table_input(table: str, location: str) -> dict:
    return {
        'Name': table,
        'TableType': 'EXTERNAL_TABLE',
        'Parameters': {'classification': 'csv'},
        'StorageDescriptor': {
            'Columns': [{'Name': 'id', 'Type': 'int'}, {'Name': 'label', 'Type': 'string'}],
            'Location': location,
            'InputFormat': 'org.apache.hadoop.mapred.TextInputFormat',
            'OutputFormat': 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            'SerdeInfo': {'SerializationLibrary': 'org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe', 'Parameters': {'field.delim': ','}},
        },
        'PartitionKeys': [{'Name': 'dt', 'Type': 'string'}, {'Name': 'hour', 'Type': 'int'}],
    }


def test_boto3_databases_tables_and_partitions_with_paginators(glue):
    db = name('boto3db')
    glue.create_database(DatabaseInput={'Name': db, 'Description': 'from boto3'})
    assert glue.get_database(Name=db)['Database']['Description'] == 'from boto3'
    names = [d['Name'] for page in glue.get_paginator('get_databases').paginate(PaginationConfig={'PageSize': 1}) for d in page['DatabaseList']]
    assert db in names

    for i in range(3):
        glue.create_table(DatabaseName=db, TableInput=table_input(f'events_{i}', f's3://lake/{db}/events_{i}/'))
    pages = list(glue.get_paginator('get_tables').paginate(DatabaseName=db, PaginationConfig={'PageSize': 2}))
    assert [len(p['TableList']) for p in pages] == [2, 1]
    table = glue.get_table(DatabaseName=db, Name='events_0')['Table']
    assert table['StorageDescriptor']['SerdeInfo']['Parameters'] == {'field.delim': ','}
    assert [k['Name'] for k in table['PartitionKeys']] == ['dt', 'hour']
    assert table['VersionId'] == '1'

    partitions = [
        {'Values': [f'2024-01-0{d}', str(h)], 'StorageDescriptor': {**table_input('x', f's3://lake/{db}/events_0/dt=2024-01-0{d}/hour={h}/')['StorageDescriptor']}}
        for d in (1, 2, 3)
        for h in (0, 12)
    ]
    assert glue.batch_create_partition(DatabaseName=db, TableName='events_0', PartitionInputList=partitions)['Errors'] == []
    got = [
        p['Values']
        for page in glue.get_paginator('get_partitions').paginate(
            DatabaseName=db, TableName='events_0', Expression="dt >= '2024-01-02' AND hour > 6", PaginationConfig={'PageSize': 1}
        )
        for p in page['Partitions']
    ]
    assert sorted(got) == [['2024-01-02', '12'], ['2024-01-03', '12']]

    code, message = error_of(glue.get_table, DatabaseName=db, Name='missing')
    assert (code, message) == ('EntityNotFoundException', 'Table missing not found.')
    code, message = error_of(glue.create_database, DatabaseInput={'Name': db})
    assert (code, message) == ('AlreadyExistsException', 'Database already exists.')
    code, _ = error_of(glue.get_partitions, DatabaseName=db, TableName='events_0', Expression='nonsense ==')
    assert code == 'InvalidInputException'
    # The client's own modelled exception classes match what Owlet answers.
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_database(Name=name('missing'))

    glue.delete_database(Name=db)
    assert error_of(glue.get_database, Name=db)[0] == 'EntityNotFoundException'


def test_boto3_update_table_refuses_a_stale_version(glue):
    db = name('lockdb')
    glue.create_database(DatabaseInput={'Name': db})
    glue.create_table(DatabaseName=db, TableInput=table_input('t', 's3://lake/t/'))
    base = glue.get_table(DatabaseName=db, Name='t')['Table']['VersionId']
    winner = table_input('t', 's3://lake/t/')
    winner['Parameters'] = {'metadata_location': 's3://lake/t/metadata/00001.json'}
    glue.update_table(DatabaseName=db, TableInput=winner, VersionId=base)
    loser = table_input('t', 's3://lake/t/')
    loser['Parameters'] = {'metadata_location': 's3://lake/t/metadata/00001-other.json'}
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName=db, TableInput=loser, VersionId=base)
    assert glue.get_table(DatabaseName=db, Name='t')['Table']['Parameters']['metadata_location'].endswith('00001.json')
    versions = glue.get_table_versions(DatabaseName=db, TableName='t')['TableVersions']
    assert [v['VersionId'] for v in versions] == ['2', '1']
    glue.delete_database(Name=db)


def test_unserved_glue_operations_say_so(glue):
    code, message = error_of(glue.list_crawlers)
    assert code == 'OperationNotSupportedException'
    assert 'Owlet does not serve the Glue operation ListCrawlers' in message


def test_aws_cli_glue(owlet):
    db = name('clidb')
    code, _, err = run_aws_cli(owlet.endpoint, 'glue', 'create-database', '--database-input', json.dumps({'Name': db}))
    assert code == 0, err
    code, out, err = run_aws_cli(owlet.endpoint, 'glue', 'get-databases')
    assert code == 0, err
    assert db in [d['Name'] for d in out['DatabaseList']]
    code, _, err = run_aws_cli(owlet.endpoint, 'glue', 'get-table', '--database-name', db, '--name', 'nope')
    assert code != 0
    assert 'EntityNotFoundException' in err and 'Table nope not found.' in err


@pytest.fixture
def wrangler(owlet):
    """awswrangler pointed at Owlet for Glue and S3, with the test key pair."""
    import awswrangler as wr

    saved = (wr.config.glue_endpoint_url, wr.config.s3_endpoint_url)
    wr.config.glue_endpoint_url = owlet.endpoint
    wr.config.s3_endpoint_url = owlet.endpoint
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY, region_name=REGION)
    try:
        yield wr, session
    finally:
        wr.config.glue_endpoint_url, wr.config.s3_endpoint_url = saved


def test_awswrangler_catalog_and_to_parquet_dataset(owlet, wrangler):
    wr, session = wrangler
    bucket = f'wr-{uuid.uuid4().hex[:12]}'
    s3 = make_s3_client(owlet.endpoint)
    s3.create_bucket(Bucket=bucket)
    db = name('wrdb')
    wr.catalog.create_database(db, description='made by awswrangler', boto3_session=session)
    assert db in wr.catalog.databases(boto3_session=session)['Database'].tolist()

    df = pd.DataFrame({'id': [1, 2, 3, 4], 'label': ['a', 'b', 'c', 'd'], 'region': ['eu', 'eu', 'us', 'us']})
    wr.s3.to_parquet(
        df,
        path=f's3://{bucket}/sales/',
        dataset=True,
        database=db,
        table='sales',
        partition_cols=['region'],
        boto3_session=session,
    )
    tables = wr.catalog.tables(database=db, boto3_session=session)
    assert tables['Table'].tolist() == ['sales']
    assert wr.catalog.get_table_types(database=db, table='sales', boto3_session=session) == {'id': 'bigint', 'label': 'string', 'region': 'string'}
    table = session.client('glue', endpoint_url=owlet.endpoint).get_table(DatabaseName=db, Name='sales')['Table']
    assert table['StorageDescriptor']['Location'] == f's3://{bucket}/sales/'
    assert table['StorageDescriptor']['SerdeInfo']['SerializationLibrary'] == 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
    partitions = wr.catalog.get_parquet_partitions(database=db, table='sales', boto3_session=session)
    assert sorted(partitions) == [f's3://{bucket}/sales/region=eu/', f's3://{bucket}/sales/region=us/']

    # A second write appends through the catalog: awswrangler reads the table's definition back and adds rows.
    wr.s3.to_parquet(df.head(1), path=f's3://{bucket}/sales/', dataset=True, database=db, table='sales', partition_cols=['region'], boto3_session=session)
    back = wr.s3.read_parquet_table(database=db, table='sales', boto3_session=session)
    assert sorted(back['id'].tolist()) == [1, 1, 2, 3, 4]

    wr.catalog.delete_table_if_exists(database=db, table='sales', boto3_session=session)
    assert wr.catalog.tables(database=db, boto3_session=session).empty
    wr.catalog.delete_database(db, boto3_session=session)
