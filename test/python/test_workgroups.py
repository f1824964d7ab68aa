# CreateWorkGroup, GetWorkGroup, ListWorkGroups, UpdateWorkGroup and DeleteWorkGroup, each test run once
# through boto3 and once through the AWS CLI (the `athena` fixture).
import base64
from datetime import datetime, timedelta, timezone

import pytest

from owlet_clients import AthenaCallError

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
PYSPARK = 'PySpark engine version 3'
SPARK_35 = 'Apache Spark version 3.5'


def spark_configuration(version: str = PYSPARK, **more) -> dict:
    return {'EngineVersion': {'SelectedEngineVersion': version}, 'ExecutionRole': ROLE, **more}


def as_datetime(value) -> datetime:
    """boto3 parses timestamps; the CLI (v1) prints the wire's epoch seconds as they came."""
    return value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)


def list_all_workgroups(athena, page_size: int) -> list[list[dict]]:
    pages, token = [], None
    while True:
        params = {'MaxResults': page_size, **({'NextToken': token} if token else {})}
        page = athena.call('ListWorkGroups', **params)
        pages.append(page['WorkGroups'])
        token = page.get('NextToken')
        if token is None:
            return pages
        assert isinstance(token, str) and token


def test_create_and_get_spark_workgroup(athena, new_name):
    name = new_name()
    athena.call(
        'CreateWorkGroup',
        Name=name,
        Description='for the pytest suite',
        Configuration=spark_configuration(ResultConfiguration={'OutputLocation': 's3://bucket/results/'}),
    )

    workgroup = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']

    assert workgroup['Name'] == name
    assert workgroup['State'] == 'ENABLED'
    assert workgroup['Description'] == 'for the pytest suite'
    configuration = workgroup['Configuration']
    assert configuration['EngineVersion'] == {'SelectedEngineVersion': PYSPARK, 'EffectiveEngineVersion': PYSPARK}
    assert configuration['ExecutionRole'] == ROLE
    assert configuration['ResultConfiguration'] == {'OutputLocation': 's3://bucket/results/'}
    created = as_datetime(workgroup['CreationTime'])
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)


def test_create_sql_workgroup_without_configuration(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name)

    configuration = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Configuration']

    assert configuration['EngineVersion'] == {'SelectedEngineVersion': 'AUTO', 'EffectiveEngineVersion': 'Athena engine version 3'}
    assert 'ExecutionRole' not in configuration


def test_list_work_groups_shows_summaries(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Description='listed', Configuration=spark_configuration(SPARK_35))

    summaries = {wg['Name']: wg for page in list_all_workgroups(athena, 50) for wg in page}

    assert {'primary', 'spark', name} <= summaries.keys()
    summary = summaries[name]
    assert summary['State'] == 'ENABLED'
    assert summary['Description'] == 'listed'
    assert summary['EngineVersion'] == {'SelectedEngineVersion': SPARK_35, 'EffectiveEngineVersion': SPARK_35}
    assert 'CreationTime' in summary


def test_list_work_groups_pages_with_max_results_and_next_token(fresh_athena):
    created = {'paged-a', 'paged-b', 'paged-c'}
    for name in created:
        fresh_athena.call('CreateWorkGroup', Name=name)

    pages = list_all_workgroups(fresh_athena, 2)

    # primary, spark and the three new ones; the order is the server's to choose.
    assert [len(page) for page in pages] == [2, 2, 1]
    names = [wg['Name'] for page in pages for wg in page]
    assert sorted(names) == sorted(created | {'primary', 'spark'})


def test_next_token_is_opaque_and_bound_to_its_listing(athena):
    token = athena.call('ListWorkGroups', MaxResults=1)['NextToken']
    assert 'primary' not in token and 'spark' not in token

    engine_token = athena.call('ListEngineVersions', MaxResults=1)['NextToken']
    tampered = base64.urlsafe_b64encode(b'{"s":"ListWorkGroups","c":7}').decode().rstrip('=')
    for bad in (engine_token, 'not-a-token', tampered):
        with pytest.raises(AthenaCallError) as refused:
            athena.call('ListWorkGroups', MaxResults=1, NextToken=bad)
        assert (refused.value.code, refused.value.message) == (
            'InvalidRequestException',
            'The NextToken provided is not valid for this request.',
        )


def test_update_description_and_state(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Description='before', Configuration=spark_configuration())

    athena.call('UpdateWorkGroup', WorkGroup=name, Description='after', State='DISABLED')
    disabled = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']
    athena.call('UpdateWorkGroup', WorkGroup=name, State='ENABLED')
    enabled = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']

    assert (disabled['Description'], disabled['State']) == ('after', 'DISABLED')
    assert (enabled['Description'], enabled['State']) == ('after', 'ENABLED')
    assert enabled['Configuration'] == disabled['Configuration']


def test_update_sets_and_removes_the_output_location(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Configuration=spark_configuration())

    def output_location():
        result = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Configuration'].get('ResultConfiguration', {})
        return result.get('OutputLocation')

    athena.call('UpdateWorkGroup', WorkGroup=name, ConfigurationUpdates={'ResultConfigurationUpdates': {'OutputLocation': 's3://b/one/'}})
    assert output_location() == 's3://b/one/'
    athena.call('UpdateWorkGroup', WorkGroup=name, ConfigurationUpdates={'ResultConfigurationUpdates': {'OutputLocation': 's3://b/two/'}})
    assert output_location() == 's3://b/two/'
    athena.call('UpdateWorkGroup', WorkGroup=name, ConfigurationUpdates={'ResultConfigurationUpdates': {'RemoveOutputLocation': True}})
    assert output_location() is None


def test_update_between_the_two_spark_versions(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Configuration=spark_configuration(PYSPARK))

    athena.call('UpdateWorkGroup', WorkGroup=name, ConfigurationUpdates={'EngineVersion': {'SelectedEngineVersion': SPARK_35}})

    engine = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Configuration']['EngineVersion']
    assert engine == {'SelectedEngineVersion': SPARK_35, 'EffectiveEngineVersion': SPARK_35}


@pytest.mark.parametrize(
    'created_with, changed_to, engine',
    [
        pytest.param(spark_configuration(), 'AUTO', 'Apache Spark', id='pyspark-to-auto'),
        pytest.param(spark_configuration(SPARK_35), 'Athena engine version 3', 'Apache Spark', id='spark-3.5-to-sql-3'),
        pytest.param({'EngineVersion': {'SelectedEngineVersion': 'AUTO'}}, PYSPARK, 'Athena SQL', id='auto-to-pyspark'),
    ],
)
def test_update_refuses_to_change_the_analytics_engine(athena, new_name, created_with, changed_to, engine):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Configuration=created_with)
    before = athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Configuration']['EngineVersion']

    with pytest.raises(AthenaCallError) as refused:
        athena.call('UpdateWorkGroup', WorkGroup=name, ConfigurationUpdates={'EngineVersion': {'SelectedEngineVersion': changed_to}})

    assert refused.value.code == 'InvalidRequestException'
    assert refused.value.message == (
        f'WorkGroup {name} uses {engine}; the analytics engine of a workgroup is chosen when it is created and cannot be changed.'
    )
    assert athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Configuration']['EngineVersion'] == before


@pytest.mark.parametrize('recursive', [None, False, True])
def test_delete_workgroup(athena, new_name, recursive):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Configuration=spark_configuration())

    options = {} if recursive is None else {'RecursiveDeleteOption': recursive}
    athena.call('DeleteWorkGroup', WorkGroup=name, **options)

    with pytest.raises(AthenaCallError) as gone:
        athena.call('GetWorkGroup', WorkGroup=name)
    assert (gone.value.code, gone.value.message) == ('InvalidRequestException', f'WorkGroup {name} is not found.')
    listed = {wg['Name'] for page in list_all_workgroups(athena, 50) for wg in page}
    assert name not in listed


def test_delete_missing_workgroup_succeeds(athena, new_name):
    assert athena.call('DeleteWorkGroup', WorkGroup=new_name('never-created')) == {}


def test_workgroup_name_is_free_again_after_delete(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Description='first')
    athena.call('DeleteWorkGroup', WorkGroup=name)

    athena.call('CreateWorkGroup', Name=name, Description='second')

    assert athena.call('GetWorkGroup', WorkGroup=name)['WorkGroup']['Description'] == 'second'


# (operation, input with {name} standing for a fresh workgroup name, whether that workgroup exists first, message)
REFUSED = [
    pytest.param(
        'CreateWorkGroup',
        {'Name': '{name}', 'Configuration': {'EngineVersion': {'SelectedEngineVersion': PYSPARK}}},
        False,
        'executionRole is null or empty',
        id='spark-without-role',
    ),
    pytest.param(
        'CreateWorkGroup',
        {'Name': '{name}', 'Configuration': {'EngineVersion': {'SelectedEngineVersion': SPARK_35}}},
        False,
        'executionRole is null or empty',
        id='spark-3.5-without-role',
    ),
    pytest.param('CreateWorkGroup', {'Name': 'primary'}, False, 'primary workGroup could not be created', id='create-primary'),
    pytest.param('CreateWorkGroup', {'Name': '{name}'}, True, 'WorkGroup {name} is already created.', id='duplicate'),
    pytest.param('GetWorkGroup', {'WorkGroup': 'nope'}, False, 'WorkGroup nope is not found.', id='get-unknown'),
    pytest.param('UpdateWorkGroup', {'WorkGroup': '{name}', 'Description': 'x'}, False, 'WorkGroup {name} is not found.', id='update-unknown'),
    pytest.param('DeleteWorkGroup', {'WorkGroup': 'primary'}, False, 'primary workGroup could not be deleted', id='delete-primary'),
    pytest.param(
        'DeleteWorkGroup',
        {'WorkGroup': 'primary', 'RecursiveDeleteOption': True},
        False,
        'primary workGroup could not be deleted',
        id='delete-primary-recursive',
    ),
    pytest.param(
        'UpdateWorkGroup',
        {
            'WorkGroup': '{name}',
            'ConfigurationUpdates': {'ResultConfigurationUpdates': {'OutputLocation': 's3://b/x/', 'RemoveOutputLocation': True}},
        },
        True,
        'OutputLocation and RemoveOutputLocation cannot both be set in one update.',
        id='set-and-remove-output-location',
    ),
]


def fill(value, name: str):
    if isinstance(value, str):
        return value.replace('{name}', name)
    if isinstance(value, dict):
        return {k: fill(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, name) for v in value]
    return value


@pytest.mark.parametrize('operation, params, exists, message', REFUSED)
def test_refused_workgroup_requests(athena, new_name, operation, params, exists, message):
    name = new_name()
    if exists:
        athena.call('CreateWorkGroup', Name=name, Configuration=spark_configuration())

    with pytest.raises(AthenaCallError) as refused:
        athena.call(operation, **fill(params, name))

    assert refused.value.code == 'InvalidRequestException'
    assert refused.value.message == fill(message, name)
    if refused.value.response is not None:
        assert refused.value.response['AthenaErrorCode'] == 'INVALID_INPUT'
    if operation == 'CreateWorkGroup' and params['Name'] == '{name}' and not exists:
        with pytest.raises(AthenaCallError):
            athena.call('GetWorkGroup', WorkGroup=name)
