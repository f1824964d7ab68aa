# The warm pool on real PySpark, through boto3: a StartSession that takes a started runner answers IDLE,
# runtime settings reach that session, settings that need a fresh JVM start cold (with the session's spark-defaults
# classification, under its SparkProperties), and a pooled runner does not
# outlive the server that started it.
import signal
import time
from pathlib import Path

import pytest

from owlet_clients import make_boto3_client
from spark_sessions import SESSION_START_TIMEOUT_S, ready_pooled_runner, run, stdout_of, wait_for

READY_TIMEOUT_S = SESSION_START_TIMEOUT_S


def pooled_runners(root: Path) -> list[Path]:
    return sorted((root / 'data' / 'sessions').glob('pool-*'))


@pytest.fixture
def pooled_owlet(owlet_servers):
    server = owlet_servers.start({'OWLET_WARM_POOL_SIZE': '1'})
    yield server
    if server.process.poll() is None:
        owlet_servers.stop(server)


def test_a_session_from_the_pool_is_idle_at_once_with_its_settings(pooled_owlet):
    athena = make_boto3_client(pooled_owlet.endpoint)
    wait_for(lambda: ready_pooled_runner(pooled_owlet.root), 'a ready pooled runner', READY_TIMEOUT_S)
    started = time.monotonic()
    session = athena.start_session(
        WorkGroup='spark', EngineConfiguration={'SparkProperties': {'spark.sql.shuffle.partitions': '7'}}
    )
    elapsed = time.monotonic() - started
    print(f'\nwarm StartSession answered {session["State"]} in {elapsed * 1000:.0f} ms')
    assert session['State'] == 'IDLE'
    calc = run(athena, session['SessionId'], 'print(spark.conf.get("spark.sql.shuffle.partitions"))')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(pooled_owlet, calc) == '7\n'

    # A setting that needs a fresh JVM: the session starts cold, with it, and with its spark-defaults
    # classification, which its SparkProperties override.
    cold = athena.start_session(
        WorkGroup='spark',
        EngineConfiguration={
            'SparkProperties': {'spark.driver.memory': '768m', 'spark.sql.ansi.enabled': 'false'},
            'Classifications': [
                {'Name': 'spark-defaults', 'Properties': {'spark.sql.shuffle.partitions': '7', 'spark.sql.ansi.enabled': 'true'}}
            ],
        },
    )
    assert cold['State'] == 'CREATING'
    wait_for(
        lambda: athena.get_session_status(SessionId=cold['SessionId'])['Status']['State'] in ('IDLE', 'FAILED'),
        'the cold session',
        READY_TIMEOUT_S,
    )
    calc = run(
        athena,
        cold['SessionId'],
        'for key in ("spark.driver.memory", "spark.sql.shuffle.partitions", "spark.sql.ansi.enabled"):\n'
        '    print(spark.conf.get(key))',
    )
    assert stdout_of(pooled_owlet, calc) == '768m\n7\nfalse\n'
    for session_id in (session['SessionId'], cold['SessionId']):
        athena.terminate_session(SessionId=session_id)
        wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'TERMINATED', 'TERMINATED', 30)


def test_a_pooled_runner_does_not_outlive_its_server(pooled_owlet, owlet_servers):
    wait_for(lambda: ready_pooled_runner(pooled_owlet.root), 'a ready pooled runner', READY_TIMEOUT_S)
    [directory] = pooled_runners(pooled_owlet.root)
    pid = int((directory / 'runner.pid').read_text())
    pooled_owlet.process.send_signal(signal.SIGKILL)
    pooled_owlet.process.wait(timeout=10)
    # No session needs it: it leaves (with its JVM) on its own, within a few seconds.
    wait_for(lambda: not Path(f'/proc/{pid}').exists(), 'the pooled runner to exit', 20)
    owlet_servers.stop(pooled_owlet)
