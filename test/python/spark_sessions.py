# Waiting on real sessions and calculations, for the test modules that run PySpark through boto3.
import os
import time
from pathlib import Path

import pytest

from owlet_clients import s3_object_text

FINAL_CALCULATION_STATES = ('COMPLETED', 'FAILED', 'CANCELED')
# Deadlines for polling, not measures of speed: starting Spark on a 2-core machine takes tens of seconds when
# it is quiet, and more than three minutes has been seen while other suites load it (load average 37).
SESSION_START_TIMEOUT_S = 600
CALCULATION_TIMEOUT_S = 300
# A runner's process group (its Spark JVM and Python workers) goes within this long of the runner: a JVM
# exiting on a machine loaded by other suites can take tens of seconds.
GROUP_GONE_S = 60
# A state change that follows at once from another (a session IDLE again after its calculation ended, FAILED
# after its runner died): a deadline for polling, generous for a loaded machine, never a measure of speed.
STATE_CHANGE_TIMEOUT_S = 60
# How long a test waits for a stopped calculation to end, or for its session to be IDLE again: a deadline for
# polling, far past the documented cancel bound (15 s), never a check of it (a loaded machine has taken longer;
# the tests print the time it took).
CANCEL_WAIT_S = 120


def wait_for(condition, what: str, timeout: float):
    """Polls `condition` until it returns something true, which is returned; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        time.sleep(0.1)


def wait_session(athena, session_id: str, states, timeout: float = SESSION_START_TIMEOUT_S) -> dict:
    """The session's status once its state is one of `states`."""
    deadline = time.monotonic() + timeout
    while True:
        status = athena.get_session_status(SessionId=session_id)['Status']
        if status['State'] in states:
            return status
        assert time.monotonic() < deadline, f'session {session_id} stayed {status}'
        time.sleep(0.1)


def run(athena, session_id: str, code: str, timeout: float = CALCULATION_TIMEOUT_S) -> dict:
    """Runs `code` in the session and returns GetCalculationExecution's answer once it has ended."""
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
    return wait_calculation(athena, calc_id, timeout)


def wait_calculation(athena, calc_id: str, timeout: float = CALCULATION_TIMEOUT_S) -> dict:
    """GetCalculationExecution's answer once the calculation has ended."""
    deadline = time.monotonic() + timeout
    while True:
        calc = athena.get_calculation_execution(CalculationExecutionId=calc_id)
        if calc['Status']['State'] in FINAL_CALCULATION_STATES:
            return calc
        assert time.monotonic() < deadline, f'calculation stayed {calc["Status"]}'
        time.sleep(0.05)


def stdout_of(server, calc: dict) -> str | None:
    """A calculation's stdout, read from the server's object store over S3 (None before it is written)."""
    return s3_object_text(server.endpoint, calc['Result']['StdOutS3Uri'])


def ready_pooled_runner(root: Path) -> bool:
    """Whether a pooled runner of the server under `root` has Spark up (its log says so)."""
    for directory in (root / 'data' / 'sessions').glob('pool-*'):
        log = directory / 'session.log'
        if log.exists() and ' ready in ' in log.read_text(errors='replace'):
            return True
    return False


def runner_pid(root: Path, session_id: str) -> int:
    """The pid of a session's runner, from the file the runner writes in its directory under `root`."""
    return int((root / 'data' / 'sessions' / session_id / 'runner.pid').read_text().strip())


def wait_group_gone(pid: int) -> None:
    """Fails unless every process of the group `pid` leads (a runner, its Spark JVM) is gone within GROUP_GONE_S."""
    deadline = time.monotonic() + GROUP_GONE_S
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f'a process of runner {pid}\'s group (its Spark JVM) is still running')
