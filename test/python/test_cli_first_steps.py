# A newcomer's first minutes, on a server of their own: the commands typed as the README and the issue type
# them, with nothing but the endpoint and the keys in the environment.
from owlet_clients import SECRET_ACCESS_KEY, cli_error, make_boto3_client, run_aws_cli

SPARK_CONFIGURATION = '{"EngineVersion":{"SelectedEngineVersion":"PySpark engine version 3"},"ExecutionRole":"arn:aws:iam::123456789012:role/x"}'
BAD_NAME_MESSAGE = (
    "1 validation error detected: Value at 'workGroup' failed to satisfy constraint: Member must satisfy regular "
    'expression pattern: [a-zA-Z0-9._-]{1,128}'
)


def test_fresh_server_has_primary_and_the_ready_spark_workgroup(fresh_owlet):
    exit_code, output, stderr = run_aws_cli(fresh_owlet.endpoint, 'athena', 'list-work-groups')

    assert exit_code == 0, stderr
    summaries = {wg['Name']: wg for wg in output['WorkGroups']}
    assert sorted(summaries) == ['primary', 'spark']
    assert 'NextToken' not in output
    assert summaries['primary']['State'] == 'ENABLED'
    assert summaries['primary']['EngineVersion']['SelectedEngineVersion'] == 'AUTO'
    assert summaries['spark']['State'] == 'ENABLED'
    assert summaries['spark']['EngineVersion'] == {
        'SelectedEngineVersion': 'PySpark engine version 3',
        'EffectiveEngineVersion': 'PySpark engine version 3',
    }

    spark = make_boto3_client(fresh_owlet.endpoint).get_work_group(WorkGroup='spark')['WorkGroup']
    assert spark['Configuration']['ExecutionRole'].startswith('arn:aws:iam::123456789012:role/')
    assert spark['Configuration']['ResultConfiguration']['OutputLocation'].startswith('s3://')


def test_new_user_creates_and_reads_a_spark_workgroup(fresh_owlet):
    def aws(*args, env=None):
        return run_aws_cli(fresh_owlet.endpoint, *args, env=env)

    exit_code, output, stderr = aws('athena', 'create-work-group', '--name', 'wg', '--configuration', SPARK_CONFIGURATION)
    assert (exit_code, output) == (0, None), stderr

    exit_code, output, stderr = aws('athena', 'get-work-group', '--work-group', 'wg')
    assert exit_code == 0, stderr
    workgroup = output['WorkGroup']
    assert workgroup['Name'] == 'wg'
    assert workgroup['State'] == 'ENABLED'
    assert workgroup['Configuration']['EngineVersion'] == {
        'SelectedEngineVersion': 'PySpark engine version 3',
        'EffectiveEngineVersion': 'PySpark engine version 3',
    }
    assert workgroup['Configuration']['ExecutionRole'] == 'arn:aws:iam::123456789012:role/x'
    assert isinstance(workgroup['CreationTime'], (int, float))

    exit_code, output, stderr = aws('athena', 'list-work-groups')
    assert exit_code == 0, stderr
    assert sorted(wg['Name'] for wg in output['WorkGroups']) == ['primary', 'spark', 'wg']

    exit_code, output, stderr = aws('athena', 'get-work-group', '--work-group', 'bad name!')
    assert exit_code != 0
    assert output is None
    assert cli_error(stderr) == ('InvalidRequestException', BAD_NAME_MESSAGE)

    exit_code, output, stderr = aws('athena', 'list-work-groups', env={'AWS_SECRET_ACCESS_KEY': SECRET_ACCESS_KEY + 'x'})
    assert exit_code != 0
    assert output is None
    assert cli_error(stderr)[0] == 'InvalidSignatureException'


def test_server_stops_cleanly_on_sigterm(fresh_owlet):
    assert make_boto3_client(fresh_owlet.endpoint).list_work_groups()['WorkGroups']

    assert fresh_owlet.stop() == 0
    assert fresh_owlet.process.poll() == 0
