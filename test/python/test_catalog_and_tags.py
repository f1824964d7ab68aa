# ListEngineVersions, ListApplicationDPUSizes, and tagging workgroups by ARN, each test run once through
# boto3 and once through the AWS CLI (the `athena` fixture).
import pytest

from owlet_clients import AthenaCallError, workgroup_arn

ENGINE_VERSIONS = [
    {'SelectedEngineVersion': 'AUTO', 'EffectiveEngineVersion': 'Athena engine version 3'},
    {'SelectedEngineVersion': 'Athena engine version 3', 'EffectiveEngineVersion': 'Athena engine version 3'},
    {'SelectedEngineVersion': 'PySpark engine version 3', 'EffectiveEngineVersion': 'PySpark engine version 3'},
    {'SelectedEngineVersion': 'Apache Spark version 3.5', 'EffectiveEngineVersion': 'Apache Spark version 3.5'},
    {'SelectedEngineVersion': 'Apache Spark version 4.1', 'EffectiveEngineVersion': 'Apache Spark version 4.1'},
]


def test_list_engine_versions(athena):
    assert athena.call('ListEngineVersions') == {'EngineVersions': ENGINE_VERSIONS}


def test_list_engine_versions_one_per_page(athena):
    versions, token, pages = [], None, 0
    while True:
        page = athena.call('ListEngineVersions', MaxResults=1, **({'NextToken': token} if token else {}))
        pages += 1
        versions += page['EngineVersions']
        token = page.get('NextToken')
        if token is None:
            break
    assert pages == len(ENGINE_VERSIONS)
    assert versions == ENGINE_VERSIONS


def test_list_application_dpu_sizes(athena):
    assert athena.call('ListApplicationDPUSizes') == {
        'ApplicationDPUSizes': [{'ApplicationRuntimeId': 'Athena notebook version 1', 'SupportedDPUSizes': [1]}]
    }


def tags_of(athena, name: str) -> dict:
    return {tag['Key']: tag.get('Value') for tag in athena.call('ListTagsForResource', ResourceARN=workgroup_arn(name))['Tags']}


def test_tags_given_at_creation_are_listed(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Tags=[{'Key': 'team', 'Value': 'data'}, {'Key': 'empty', 'Value': ''}])

    assert tags_of(athena, name) == {'team': 'data', 'empty': ''}


def test_tag_retag_and_untag(athena, new_name):
    name = new_name()
    arn = workgroup_arn(name)
    athena.call('CreateWorkGroup', Name=name)
    assert tags_of(athena, name) == {}

    assert athena.call('TagResource', ResourceARN=arn, Tags=[{'Key': 'a', 'Value': '1'}, {'Key': 'b', 'Value': '2'}]) == {}
    assert tags_of(athena, name) == {'a': '1', 'b': '2'}

    athena.call('TagResource', ResourceARN=arn, Tags=[{'Key': 'b', 'Value': 'two'}, {'Key': 'c', 'Value': '3'}])
    assert tags_of(athena, name) == {'a': '1', 'b': 'two', 'c': '3'}

    assert athena.call('UntagResource', ResourceARN=arn, TagKeys=['a', 'c', 'never-set']) == {}
    assert tags_of(athena, name) == {'b': 'two'}


def test_tags_belong_to_one_workgroup(athena, new_name):
    tagged, untouched = new_name(), new_name()
    athena.call('CreateWorkGroup', Name=tagged)
    athena.call('CreateWorkGroup', Name=untouched)

    athena.call('TagResource', ResourceARN=workgroup_arn(tagged), Tags=[{'Key': 'k', 'Value': 'v'}])

    assert tags_of(athena, untouched) == {}


@pytest.mark.parametrize(
    'operation, extra',
    [
        ('ListTagsForResource', {}),
        ('TagResource', {'Tags': [{'Key': 'k', 'Value': 'v'}]}),
        ('UntagResource', {'TagKeys': ['k']}),
    ],
)
def test_unknown_workgroup_arn_is_not_found(athena, new_name, operation, extra):
    arn = workgroup_arn(new_name('missing'))

    with pytest.raises(AthenaCallError) as refused:
        athena.call(operation, ResourceARN=arn, **extra)

    assert (refused.value.code, refused.value.message) == ('ResourceNotFoundException', f'Resource {arn} is not found.')
    if refused.value.response is not None:
        assert refused.value.response['ResourceName'] == arn


def test_deleted_workgroup_arn_is_not_found(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Tags=[{'Key': 'k', 'Value': 'v'}])
    athena.call('DeleteWorkGroup', WorkGroup=name)

    with pytest.raises(AthenaCallError) as refused:
        athena.call('ListTagsForResource', ResourceARN=workgroup_arn(name))

    assert refused.value.code == 'ResourceNotFoundException'


def test_recreated_workgroup_starts_without_the_old_tags(athena, new_name):
    name = new_name()
    athena.call('CreateWorkGroup', Name=name, Tags=[{'Key': 'old', 'Value': 'yes'}])
    athena.call('DeleteWorkGroup', WorkGroup=name)

    athena.call('CreateWorkGroup', Name=name)

    assert tags_of(athena, name) == {}
