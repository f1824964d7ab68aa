# Faults on real PySpark, through boto3: a runner killed in the middle of a calculation, a driver JVM that runs
# out of memory, a result store that cannot be written (a local folder that became a file, an S3 endpoint
# nobody listens on), and a corrupt session record in the state file. Each ends in a clear state with a
# reason, the server keeps answering, and another session of the same server runs a calculation afterwards.
import os
import shutil
import signal
import socket
import sqlite3
import time

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client
from spark_sessions import STATE_CHANGE_TIMEOUT_S, run, runner_pid, stdout_of, wait_for, wait_group_gone, wait_session

# The runner's exit reaches the server as the exit of its child process, or within half a second as its
# socket closing: a deadline for polling, generous for a loaded machine (the test prints the time it took).
FAILURE_SEEN_S = 120
# The error record the result store test causes on purpose; any other one the server logs fails the module.
EXPECTED_ERROR_LOGS = {'could not publish calculation results'}


def start_idle_session(athena, **engine) -> str:
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration=engine)['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    return session_id


def start_running(athena, session_id: str, code: str) -> str:
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
    wait_for(
        lambda: athena.get_calculation_execution_status(CalculationExecutionId=calc_id)['Status']['State'] == 'RUNNING',
        'the calculation to run', 60,
    )
    return calc_id


def carries_on(athena, server, session_id: str) -> None:
    """The server answers and its other session runs a calculation to the end."""
    assert server.process.poll() is None, 'the server exited'
    assert session_id in [s['SessionId'] for s in athena.list_sessions(WorkGroup='spark')['Sessions']]
    calc = run(athena, session_id, 'print(6 * 7)')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(server, calc) == '42\n'


def refusal(call, **params) -> dict:
    with pytest.raises(ClientError) as refused:
        call(**params)
    return refused.value.response


@pytest.fixture(scope='module')
def spark_owlet(owlet_servers):
    server = owlet_servers.start()
    yield server
    owlet_servers.stop(server)
    unexpected = [r for r in server.error_logs() if r.get('msg') not in EXPECTED_ERROR_LOGS]
    assert unexpected == [], 'the server logged errors nothing here caused'


@pytest.fixture(scope='module')
def athena(spark_owlet):
    return make_boto3_client(spark_owlet.endpoint)


@pytest.fixture(scope='module')
def bystander(athena):
    """The other session of the server, which every fault must leave alone."""
    session_id = start_idle_session(athena)
    run(athena, session_id, 'kept = "before the faults"')
    yield session_id
    athena.terminate_session(SessionId=session_id)


def test_a_runner_killed_mid_calculation_fails_the_calculation_and_the_session_with_the_signal(athena, spark_owlet, bystander):
    session_id = start_idle_session(athena)
    calc_id = start_running(athena, session_id, 'import time\nspark.range(0, 64, 1, 2).rdd.map(lambda x: time.sleep(1) or x).count()')
    pid = runner_pid(spark_owlet.root, session_id)
    # The runner's scratch directory (Spark's local directories, the JVM's temporary files), which a killed
    # runner cannot remove itself: the server does.
    scratch = spark_owlet.root / 'data' / 'sessions' / session_id / 'tmp'
    assert any(scratch.glob('blockmgr-*')), sorted(p.name for p in scratch.iterdir())
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    status = wait_session(athena, session_id, ('FAILED',), timeout=FAILURE_SEEN_S)
    print(f'\nrunner killed -> session FAILED seen in {time.monotonic() - killed:.2f} s')
    assert status['StateChangeReason'].startswith('The session runner exited unexpectedly (signal SIGKILL)'), status
    calc = athena.get_calculation_execution(CalculationExecutionId=calc_id)
    assert calc['Status']['State'] == 'FAILED'
    assert calc['Status']['StateChangeReason'] == f'The calculation stopped because its session failed: {status["StateChangeReason"]}'
    # Every Result member is set for a FAILED calculation, and what the code printed before is there.
    assert set(calc['Result']) == {'StdOutS3Uri', 'StdErrorS3Uri', 'ResultS3Uri', 'ResultType'}
    wait_group_gone(pid)
    wait_for(lambda: not scratch.exists(), 'the killed runner\'s scratch directory to be removed', STATE_CHANGE_TIMEOUT_S)
    assert refusal(athena.start_calculation_execution, SessionId=session_id, CodeBlock='1')['Error']['Message'] == (
        'Session is in the FAILED state; needs to be IDLE to accept Calculations.'
    )
    carries_on(athena, spark_owlet, bystander)
    assert stdout_of(spark_owlet, run(athena, bystander, 'print(kept)')) == 'before the faults\n'


@pytest.mark.parametrize(
    'where, code',
    [
        # Constant folding evaluates the expression in the driver thread that serves py4j, while planning.
        ('in the driver', 'spark.range(1).selectExpr("length(repeat(\'x\', 1000000000))").collect()'),
        # A column value is computed in a task, in one of the executor's threads (the driver's, in local mode).
        ('in a task', 'spark.range(0, 1, 1, 1).selectExpr("length(repeat(cast(id AS STRING), 1000000000))").collect()'),
    ],
)
def test_a_driver_out_of_memory_fails_the_calculation_and_the_session_with_the_error(athena, spark_owlet, bystander, where, code):
    # Spark's smallest driver heap (it refuses to start with less than 450 MiB of system memory).
    session_id = start_idle_session(athena, SparkProperties={'spark.driver.memory': '512m'})
    pid = runner_pid(spark_owlet.root, session_id)
    started = time.monotonic()
    calc = run(athena, session_id, code)
    print(f'\nout of memory {where}: calculation {calc["Status"]["State"]} after {time.monotonic() - started:.1f} s')
    assert calc['Status']['State'] == 'FAILED', calc['Status']
    assert calc['Status']['StateChangeReason'] == (
        "java.lang.OutOfMemoryError: Java heap space (Spark's driver JVM ran out of memory and exited; the session has ended)"
    )
    status = wait_session(athena, session_id, ('FAILED',), timeout=FAILURE_SEEN_S)
    print(f'session {status["State"]} after {time.monotonic() - started:.1f} s: {status["StateChangeReason"]}')
    assert status['StateChangeReason'] == (
        "Spark's driver JVM ran out of memory (java.lang.OutOfMemoryError: Java heap space) and exited (exit code 3); "
        'see the session log'
    )
    wait_group_gone(pid)
    carries_on(athena, spark_owlet, bystander)


def test_a_result_folder_that_cannot_be_written_fails_the_calculation_and_the_session_carries_on(athena, spark_owlet, bystander):
    session_id = start_idle_session(athena)
    blobs = spark_owlet.root / 'data' / 'objects' / 'blobs'
    calc_id = start_running(athena, session_id, 'import time\ntime.sleep(5)')
    # The object store's folder of blob files becomes a file while the calculation runs: no object can be
    # written. (A folder without write permission would do for another user; these tests may run as root.)
    shutil.rmtree(blobs)
    blobs.write_text('not a folder\n')

    calc = wait_for(
        lambda: (c := athena.get_calculation_execution(CalculationExecutionId=calc_id))['Status']['State'] in ('COMPLETED', 'FAILED') and c,
        'the calculation to end', 60,
    )
    # stdout.txt and stderr.txt are empty (an empty object needs no file): result.json is the one refused.
    uri = f's3://owlet-results/spark/{session_id}/{calc_id}/result.json'
    assert calc['Status']['State'] == 'FAILED', calc['Status']
    assert calc['Status']['StateChangeReason'] == f"The calculation's results could not be written: cannot write {uri}: ENOTDIR: not a directory"
    assert wait_session(athena, session_id, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'

    # Once the store can write again, the same session runs calculations, its state intact.
    blobs.unlink()
    calc = run(athena, session_id, 'print("written after")')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(spark_owlet, calc) == 'written after\n'
    carries_on(athena, spark_owlet, bystander)
    athena.terminate_session(SessionId=session_id)


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago; a connection to it is refused)."""
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def test_an_s3_result_store_nobody_listens_on_fails_the_calculation_in_bounded_time(owlet_servers):
    from moto.server import ThreadedMotoServer

    port = closed_port()
    server = owlet_servers.start(
        {
            'OWLET_RESULTS_S3_ENDPOINT': f'http://127.0.0.1:{port}',
            'OWLET_RESULTS_S3_ACCESS_KEY_ID': 'testing',
            'OWLET_RESULTS_S3_SECRET_ACCESS_KEY': 'testing',
        }
    )
    store = None
    try:
        athena = make_boto3_client(server.endpoint)
        session_id = start_idle_session(athena)
        started = time.monotonic()
        calc = run(athena, session_id, 'print("lost")')
        seconds = time.monotonic() - started
        print(f'\ndead S3 endpoint: calculation {calc["Status"]["State"]} after {seconds:.2f} s')
        assert calc['Status']['State'] == 'FAILED', calc['Status']
        assert calc['Status']['StateChangeReason'] == (
            "The calculation's results could not be written: cannot write "
            f's3://owlet-results/spark/{session_id}/{calc["CalculationExecutionId"]}/stdout.txt: '
            f'connect ECONNREFUSED 127.0.0.1:{port}'
        )
        # Refused connections are retried by the SDK (three attempts, backoff under a second each).
        assert seconds < 20
        assert athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE'

        # A store that comes back on that endpoint gets the next calculation's files.
        store = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
        store.start()
        import boto3

        s3 = boto3.client(
            's3', endpoint_url=f'http://127.0.0.1:{port}', region_name='us-east-1',
            aws_access_key_id='testing', aws_secret_access_key='testing',
        )
        s3.create_bucket(Bucket='owlet-results')
        calc = run(athena, session_id, 'print("kept")')
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        key = calc['Result']['StdOutS3Uri'][len('s3://owlet-results/'):]
        assert s3.get_object(Bucket='owlet-results', Key=key)['Body'].read() == b'kept\n'
        athena.terminate_session(SessionId=session_id)
    finally:
        owlet_servers.stop(server)
        if store is not None:
            store.stop()
    assert [r['msg'] for r in server.error_logs()] == ['could not publish calculation results']


def test_a_corrupt_session_record_answers_an_error_and_the_other_sessions_carry_on(owlet_servers):
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false'}
    first = owlet_servers.start(keep_sessions)
    root = first.root
    second = None
    try:
        athena = make_boto3_client(first.endpoint)
        corrupt, other = start_idle_session(athena), start_idle_session(athena)
        run(athena, other, 'kept = 41')
        corrupt_pid = runner_pid(root, corrupt)
        # A graceful stop leaves both runners running for the next server to take back.
        assert first.stop() == 0
        state = sqlite3.connect(root / 'data' / 'state.sqlite')
        try:
            with state:
                # The first 40 characters of the record's JSON: cut off in the middle, as by a torn write.
                changed = state.execute(
                    "UPDATE records SET body = substr(body, 1, 40) WHERE kind = 'session' AND id = ?", (corrupt,)
                ).rowcount
            assert changed == 1
        finally:
            state.close()
        second = owlet_servers.start(root=root)
    finally:
        if second is None:
            # Stops whatever the first server left running, and removes the directory.
            owlet_servers.stop(first)
    try:
        athena = make_boto3_client(second.endpoint)
        for call in (athena.get_session, athena.get_session_status, athena.terminate_session):
            refused = refusal(call, SessionId=corrupt)
            assert refused['Error']['Code'] == 'InternalServerException', refused
            assert refused['Error']['Message'] == (
                f"Session {corrupt} cannot be read: its record in the Owlet server's state store is corrupt."
            )
        listed = [s['SessionId'] for s in athena.list_sessions(WorkGroup='spark')['Sessions']]
        assert listed == [other]
        # The runner no session can reach any more was stopped when the server started.
        wait_group_gone(corrupt_pid)
        calc = run(athena, other, 'print(kept + 1)')
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert stdout_of(second, calc) == '42\n'
        carries_on(athena, second, other)
    finally:
        owlet_servers.stop(second)
    # Reading the record at start and at each listing is what the server logs about it.
    assert {r['msg'] for r in second.error_logs()} == {'skipping a stored record that cannot be read'}
