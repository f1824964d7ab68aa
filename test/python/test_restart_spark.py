# A server stopped while a calculation runs, killed with SIGKILL or asked to stop with SIGTERM, and started
# again on the same data directory: the session's runner kept running, the new server takes it back, and the
# calculation lands as if nothing happened, through boto3 on real PySpark.
import signal
import time

import pytest

from owlet_clients import make_boto3_client
from spark_sessions import stdout_of, wait_for

FINAL = ('COMPLETED', 'FAILED', 'CANCELED')


@pytest.mark.parametrize('stop_signal', [signal.SIGKILL, signal.SIGTERM], ids=['SIGKILL', 'SIGTERM'])
def test_a_calculation_running_when_the_server_stops_completes_after_a_restart(owlet_servers, stop_signal):
    # The default: a stopping server leaves its sessions running.
    keep_sessions = {'OWLET_TERMINATE_SESSIONS_ON_EXIT': 'false'}
    first = owlet_servers.start(keep_sessions)
    root = first.root
    athena = make_boto3_client(first.endpoint)
    session_id = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE', 'IDLE', 180)
    calc = athena.start_calculation_execution(SessionId=session_id, CodeBlock='kept = 41')
    wait_for(
        lambda: athena.get_calculation_execution_status(CalculationExecutionId=calc['CalculationExecutionId'])['Status']['State'] in FINAL,
        'the first calculation', 60,
    )
    code = 'import time\ntime.sleep(4)\nprint(kept + 1)'
    token = f'restart-{stop_signal.name}'.ljust(32, '0')
    running = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code, ClientRequestToken=token)['CalculationExecutionId']
    wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'BUSY', 'BUSY', 30)

    first.process.send_signal(stop_signal)
    first.process.wait(timeout=20)
    first.stop()
    started = time.monotonic()
    second = owlet_servers.start(keep_sessions, root=root)
    print(f'\nrestart after {stop_signal.name} with one live session: {time.monotonic() - started:.2f} s to the ready line')
    try:
        athena = make_boto3_client(second.endpoint)
        calc = wait_for(
            lambda: (c := athena.get_calculation_execution(CalculationExecutionId=running))['Status']['State'] in FINAL and c,
            'the calculation to finish after the restart', 60,
        )
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        assert stdout_of(second, calc) == '42\n'
        # The token still answers the first response and starts nothing new.
        again = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code, ClientRequestToken=token)
        assert again['CalculationExecutionId'] == running
        wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'IDLE', 'IDLE', 10)
        after = athena.start_calculation_execution(SessionId=session_id, CodeBlock='print(kept)')['CalculationExecutionId']
        calc = wait_for(
            lambda: (c := athena.get_calculation_execution(CalculationExecutionId=after))['Status']['State'] in FINAL and c,
            'a calculation after the restart', 60,
        )
        assert stdout_of(second, calc) == '41\n'
        assert len(athena.list_calculation_executions(SessionId=session_id)['Calculations']) == 3, 'nothing lost or doubled'
        athena.terminate_session(SessionId=session_id)
        wait_for(lambda: athena.get_session_status(SessionId=session_id)['Status']['State'] == 'TERMINATED', 'TERMINATED', 30)
    finally:
        owlet_servers.stop(second)
