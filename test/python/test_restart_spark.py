# A server stopped while a calculation runs, killed with SIGKILL or asked to stop with SIGTERM, and started
# again on the same data directory: the session's runner kept running, the new server takes it back, and the
# calculation lands as if nothing happened, through boto3 on real PySpark. A runner whose server does not come
# back within the session's idle timeout ends itself, JVM and all, and the server that comes back later records
# the session TERMINATED.
import signal
import time
from pathlib import Path

import pytest

from owlet_clients import make_boto3_client
from spark_sessions import CALCULATION_TIMEOUT_S, SESSION_START_TIMEOUT_S, STATE_CHANGE_TIMEOUT_S, runner_pid, stdout_of, wait_for, wait_group_gone

FINAL = ('COMPLETED', 'FAILED', 'CANCELED')


@pytest.mark.parametrize('stop_signal', [signal.SIGKILL, signal.SIGTERM], ids=['SIGKILL', 'SIGTERM'])
def test_a_calculation_running_when_the_server_stops_completes_after_a_restart(owlet_servers, stop_signal):
    # The default: a stopping server leaves its sessions running.
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false'}
    first = owlet_servers.start(keep_sessions)
    root = first.root
    athena = make_boto3_client(first.endpoint)
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE', 'IDLE', SESSION_START_TIMEOUT_S)
    calc = athena.start_calculation_execution(SessionId=session_id, CodeBlock='kept = 41')
    wait_for(
        lambda: athena.get_calculation_execution_status(CalculationExecutionId=calc['CalculationExecutionId'])['Status']['State'] in FINAL,
        'the first calculation', CALCULATION_TIMEOUT_S,
    )
    code = 'import time\ntime.sleep(4)\nprint(kept + 1)'
    token = f'restart-{stop_signal.name}'.ljust(32, '0')
    running = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code, ClientRequestToken=token)['CalculationExecutionId']
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'BUSY', 'BUSY', STATE_CHANGE_TIMEOUT_S)

    first.process.send_signal(stop_signal)
    # A deadline for a stuck server, generous for a loaded machine.
    first.process.wait(timeout=STATE_CHANGE_TIMEOUT_S * 2)
    first.stop()
    started = time.monotonic()
    second = owlet_servers.start(keep_sessions, root=root)
    print(f'\nrestart after {stop_signal.name} with one live session: {time.monotonic() - started:.2f} s to the ready line')
    try:
        athena = make_boto3_client(second.endpoint)
        calc = wait_for(
            lambda: (c := athena.get_calculation_execution(CalculationExecutionId=running))['Status']['State'] in FINAL and c,
            'the calculation to finish after the restart', CALCULATION_TIMEOUT_S,
        )
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert stdout_of(second, calc) == '42\n'
        # The token still answers the first response and starts nothing new.
        again = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code, ClientRequestToken=token)
        assert again['CalculationExecutionId'] == running
        wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE', 'IDLE', STATE_CHANGE_TIMEOUT_S)
        after = athena.start_calculation_execution(SessionId=session_id, CodeBlock='print(kept)')['CalculationExecutionId']
        calc = wait_for(
            lambda: (c := athena.get_calculation_execution(CalculationExecutionId=after))['Status']['State'] in FINAL and c,
            'a calculation after the restart', CALCULATION_TIMEOUT_S,
        )
        assert stdout_of(second, calc) == '41\n'
        assert len(athena.list_calculation_executions(SessionId=session_id)['Calculations']) == 3, 'nothing lost or doubled'
        athena.terminate_session(SessionId=session_id)
        wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'TERMINATED', 'TERMINATED', 30)
    finally:
        owlet_servers.stop(second)


# One minute of SessionIdleTimeoutInMinutes lasts this long on the servers of the test below.
IDLE_MINUTE_MS = 4000


def test_a_session_runner_whose_server_never_comes_back_ends_itself_after_its_idle_timeout(owlet_servers):
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false', 'OWLET_IDLE_MINUTE_MS': str(IDLE_MINUTE_MS)}
    idle_timeout_s = 2 * IDLE_MINUTE_MS / 1000
    first = owlet_servers.start(keep_sessions)
    root = first.root
    athena = make_boto3_client(first.endpoint)
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={}, SessionIdleTimeoutInMinutes=2)['SessionId']
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE', 'IDLE', SESSION_START_TIMEOUT_S)
    pid = runner_pid(root, session_id)
    # The server goes while a calculation runs, so that its own idle reaper cannot have ended the session.
    running = athena.start_calculation_execution(SessionId=session_id, CodeBlock='import time\ntime.sleep(5)\nprint("done")')[
        'CalculationExecutionId'
    ]
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'BUSY', 'BUSY', STATE_CHANGE_TIMEOUT_S)
    server_gone = time.time()
    first.process.send_signal(signal.SIGKILL)
    # A deadline for a stuck server, generous for a loaded machine.
    first.process.wait(timeout=STATE_CHANGE_TIMEOUT_S * 2)
    first.stop()

    # The runner finishes the calculation, waits out the idle timeout with no server, and ends with its JVM.
    wait_for(lambda: not Path(f'/proc/{pid}').exists(), 'the runner to end itself', idle_timeout_s + 120)
    wait_group_gone(pid)

    second = owlet_servers.start(keep_sessions, root=root)
    try:
        athena = make_boto3_client(second.endpoint)
        status = athena.get_session_status(SessionId=session_id)['Status']
        assert status['State'] == 'TERMINATED', status
        # The reason Owlet's own idle reaper gives (test_sessions_spark.py).
        assert status['StateChangeReason'] == 'Session was terminated per request.'
        assert status['EndDateTime'].timestamp() - server_gone >= idle_timeout_s
        calc = athena.get_calculation_execution(CalculationExecutionId=running)
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert stdout_of(second, calc) == 'done\n'
    finally:
        owlet_servers.stop(second)
