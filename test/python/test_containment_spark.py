# Calculation code that prints too much, never ends, forks, or exits the interpreter, end to end through boto3 on
# real PySpark (docs/limits.md): the server passes OWLET_CALCULATION_OUTPUT_LIMIT_BYTES to its runners, and each
# session either stays IDLE or ends FAILED with a reason, leaving no process of its own behind.
import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client, s3_object_text
from spark_sessions import (
    CALCULATION_TIMEOUT_S,
    CANCEL_WAIT_S,
    FINAL_CALCULATION_STATES,
    SESSION_START_TIMEOUT_S,
    STATE_CHANGE_TIMEOUT_S,
    run,
    runner_pid,
    stdout_of,
    wait_for,
    wait_group_gone,
    wait_session,
)

LIMIT = 1024 * 1024
LINE = 'x' * 999 + '\n'
# 1,000-byte lines past the limit: 1,048 whole lines, the start of the next, and the marker on a line of its own.
CUT_LINES = LINE * (LIMIT // len(LINE)) + 'x' * (LIMIT % len(LINE)) + '\n'
# Sessions of this module, started at once: one that stays usable, and one for each way of ending a session.
SESSIONS = ('usable', 'stubborn', 'os_exit', 'sigkill', 'spark_stop')


def marker(stream):
    return f'[Owlet: {stream} truncated at {LIMIT} bytes; the calculation went on and the rest of its {stream} was discarded]\n'


@pytest.fixture(scope='module')
def server(owlet_servers):
    # Room for the module's sessions at once (a local session holds 1 DPU).
    with owlet_servers.serving(owlet_servers.start({'OWLET_CALCULATION_OUTPUT_LIMIT_BYTES': str(LIMIT), 'OWLET_DPU_CAPACITY': str(len(SESSIONS))})) as server:
        yield server


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


@pytest.fixture(scope='module')
def sessions(athena):
    """The module's sessions by name, all IDLE; started together, so that their Sparks start side by side."""
    started = time.monotonic()
    ids = {
        name: athena.start_session(WorkGroup='spark', EngineConfiguration={'MaxConcurrentDpus': 2})['SessionId'] for name in SESSIONS
    }
    try:
        for name, session_id in ids.items():
            status = wait_session(athena, session_id, ('IDLE', 'FAILED'), timeout=SESSION_START_TIMEOUT_S + 60)
            assert status['State'] == 'IDLE', (name, status)
        print(f'\n{len(ids)} sessions IDLE in {time.monotonic() - started:.1f} s')
        yield ids
    finally:
        for session_id in ids.values():
            try:
                athena.terminate_session(SessionId=session_id)
            except ClientError:
                pass


def running(pid):
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(') ', 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ('Z', 'X')


def read_result_file(server, calc, member):
    return s3_object_text(server.endpoint, calc['Result'][member])


def start(athena, session_id, code):
    calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
    wait_for(
        lambda: athena.get_calculation_execution_status(CalculationExecutionId=calc_id)['Status']['State'] == 'RUNNING', 'RUNNING', 30
    )
    return calc_id


def wait_calculation(athena, calc_id, timeout=CALCULATION_TIMEOUT_S):
    return wait_for(
        lambda: (c := athena.get_calculation_execution(CalculationExecutionId=calc_id))['Status']['State'] in FINAL_CALCULATION_STATES and c,
        f'calculation {calc_id} to end', timeout,
    )


def test_output_past_the_limit_is_cut_and_the_session_stays_usable(athena, server, sessions):
    session = sessions['usable']
    code = 'import os\nfor i in range(5000):\n    print("x" * 999)\n    os.write(2, b"x" * 999 + b"\\n")'
    calc = run(athena, session, code)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(server, calc) == CUT_LINES + marker('stdout')
    assert read_result_file(server, calc, 'StdErrorS3Uri') == CUT_LINES + marker('stderr')
    assert wait_session(athena, session, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'
    assert stdout_of(server, run(athena, session, 'print("small")')) == 'small\n'


def test_a_giant_result_is_cut_to_the_limit(athena, server, sessions):
    calc = run(athena, sessions['usable'], '"z" * 3_000_000')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    document = read_result_file(server, calc, 'ResultS3Uri')
    assert len(document.encode()) <= LIMIT
    [output] = json.loads(document)['outputs']
    assert output['data']['text/plain'].endswith(f'z\n[Owlet: output cut, the result document holds at most {LIMIT} bytes]')


@pytest.mark.parametrize('code, reason', [('raise SystemExit(3)', 'SystemExit: 3'), ('exit()', 'SystemExit: None')])
def test_exiting_the_interpreter_fails_the_calculation_and_the_session_stays_idle(athena, server, sessions, code, reason):
    session = sessions['usable']
    calc = run(athena, session, 'kept = 41\n' + code)
    assert calc['Status']['State'] == 'FAILED'
    assert calc['Status']['StateChangeReason'] == reason
    assert read_result_file(server, calc, 'StdErrorS3Uri').endswith(reason + '\n')
    assert wait_session(athena, session, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'
    assert stdout_of(server, run(athena, session, 'print(kept + 1)')) == '42\n'


def test_a_forked_child_ends_with_the_code_block(athena, server, sessions):
    session = sessions['usable']
    before = len(athena.list_calculation_executions(SessionId=session)['Calculations'])
    code = (
        'import os\n'
        'pid = os.fork()\n'
        'if pid == 0:\n'
        '    print("child")\n'
        'else:\n'
        '    _, status = os.waitpid(pid, 0)\n'
        '    print("parent; the child exited with", os.waitstatus_to_exitcode(status))\n'
    )
    calc = run(athena, session, code)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    assert stdout_of(server, calc) == 'child\nparent; the child exited with 0\n'
    assert wait_session(athena, session, ('IDLE', 'FAILED'), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'
    assert len(athena.list_calculation_executions(SessionId=session)['Calculations']) == before + 1
    assert stdout_of(server, run(athena, session, 'print("one runner")')) == 'one runner\n'


def test_a_calculation_that_swallows_every_interrupt_fails_its_session_at_the_deadline(athena, server, sessions, tmp_path):
    session = sessions['stubborn']
    pid = runner_pid(server.root, session)
    # The loop marks a file once it is inside its `try`: the stop is sent only then, not after a guessed delay
    # (a stop that came before the loop would cancel the calculation as usual).
    inside = tmp_path / 'inside-the-loop'
    code = f'import time\nwhile True:\n    try:\n        open({str(inside)!r}, "w").close()\n        time.sleep(1)\n    except BaseException:\n        pass'
    calc_id = start(athena, session, code)
    wait_for(inside.exists, 'the calculation to be inside its loop', CALCULATION_TIMEOUT_S)
    stopped_at = time.monotonic()
    athena.stop_calculation_execution(CalculationExecutionId=calc_id)
    calc = wait_calculation(athena, calc_id, timeout=CANCEL_WAIT_S)
    print(f'\nStopCalculationExecution of a loop swallowing every interrupt -> {calc["Status"]["State"]}: {time.monotonic() - stopped_at:.2f} s')
    assert calc['Status']['State'] == 'CANCELED'
    status = wait_session(athena, session, ('FAILED',), timeout=STATE_CHANGE_TIMEOUT_S)
    assert status['StateChangeReason'] == 'A calculation could not be canceled within 5 seconds, so the session was stopped.'
    wait_group_gone(pid)


@pytest.mark.parametrize(
    'name, code, how',
    [
        ('os_exit', 'print("last words")\nimport os\nos._exit(1)', 'exit code 1'),
        ('sigkill', 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)', 'signal SIGKILL'),
    ],
)
def test_killing_the_interpreter_fails_the_session_with_a_reason(athena, server, sessions, name, code, how):
    session = sessions[name]
    pid = runner_pid(server.root, session)
    calc_id = athena.start_calculation_execution(SessionId=session, CodeBlock=code)['CalculationExecutionId']
    calc = wait_calculation(athena, calc_id)
    status = wait_session(athena, session, ('FAILED',), timeout=STATE_CHANGE_TIMEOUT_S)
    print(f'\n{name}: session {status["StateChangeReason"]!r}; calculation {calc["Status"].get("StateChangeReason")!r}')
    assert status['StateChangeReason'].startswith(f'The session runner exited unexpectedly ({how}); see its log in ')
    assert calc['Status']['State'] == 'FAILED'
    assert calc['Status']['StateChangeReason'] == f'The calculation stopped because its session failed: {status["StateChangeReason"]}'
    wait_group_gone(pid)
    if name == 'os_exit':
        # Written just before the runner died; its output writer copied it after.
        wait_for(lambda: stdout_of(server, calc) == 'last words\n', 'the last words in stdout.txt', STATE_CHANGE_TIMEOUT_S)


def test_spark_stop_fails_the_session_with_a_reason(athena, server, sessions):
    session = sessions['spark_stop']
    pid = runner_pid(server.root, session)
    calc = run(athena, session, 'spark.stop()')
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    status = wait_session(athena, session, ('FAILED',), timeout=STATE_CHANGE_TIMEOUT_S)
    print(f'\nspark.stop(): session {status["StateChangeReason"]!r}')
    assert status['StateChangeReason'] == (
        "Spark was stopped by the session's code (spark.stop()); the session cannot run calculations any more"
    )
    wait_group_gone(pid)


def test_terminate_session_ends_every_process_a_calculation_left_running(athena, server, sessions):
    session = sessions['usable']
    pid = runner_pid(server.root, session)
    code = (
        'import multiprocessing, os, subprocess, threading, time\n'
        'sleeper = subprocess.Popen(["sleep", "1000"])\n'
        'worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(1000,))\n'
        'worker.start()\n'
        'forked = os.fork()\n'
        'if forked == 0:\n'
        '    while True:\n'
        '        time.sleep(1)\n'
        'threading.Thread(target=time.sleep, args=(1000,)).start()\n'
        'print(sleeper.pid, worker.pid, forked)'
    )
    calc = run(athena, session, code)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    left_running = [int(p) for p in stdout_of(server, calc).split()]
    assert all(running(p) for p in left_running)
    started = time.monotonic()
    assert athena.terminate_session(SessionId=session)['State'] == 'TERMINATING'
    wait_session(athena, session, ('TERMINATED',), timeout=CANCEL_WAIT_S)
    print(f'\nTerminateSession with three processes and a thread left running: {time.monotonic() - started:.2f} s')
    assert [p for p in left_running if running(p)] == []
    wait_group_gone(pid)
