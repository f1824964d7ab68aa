# A small load on real PySpark through boto3, bounded in time and on loopback: three sessions, four clients on
# each, every client submitting short calculations and polling them to their end for LOAD_S seconds. Four
# clients share a session, so most submissions meet a BUSY session and are refused as Athena refuses them:
# those refusals are expected, anything else is not. At the end no session or calculation is stuck, and the
# server's resident memory, sampled all along, is reported (test/load.test.ts holds the strict heap check).
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client, s3_object_text
from spark_sessions import CANCEL_WAIT_S, FINAL_CALCULATION_STATES, STATE_CHANGE_TIMEOUT_S, wait_session

SESSIONS = 3
CLIENTS_PER_SESSION = 4
LOAD_S = 20
POLL_S = 0.05
# A calculation here takes well under a second; one that has not ended after this long is stuck.
STUCK_AFTER_S = 60
BUSY = 'Session is in the BUSY state; needs to be IDLE to accept Calculations.'
# A loose bound: this test is about errors and stuck sessions; it fails only when the server's memory runs
# away, not on the garbage collector's ups and downs.
ALLOWED_RSS_GROWTH_KIB = 64 * 1024


def rss_kib(pid: int) -> int:
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError(f'no VmRSS for {pid}')


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = Counter()
        self.expected = Counter()
        self.unexpected: list[str] = []
        self.completed = 0

    def request(self, operation: str) -> None:
        with self.lock:
            self.requests[operation] += 1


def client(endpoint: str, root, session_id: str, number: int, deadline: float, tally: Tally) -> None:
    athena = make_boto3_client(endpoint)
    n = 0
    while time.monotonic() < deadline:
        n += 1
        # Every third calculation runs a small Spark job; the others are Python only.
        code = f'print(spark.range({n * 10}).count() + {number})' if n % 3 == 0 else f'print({number} * {n})'
        expected_stdout = f'{n * 10 + number}\n' if n % 3 == 0 else f'{number * n}\n'
        try:
            tally.request('StartCalculationExecution')
            calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=code)['CalculationExecutionId']
        except ClientError as error:
            response = error.response['Error']
            if response['Code'] == 'InvalidRequestException' and response['Message'] == BUSY:
                with tally.lock:
                    tally.expected['InvalidRequestException (session BUSY)'] += 1
                time.sleep(POLL_S)
                continue
            with tally.lock:
                tally.unexpected.append(f'StartCalculationExecution: {response}')
            continue
        try:
            started = time.monotonic()
            while True:
                tally.request('GetCalculationExecutionStatus')
                state = athena.get_calculation_execution_status(CalculationExecutionId=calc_id)['Status']['State']
                if state in FINAL_CALCULATION_STATES:
                    break
                if time.monotonic() - started > STUCK_AFTER_S:
                    raise AssertionError(f'calculation {calc_id} stuck in {state}')
                time.sleep(POLL_S)
            tally.request('GetCalculationExecution')
            calc = athena.get_calculation_execution(CalculationExecutionId=calc_id)
            assert calc['Status']['State'] == 'COMPLETED', calc['Status']
            stdout = s3_object_text(endpoint, calc['Result']['StdOutS3Uri'])
            assert stdout == expected_stdout, (code, stdout)
            with tally.lock:
                tally.completed += 1
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            with tally.lock:
                tally.unexpected.append(f'{calc_id}: {error!r}')


def test_clients_on_three_real_sessions_meet_no_unexpected_error_and_leave_nothing_stuck(owlet_servers):
    server = owlet_servers.start()
    try:
        athena = make_boto3_client(server.endpoint)
        started = time.monotonic()
        sessions = [athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId'] for _ in range(SESSIONS)]
        for session_id in sessions:
            assert wait_session(athena, session_id, ('IDLE', 'FAILED'))['State'] == 'IDLE'
        print(f'\n{SESSIONS} sessions IDLE after {time.monotonic() - started:.1f} s')

        pid = server.process.pid
        idle_rss = rss_kib(pid)
        samples: list[tuple[float, int]] = []
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.25):
                samples.append((time.monotonic(), rss_kib(pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        tally = Tally()
        load_started = time.monotonic()
        deadline = load_started + LOAD_S
        try:
            with ThreadPoolExecutor(SESSIONS * CLIENTS_PER_SESSION) as pool:
                futures = [
                    pool.submit(client, server.endpoint, server.root, session_id, s * CLIENTS_PER_SESSION + c, deadline, tally)
                    for s, session_id in enumerate(sessions)
                    for c in range(CLIENTS_PER_SESSION)
                ]
                for future in futures:
                    future.result()
        finally:
            sampling.set()
            sampler.join()
        load_s = time.monotonic() - load_started

        # Nothing stuck: every session is IDLE again and every calculation has ended.
        for session_id in sessions:
            assert wait_session(athena, session_id, ('IDLE',), timeout=STATE_CHANGE_TIMEOUT_S)['State'] == 'IDLE'
            calcs = athena.list_calculation_executions(SessionId=session_id, MaxResults=100)
            assert [c for c in calcs['Calculations'] if c['Status']['State'] not in FINAL_CALCULATION_STATES] == []
        third = max(1, len(samples) // 3)
        first = sorted(r for _, r in samples[:third])[third // 2]
        last = sorted(r for _, r in samples[-third:])[third // 2]
        peak = max(r for _, r in samples)
        requests = sum(tally.requests.values())
        print(
            f'{SESSIONS} sessions x {CLIENTS_PER_SESSION} clients, {load_s:.1f} s: {requests} requests, '
            f'{tally.completed} calculations COMPLETED; expected errors: {dict(tally.expected)}; '
            f'unexpected errors: {len(tally.unexpected)}; server RSS idle {idle_rss // 1024} MiB, '
            f'peak {peak // 1024} MiB, median of the first third {first // 1024} MiB, of the last {last // 1024} MiB'
        )
        assert tally.unexpected == []
        assert tally.completed >= SESSIONS, 'each session should have run calculations'
        assert last - first <= ALLOWED_RSS_GROWTH_KIB
        for session_id in sessions:
            athena.terminate_session(SessionId=session_id)
        for session_id in sessions:
            assert wait_session(athena, session_id, ('TERMINATED',), timeout=CANCEL_WAIT_S)['State'] == 'TERMINATED'
        print(f'whole test: {time.monotonic() - started:.1f} s')
    finally:
        owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'
