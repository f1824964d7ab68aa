# What clients see beyond the happy path: the error envelope as botocore parses it and as it is on the wire,
# signature checks, operations Owlet does not serve, request ids and timestamps.
import json
from datetime import datetime

import botocore
import pytest
from botocore.exceptions import ClientError

from owlet_clients import ACCESS_KEY_ID, cli_error, make_boto3_client

BAD_SIGNATURE_MESSAGE = (
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key '
    'and signing method. Consult the service documentation for details.'
)
SQL_MESSAGE = (
    '{operation} is an Athena SQL operation. Owlet serves Amazon Athena for Apache Spark (workgroups, sessions, '
    'calculations and notebooks), not SQL queries.'
)


class RawResponses:
    """The HTTP responses a boto3 client received, as they were before botocore parsed them."""

    def __init__(self, client):
        self.responses: list = []
        client.meta.events.register('after-call.athena.*', self._record)

    def _record(self, http_response, **_):
        self.responses.append(http_response)

    @property
    def last_body(self) -> dict:
        return json.loads(self.responses[-1].content)


def refusal(call, *args, **params) -> dict:
    with pytest.raises(ClientError) as refused:
        call(*args, **params)
    return refused.value.response


@pytest.mark.parametrize(
    'operation, params, message',
    [
        ('get_work_group', {'WorkGroup': 'nope'}, 'WorkGroup nope is not found.'),
        ('create_work_group', {'Name': 'primary'}, 'primary workGroup could not be created'),
        (
            'create_work_group',
            {'Name': 'pytest-no-role', 'Configuration': {'EngineVersion': {'SelectedEngineVersion': 'PySpark engine version 3'}}},
            'executionRole is null or empty',
        ),
    ],
)
def test_invalid_request_carries_athena_error_code(athena_client, operation, params, message):
    raw = RawResponses(athena_client)

    response = refusal(getattr(athena_client, operation), **params)

    assert response['Error'] == {'Code': 'InvalidRequestException', 'Message': message}
    assert response['AthenaErrorCode'] == 'INVALID_INPUT'
    assert response['ResponseMetadata']['HTTPStatusCode'] == 400
    # On the wire, as the real service sends it: the code twice (the modelled AthenaErrorCode and an unmodelled
    # ErrorCode) before the message.
    assert raw.last_body == {
        '__type': 'InvalidRequestException',
        'AthenaErrorCode': 'INVALID_INPUT',
        'ErrorCode': 'INVALID_INPUT',
        'Message': message,
    }
    assert raw.responses[-1].headers['Content-Type'] == 'application/x-amz-json-1.1'


def test_duplicate_workgroup(athena_client, new_name):
    name = new_name()
    athena_client.create_work_group(Name=name)

    response = refusal(athena_client.create_work_group, Name=name)

    assert response['Error'] == {'Code': 'InvalidRequestException', 'Message': f'WorkGroup {name} is already created.'}
    assert response['AthenaErrorCode'] == 'INVALID_INPUT'


@pytest.mark.parametrize(
    'call, message',
    [
        pytest.param(
            lambda c: c.get_work_group(WorkGroup='bad name!'),
            "1 validation error detected: Value at 'workGroup' failed to satisfy constraint: Member must satisfy "
            'regular expression pattern: [a-zA-Z0-9._-]{1,128}',
            id='pattern',
        ),
        pytest.param(
            lambda c: c.list_work_groups(MaxResults=0),
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value "
            'greater than or equal to 1',
            id='below-min',
        ),
        pytest.param(
            lambda c: c.list_work_groups(MaxResults=51),
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value "
            'less than or equal to 50',
            id='above-max',
        ),
        pytest.param(
            lambda c: c.update_work_group(WorkGroup='spark', State='PAUSED'),
            "1 validation error detected: Value at 'state' failed to satisfy constraint: Member must satisfy enum value "
            'set: [ENABLED, DISABLED]',
            id='enum',
        ),
    ],
)
def test_server_side_validation(unvalidated_client, call, message):
    response = refusal(call, unvalidated_client)

    assert response['Error'] == {'Code': 'InvalidRequestException', 'Message': message}
    assert response['AthenaErrorCode'] == 'INVALID_INPUT'


@pytest.mark.parametrize(
    'access_key_id, secret_access_key, code, message',
    [
        ('AKIDUNKNOWNKEY000000', 'whatever-secret', 'UnrecognizedClientException', 'The security token included in the request is invalid.'),
        (ACCESS_KEY_ID, 'not-the-secret', 'InvalidSignatureException', BAD_SIGNATURE_MESSAGE),
    ],
)
def test_requests_signed_with_other_keys_are_refused(owlet, access_key_id, secret_access_key, code, message):
    client = make_boto3_client(owlet.endpoint, access_key_id, secret_access_key)

    response = refusal(client.list_work_groups)

    assert response['Error'] == {'Code': code, 'Message': message}


def test_unsigned_request_is_refused(owlet):
    client = make_boto3_client(owlet.endpoint, signature_version=botocore.UNSIGNED)

    response = refusal(client.list_work_groups)

    assert response['Error'] == {'Code': 'MissingAuthenticationTokenException', 'Message': 'Missing Authentication Token'}


@pytest.mark.parametrize(
    'env, code, message',
    [
        ({'AWS_ACCESS_KEY_ID': 'AKIDUNKNOWNKEY000000'}, 'UnrecognizedClientException', 'The security token included in the request is invalid.'),
        ({'AWS_SECRET_ACCESS_KEY': 'not-the-secret'}, 'InvalidSignatureException', BAD_SIGNATURE_MESSAGE),
    ],
)
def test_cli_with_other_keys_is_refused(aws_cli, env, code, message):
    exit_code, output, stderr = aws_cli('athena', 'list-work-groups', env=env)

    assert exit_code != 0
    assert output is None
    assert cli_error(stderr) == (code, message)


# The session calls about a session's driver, on sessions that do not exist: refused, and nothing starts
# (test/python/test_session_endpoints.py covers them on a real session).
UNKNOWN_SESSION = 'c0ffee00-0000-4000-8000-000000000000'


@pytest.mark.parametrize(
    'operation, params, code, message',
    [
        ('list_executors', {'SessionId': UNKNOWN_SESSION}, 'InvalidRequestException', f'Session {UNKNOWN_SESSION} is not found.'),
        ('get_session_endpoint', {'SessionId': UNKNOWN_SESSION}, 'InvalidRequestException', f'Session {UNKNOWN_SESSION} is not found.'),
        (
            'get_resource_dashboard',
            {'ResourceARN': f'arn:aws:athena:us-east-1:123456789012:workgroup/spark/session/{UNKNOWN_SESSION}'},
            'ResourceNotFoundException',
            f'Resource arn:aws:athena:us-east-1:123456789012:workgroup/spark/session/{UNKNOWN_SESSION} is not found.',
        ),
        (
            'get_resource_dashboard',
            {'ResourceARN': 'arn:aws:athena:us-east-1:123456789012:workgroup/spark'},
            'InvalidRequestException',
            'arn:aws:athena:us-east-1:123456789012:workgroup/spark is not a session ARN. Give '
            'arn:aws:athena:<region>:<account>:workgroup/<workgroup>/session/<session id>, or the session id.',
        ),
    ],
)
def test_driver_calls_on_an_unknown_session(athena_client, operation, params, code, message):
    response = refusal(getattr(athena_client, operation), **params)

    assert response['Error'] == {'Code': code, 'Message': message}


@pytest.mark.parametrize(
    'operation, params',
    [
        ('list_query_executions', {}),
        ('start_query_execution', {'QueryString': 'SELECT 1', 'WorkGroup': 'primary'}),
        ('list_named_queries', {}),
    ],
)
def test_sql_operations_are_not_served(athena_client, operation, params):
    response = refusal(getattr(athena_client, operation), **params)

    op_name = athena_client.meta.method_to_api_mapping[operation]
    assert response['Error'] == {'Code': 'InvalidRequestException', 'Message': SQL_MESSAGE.format(operation=op_name)}
    assert response['AthenaErrorCode'] == 'INVALID_INPUT'


def test_unavailable_operations_and_unknown_sessions_through_the_cli(aws_cli):
    exit_code, _, stderr = aws_cli('athena', 'create-presigned-notebook-url', '--session-id', UNKNOWN_SESSION)
    assert exit_code != 0
    assert cli_error(stderr) == ('InvalidRequestException', f'Session {UNKNOWN_SESSION} is not found.')

    exit_code, _, stderr = aws_cli('athena', 'list-query-executions')
    assert exit_code != 0
    assert cli_error(stderr) == ('InvalidRequestException', SQL_MESSAGE.format(operation='ListQueryExecutions'))


@pytest.mark.parametrize(
    'call',
    [
        pytest.param(lambda c, n: c.list_work_groups(), id='success'),
        pytest.param(lambda c, n: c.create_work_group(Name=n), id='empty-output'),
        pytest.param(lambda c, n: c.get_work_group(WorkGroup='nope'), id='service-error'),
        pytest.param(lambda c, n: c.list_tags_for_resource(ResourceARN='arn:aws:athena:us-east-1:123456789012:workgroup/nope'), id='not-found'),
    ],
)
def test_every_response_carries_a_request_id(athena_client, new_name, call):
    try:
        metadata = call(athena_client, new_name())['ResponseMetadata']
    except ClientError as error:
        metadata = error.response['ResponseMetadata']

    assert metadata['RequestId']
    assert metadata['HTTPHeaders']['x-amzn-requestid'] == metadata['RequestId']


def test_request_ids_differ(athena_client):
    ids = {athena_client.list_engine_versions()['ResponseMetadata']['RequestId'] for _ in range(3)}
    assert len(ids) == 3


def test_auth_errors_carry_a_request_id(owlet):
    client = make_boto3_client(owlet.endpoint, ACCESS_KEY_ID, 'not-the-secret')

    assert refusal(client.list_work_groups)['ResponseMetadata']['RequestId']


def test_timestamps_are_datetimes(athena_client, new_name):
    name = new_name()
    athena_client.create_work_group(Name=name)

    workgroup = athena_client.get_work_group(WorkGroup=name)['WorkGroup']
    summaries = athena_client.list_work_groups()['WorkGroups']

    assert isinstance(workgroup['CreationTime'], datetime)
    assert workgroup['CreationTime'].tzinfo is not None
    assert all(isinstance(summary['CreationTime'], datetime) for summary in summaries)


def test_empty_outputs_are_json_objects(athena_client, new_name):
    raw = RawResponses(athena_client)
    name = new_name()

    athena_client.create_work_group(Name=name)
    athena_client.update_work_group(WorkGroup=name, Description='x')
    athena_client.delete_work_group(WorkGroup=name)

    assert [json.loads(r.content) for r in raw.responses] == [{}, {}, {}]
    assert all(r.status_code == 200 for r in raw.responses)
