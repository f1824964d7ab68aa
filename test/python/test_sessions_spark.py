# Sessions and calculations end to end on real PySpark, through boto3: a session's runner process with a
# Spark driver in local mode, calculation output read back through the S3 API Owlet serves on its own port.
import json
import os
import signal
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client
from spark_sessions import (
    CALCULATION_TIMEOUT_S,
    CANCEL_WAIT_S,
    FINAL_CALCULATION_STATES,
    GROUP_GONE_S,
    STATE_CHANGE_TIMEOUT_S,
    run,
    runner_pid,
    wait_group_gone,
    wait_session,
)

# One minute of SessionIdleTimeoutInMinutes lasts this long on the server of this module, so that the idle
# timeout can be seen acting on a real session.
IDLE_MINUTE_MS = 4000


@pytest.fixture(scope='module')
def spark_owlet(owlet_servers):
    server = owlet_servers.start({'OWLET_IDLE_MINUTE_MS': str(IDLE_MINUTE_MS)})
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module')
def athena(spark_owlet):
    return make_boto3_client(spark_owlet.endpoint)


@pytest.fixture(scope='module')
def s3(spark_owlet):
    import boto3
    from botocore.config import Config

    from owlet_clients import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY

    return boto3.client(
        's3',
        endpoint_url=spark_owlet.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(retries={'max_attempts': 1}, s3={'addressing_style': 'path'}),
    )


def start_idle_session(athena, **extra):
    started = time.monotonic()
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={'MaxConcurrentDpus': 2}, **extra)['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    return session_id, time.monotonic() - started


def read(s3, uri):
    bucket, key = uri[len('s3://'):].split('/', 1)
    return s3.get_object(Bucket=bucket, Key=key)['Body'].read().decode('utf-8')


@pytest.fixture(scope='module')
def session(athena):
    # The longest idle timeout Athena takes (480 minutes, 32 minutes here): the tests between this session's
    # uses start sessions of their own, which on a loaded machine can take longer than the default 20.
    session_id, seconds = start_idle_session(athena, SessionIdleTimeoutInMinutes=480)
    print(f'\ncold StartSession -> IDLE: {seconds:.1f} s')
    yield session_id
    athena.terminate_session(SessionId=session_id)


def test_a_calculation_shows_a_dataframe_and_its_stdout_is_the_exact_table(athena, s3, session):
    calc = run(athena, session, 'df = spark.createDataFrame([("bar", 5), ("foo", 5)], ["name", "sum"])\ndf.show()\n')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert 'StateChangeReason' not in calc['Status']
    assert read(s3, calc['Result']['StdOutS3Uri']) == (
        '+----+---+\n|name|sum|\n+----+---+\n| bar|  5|\n| foo|  5|\n+----+---+\n\n'
    )
    assert read(s3, calc['Result']['StdErrorS3Uri']) == ''
    assert calc['Result']['ResultType'] == 'application/vnd.aws.athena.v1+json'
    assert calc['WorkingDirectory'].startswith(f's3://owlet-results/spark/{session}/')
    assert calc['Statistics']['DpuExecutionInMillis'] > 0
    assert calc['Statistics']['Progress']
    assert calc['Status']['CompletionDateTime'] >= calc['Status']['SubmissionDateTime']


def test_variables_persist_to_the_next_calculation(athena, s3, session):
    run(athena, session, 'kept = 41')
    calc = run(athena, session, 'print(kept + 1)')
    assert read(s3, calc['Result']['StdOutS3Uri']) == '42\n'


def test_the_last_expression_lands_in_the_result_document(athena, s3, session):
    started = time.monotonic()
    calc = run(athena, session, '1+1')
    print(f'\n1+1 round trip (submit to COMPLETED seen by a client polling every 50 ms): {time.monotonic() - started:.3f} s')
    assert calc['Status']['State'] == 'COMPLETED'
    document = json.loads(read(s3, calc['Result']['ResultS3Uri']))
    assert {'data': {'text/plain': '2'}} in [{'data': o['data']} for o in document['outputs']], document


def test_a_failing_block_is_failed_with_the_traceback_of_the_users_code(athena, s3, session):
    calc = run(athena, session, '\nfoobar\n')
    assert calc['Status']['State'] == 'FAILED'
    assert calc['Status']['StateChangeReason'] == "NameError: name 'foobar' is not defined"
    # PyAthena's test against the real service reads exactly this, stripped (spec/athena-behaviour.md §3.2).
    assert read(s3, calc['Result']['StdErrorS3Uri']).strip() == (
        'File "<stdin>", line 2, in <module>\nNameError: name \'foobar\' is not defined'
    )
    assert wait_session(athena, session, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'


def test_a_busy_session_refuses_a_second_calculation(athena, session):
    calc_id = athena.start_calculation_execution(SessionId=session, CodeBlock='import time\ntime.sleep(3600)')['CalculationExecutionId']
    try:
        wait_session(athena, session, ('BUSY',), timeout=STATE_CHANGE_TIMEOUT_S)
        with pytest.raises(ClientError) as refused:
            athena.start_calculation_execution(SessionId=session, CodeBlock='1')
        assert refused.value.response['Error']['Code'] == 'InvalidRequestException'
        assert refused.value.response['Error']['Message'] == 'Session is in the BUSY state; needs to be IDLE to accept Calculations.'
    finally:
        athena.stop_calculation_execution(CalculationExecutionId=calc_id)
        wait_session(athena, session, ('IDLE',), timeout=CANCEL_WAIT_S)


def stop_and_time(athena, calc_id):
    started = time.monotonic()
    assert athena.stop_calculation_execution(CalculationExecutionId=calc_id)['State'] in ('CANCELING', 'CANCELED')
    while True:
        state = athena.get_calculation_execution_status(CalculationExecutionId=calc_id)['Status']['State']
        if state in FINAL_CALCULATION_STATES:
            return state, time.monotonic() - started
        assert time.monotonic() - started < CANCEL_WAIT_S, f'still {state}'
        time.sleep(0.05)


@pytest.mark.parametrize(
    'kind, code',
    [
        ('sleep', 'import time\ntime.sleep(3600)'),
        ('python loop', 'n = 0\nwhile True:\n    n += 1'),
        ('spark job', 'import time\nspark.range(0, 200, 1, 8).rdd.map(lambda x: time.sleep(30) or x).count()'),
    ],
)
def test_a_calculation_is_cancelled_and_the_session_stays_usable(athena, s3, session, kind, code):
    run(athena, session, f'before_cancel = "{kind}"')
    calc_id = athena.start_calculation_execution(SessionId=session, CodeBlock=code)['CalculationExecutionId']
    deadline = time.monotonic() + STATE_CHANGE_TIMEOUT_S
    while athena.get_calculation_execution_status(CalculationExecutionId=calc_id)['Status']['State'] != 'RUNNING':
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1)
    state, seconds = stop_and_time(athena, calc_id)
    print(f'\nStopCalculationExecution -> {state} for a {kind}: {seconds:.2f} s')
    assert state == 'CANCELED'
    assert wait_session(athena, session, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'
    after = run(athena, session, 'print(before_cancel)')
    assert read(s3, after['Result']['StdOutS3Uri']) == f'{kind}\n'


def test_progress_moves_while_a_spark_job_runs(athena, session):
    code = 'import time\nspark.range(0, 16, 1, 16).rdd.map(lambda x: time.sleep(0.5) or x).count()'
    calc_id = athena.start_calculation_execution(SessionId=session, CodeBlock=code)['CalculationExecutionId']
    seen = []
    deadline = time.monotonic() + CALCULATION_TIMEOUT_S
    while True:
        status = athena.get_calculation_execution_status(CalculationExecutionId=calc_id)
        progress = status.get('Statistics', {}).get('Progress')
        if progress and (not seen or seen[-1] != progress):
            seen.append(progress)
        if status['Status']['State'] in FINAL_CALCULATION_STATES:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status['Status']['State'] == 'COMPLETED'
    assert seen[-1] == '100% (16/16 tasks)', seen
    assert len([p for p in seen if p != seen[-1]]) >= 1, f'progress never showed a partial figure: {seen}'


def test_idle_timeout_terminates_a_session_idle_since_its_last_calculation(athena):
    session_id, _ = start_idle_session(athena, SessionIdleTimeoutInMinutes=1)
    try:
        run(athena, session_id, 'x = 1')
        idle_since = athena.get_session_status(SessionId=session_id)['Status']['IdleSinceDateTime']
        status = wait_session(athena, session_id, ('TERMINATED',), timeout=IDLE_MINUTE_MS / 1000 * 4 + STATE_CHANGE_TIMEOUT_S)
        assert status['StateChangeReason'] == 'Session was terminated per request.'
        assert (status['EndDateTime'] - idle_since).total_seconds() >= IDLE_MINUTE_MS / 1000
    finally:
        athena.terminate_session(SessionId=session_id)


def test_a_runner_killed_with_sigkill_fails_its_session_with_a_reason(athena, spark_owlet):
    session_id, _ = start_idle_session(athena)
    pid = runner_pid(spark_owlet.root, session_id)
    os.kill(pid, signal.SIGKILL)
    status = wait_session(athena, session_id, ('FAILED',), timeout=STATE_CHANGE_TIMEOUT_S)
    assert status['StateChangeReason'].startswith('The session runner exited unexpectedly (signal SIGKILL)'), status
    with pytest.raises(ClientError) as refused:
        athena.start_calculation_execution(SessionId=session_id, CodeBlock='1')
    assert refused.value.response['Error']['Message'] == 'Session is in the FAILED state; needs to be IDLE to accept Calculations.'
    # The runner's Spark JVM, in the runner's process group, went with it.
    wait_group_gone(pid)


def test_terminate_ends_the_session_and_stops_its_runner(athena, spark_owlet):
    session_id, _ = start_idle_session(athena)
    pid = runner_pid(spark_owlet.root, session_id)
    assert athena.terminate_session(SessionId=session_id)['State'] == 'TERMINATING'
    status = wait_session(athena, session_id, ('TERMINATED',), timeout=30)
    assert status['StateChangeReason'] == 'Session was terminated per request.'
    assert 'EndDateTime' in status
    deadline = time.monotonic() + GROUP_GONE_S
    while Path(f'/proc/{pid}').exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f'/proc/{pid}').exists(), 'the runner is still running'
    listed = athena.list_sessions(WorkGroup='spark')['Sessions']
    assert session_id not in [s['SessionId'] for s in listed]


def test_a_calculation_that_cannot_be_interrupted_fails_its_session_after_the_deadline(athena):
    session_id, _ = start_idle_session(athena)
    # SIGINT blocked: neither the interrupt nor a Spark job cancel can reach this code.
    code = 'import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})\ntime.sleep(3600)'
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
    wait_session(athena, session_id, ('BUSY',), timeout=STATE_CHANGE_TIMEOUT_S)
    time.sleep(0.5)
    state, seconds = stop_and_time(athena, calc_id)
    print(f'\nStopCalculationExecution of an uninterruptible calculation -> {state}: {seconds:.2f} s')
    assert state == 'CANCELED'
    status = wait_session(athena, session_id, ('FAILED',), timeout=STATE_CHANGE_TIMEOUT_S)
    assert status['StateChangeReason'] == 'A calculation could not be canceled within 5 seconds, so the session was stopped.'


def test_a_session_whose_spark_cannot_start_fails_with_the_reason(athena):
    session_id = athena.start_session(
        WorkGroup='spark', EngineConfiguration={'SparkProperties': {'spark.driver.memory': 'plenty'}}
    )['SessionId']
    status = wait_session(athena, session_id, ('FAILED', 'IDLE'))
    assert status['State'] == 'FAILED'
    assert status['StateChangeReason'].startswith('Spark could not start in the session:'), status
    print(f'\nreason: {status["StateChangeReason"]}')


def test_sql_cell_magic_prints_the_result_table_to_stdout(athena, s3, session):
    calc = run(athena, session, '%%sql\nSELECT 1 AS one, "owlet" AS name')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert read(s3, calc['Result']['StdOutS3Uri']) == '+---+-----+\n|one| name|\n+---+-----+\n|  1|owlet|\n+---+-----+\n\n'


def test_a_matplotlib_figure_becomes_a_png_in_the_result_document(athena, s3, session):
    import base64

    calc = run(athena, session, 'import matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.title("owlet")')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    document = json.loads(read(s3, calc['Result']['ResultS3Uri']))
    pngs = [o['data']['image/png'] for o in document['outputs'] if 'image/png' in o['data']]
    assert len(pngs) == 1, document
    assert base64.b64decode(pngs[0]).startswith(b'\x89PNG\r\n\x1a\n')
    # Figures are closed after each calculation: the next one has none.
    after = run(athena, session, 'len(plt.get_fignums())')
    assert json.loads(read(s3, after['Result']['ResultS3Uri']))['outputs'] == [{'data': {'text/plain': '0'}, 'lastExpression': True}]
