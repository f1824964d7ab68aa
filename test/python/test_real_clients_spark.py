# The clients people use against Athena for Apache Spark, unchanged, against Owlet on real PySpark: PyAthena's
# SparkCursor, AsyncSparkCursor and AioSparkCursor, and awswrangler's athena.create_spark_session and
# run_spark_calculation with its endpoint from WR_ATHENA_ENDPOINT_URL. One session, started by awswrangler,
# serves every test (each Spark start costs tens of seconds on a loaded machine); the last test ends it
# through PyAthena's close().
import asyncio
import threading
import time

import boto3
import pytest

from owlet_clients import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, make_boto3_client
from spark_sessions import (
    CALCULATION_TIMEOUT_S,
    CANCEL_WAIT_S,
    FINAL_CALCULATION_STATES,
    SESSION_START_TIMEOUT_S,
    stdout_of,
    wait_for,
    wait_session,
)

# PyAthena's own test of a failing block against the real service expects exactly this stderr (stripped).
FAILING_BLOCK = '\nfoobar\n'
FAILING_STDERR = 'File "<stdin>", line 2, in <module>\nNameError: name \'foobar\' is not defined'
SLEEPING_BLOCK = 'import time\ntime.sleep(3600)'
SHOW_TABLE = '+---+\n| id|\n+---+\n|  0|\n|  1|\n|  2|\n+---+'


@pytest.fixture(scope='module')
def spark_owlet(owlet_servers):
    server = owlet_servers.start()
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module', autouse=True)
def s3_endpoint(spark_owlet):
    """PyAthena 4 gives its S3 client (stdout and stderr of calculations) none of the Athena endpoint_url
    (pyathena/connection.py, `_s3_client_kwargs`): the user points it at Owlet the way botocore offers,
    through AWS_ENDPOINT_URL_S3, read when the client is made."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('AWS_ENDPOINT_URL_S3', spark_owlet.endpoint)
        yield


@pytest.fixture(scope='module')
def athena(spark_owlet):
    return make_boto3_client(spark_owlet.endpoint)


@pytest.fixture(scope='module')
def wrangler(spark_owlet):
    """awswrangler, reaching Owlet through WR_ATHENA_ENDPOINT_URL as its documentation says."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('WR_ATHENA_ENDPOINT_URL', spark_owlet.endpoint)
        import awswrangler as wr

        # The configuration is read from the environment when awswrangler is first imported; this reads it again.
        wr.config.reset('athena_endpoint_url')
        assert wr.config.athena_endpoint_url == spark_owlet.endpoint
        yield wr
    wr.config.reset('athena_endpoint_url')


@pytest.fixture(scope='module')
def boto3_session():
    return boto3.Session(aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY, region_name=REGION)


@pytest.fixture(scope='module')
def session_id(wrangler, boto3_session, athena):
    started = time.monotonic()
    session = wrangler.athena.create_spark_session(workgroup='spark', max_concurrent_dpus=2, boto3_session=boto3_session)
    print(f'\nawswrangler create_spark_session -> IDLE: {time.monotonic() - started:.1f} s')
    yield session
    athena.terminate_session(SessionId=session)


def pyathena_connection(endpoint: str, cursor_class, aio: bool = False):
    import pyathena

    arguments = dict(
        work_group='spark',
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        cursor_class=cursor_class,
        poll_interval=0.2,
    )
    if aio:
        return pyathena.aio_connect(**arguments)
    return pyathena.connect(**arguments)


def wait_running(athena, calculation_id: str) -> None:
    state = wait_for(
        lambda: (s := athena.get_calculation_execution_status(CalculationExecutionId=calculation_id)['Status']['State'])
        in ('RUNNING', *FINAL_CALCULATION_STATES)
        and s,
        'the calculation to run',
        30,
    )
    assert state == 'RUNNING', state


def test_awswrangler_runs_a_calculation_in_its_session(wrangler, boto3_session, session_id, spark_owlet):
    calc = wrangler.athena.run_spark_calculation(
        code='spark.range(3).show()', workgroup='spark', session_id=session_id, boto3_session=boto3_session
    )
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(spark_owlet, calc).strip() == SHOW_TABLE


def test_awswrangler_raises_the_reason_of_a_failing_calculation(wrangler, boto3_session, session_id):
    with pytest.raises(wrangler.exceptions.CalculationFailed) as failed:
        wrangler.athena.run_spark_calculation(code=FAILING_BLOCK, workgroup='spark', session_id=session_id, boto3_session=boto3_session)
    assert str(failed.value) == "NameError: name 'foobar' is not defined"


def test_spark_cursor_executes_and_reads_stdout_and_the_calculation(spark_owlet, session_id):
    from pyathena.spark.cursor import SparkCursor

    cursor = pyathena_connection(spark_owlet.endpoint, SparkCursor).cursor(session_id=session_id)
    cursor.execute('spark.range(3).show()')
    assert cursor.get_std_out() == SHOW_TABLE
    assert cursor.get_std_error() == ''
    # What PyAthena's own test_spark_dataframe asserts against the real service.
    assert cursor.state == 'COMPLETED'
    assert cursor.state_change_reason is None
    assert cursor.working_directory and cursor.working_directory.startswith(f's3://owlet-results/spark/{session_id}/')
    assert cursor.dpu_execution_in_millis and cursor.progress
    assert cursor.std_out_s3_uri and cursor.std_error_s3_uri and cursor.result_s3_uri and cursor.result_type
    # A session the cursor did not start is left running by close().
    cursor.close()


def test_spark_cursor_raises_the_stderr_of_a_failing_block(spark_owlet, session_id):
    from pyathena.error import OperationalError
    from pyathena.spark.cursor import SparkCursor

    cursor = pyathena_connection(spark_owlet.endpoint, SparkCursor).cursor(session_id=session_id)
    with pytest.raises(OperationalError) as failed:
        cursor.execute(FAILING_BLOCK)
    assert str(failed.value) == FAILING_STDERR
    assert cursor.get_std_error() == FAILING_STDERR


def test_spark_cursor_cancels_a_running_calculation(spark_owlet, athena, session_id):
    from pyathena.error import OperationalError
    from pyathena.spark.cursor import SparkCursor

    cursor = pyathena_connection(spark_owlet.endpoint, SparkCursor).cursor(session_id=session_id)
    outcome: list[BaseException] = []

    def execute():
        try:
            cursor.execute(SLEEPING_BLOCK)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome.append(error)

    worker = threading.Thread(target=execute, daemon=True)
    worker.start()
    wait_for(lambda: cursor.calculation_id, 'the calculation to start', CALCULATION_TIMEOUT_S)
    wait_running(athena, cursor.calculation_id)
    cursor.cancel()
    worker.join(timeout=CANCEL_WAIT_S)
    assert not worker.is_alive(), 'execute() did not return after cancel()'
    assert len(outcome) == 1 and isinstance(outcome[0], OperationalError), outcome
    assert cursor.state == 'CANCELED'
    wait_session(athena, session_id, ('IDLE',), timeout=CANCEL_WAIT_S)


def test_async_spark_cursor_executes_fails_and_cancels(spark_owlet, athena, session_id):
    from pyathena.spark.async_cursor import AsyncSparkCursor

    cursor = pyathena_connection(spark_owlet.endpoint, AsyncSparkCursor).cursor(session_id=session_id)
    try:
        _, future = cursor.execute('spark.range(3).show()')
        calc = future.result(timeout=CALCULATION_TIMEOUT_S)
        assert calc.state == 'COMPLETED'
        assert calc.dpu_execution_in_millis > 0
        assert cursor.get_std_out(calc).result(timeout=CALCULATION_TIMEOUT_S) == SHOW_TABLE

        _, future = cursor.execute(FAILING_BLOCK)
        calc = future.result(timeout=CALCULATION_TIMEOUT_S)
        assert calc.state == 'FAILED'
        assert calc.state_change_reason == "NameError: name 'foobar' is not defined"
        assert cursor.get_std_error(calc).result(timeout=CALCULATION_TIMEOUT_S) == FAILING_STDERR

        calculation_id, future = cursor.execute(SLEEPING_BLOCK)
        wait_running(athena, calculation_id)
        cursor.cancel(calculation_id).result(timeout=CALCULATION_TIMEOUT_S)
        assert future.result(timeout=CANCEL_WAIT_S).state == 'CANCELED'
        wait_session(athena, session_id, ('IDLE',), timeout=CANCEL_WAIT_S)
    finally:
        cursor.close(wait=True)
    assert athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE'


def test_aio_spark_cursor_executes_fails_and_cancels(spark_owlet, athena, session_id):
    from pyathena.aio.spark.cursor import AioSparkCursor
    from pyathena.error import OperationalError

    async def scenario():
        connection = await pyathena_connection(spark_owlet.endpoint, AioSparkCursor, aio=True)
        cursor = await AioSparkCursor.create(connection, session_id=session_id)
        try:
            await cursor.execute('spark.range(3).show()')
            assert await cursor.get_std_out() == SHOW_TABLE
            assert cursor.dpu_execution_in_millis > 0

            with pytest.raises(OperationalError) as failed:
                await cursor.execute(FAILING_BLOCK)
            assert str(failed.value) == FAILING_STDERR
            assert await cursor.get_std_error() == FAILING_STDERR

            failed_id = cursor.calculation_id
            running = asyncio.ensure_future(cursor.execute(SLEEPING_BLOCK))
            while cursor.calculation_id in (None, failed_id):
                assert not running.done(), running
                await asyncio.sleep(0.05)
            await asyncio.to_thread(wait_running, athena, cursor.calculation_id)
            await cursor.cancel()
            with pytest.raises(OperationalError):
                await asyncio.wait_for(running, CANCEL_WAIT_S)
            assert cursor.state == 'CANCELED'
        finally:
            await cursor.close()

    asyncio.run(scenario())
    wait_session(athena, session_id, ('IDLE',), timeout=CANCEL_WAIT_S)


def test_closing_a_cursor_that_terminates_on_close_ends_the_session(spark_owlet, athena, session_id):
    from pyathena.spark.cursor import SparkCursor

    cursor = pyathena_connection(spark_owlet.endpoint, SparkCursor).cursor(session_id=session_id, terminate_session_on_close=True)
    cursor.close()
    status = wait_session(athena, session_id, ('TERMINATED',), timeout=SESSION_START_TIMEOUT_S)
    assert status['StateChangeReason'] == 'Session was terminated per request.'
