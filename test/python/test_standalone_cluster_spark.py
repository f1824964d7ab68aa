# Sessions on a real Spark standalone cluster (a master and a worker from the installed PySpark, on 127.0.0.1),
# through boto3: the session's driver runs in its runner and its tasks on the worker's executors, sized from
# the session's DPUs; ListExecutors shows those executors while they run and TERMINATED once dynamic
# allocation has given them back. Every process the test starts is stopped by its pid.
import time

import pytest

from owlet_clients import make_boto3_client
from spark_cluster import start_standalone_cluster
from spark_sessions import run, stdout_of, wait_for, wait_session

# Small DPUs, so that an executor fits the test worker (2 cores, 2 GiB): 1 core, a 640m heap.
CLUSTER_ENV = {
    'OWLET_DPU_CORES': '1',
    'OWLET_DPU_MEMORY': '1g',
    # Short, so that the test sees dynamic allocation give an idle executor back.
    'OWLET_EXECUTOR_IDLE_TIMEOUT': '3s',
    'OWLET_DRIVER_HOST': '127.0.0.1',
    'OWLET_DRIVER_BIND_ADDRESS': '127.0.0.1',
}
# An executor is a JVM started by the worker once a job needs it.
EXECUTOR_TIMEOUT_S = 90

# Which executor ran each task: a Python worker descends from its executor's JVM, whose command line names it.
WHERE_TASKS_RAN = r'''
import os, time

def executor_of(_):
    time.sleep(2)
    pid = os.getpid()
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in args:
            return args[args.index(b"--executor-id") + 1].decode(), pid
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return "not on an executor", os.getpid()

print(sorted(set(sc.parallelize(range(4), 4).map(executor_of).collect())))
'''


@pytest.fixture(scope='module')
def cluster():
    started = time.monotonic()
    cluster = start_standalone_cluster(cores=2, memory='2g')
    print(f'\nstandalone master and worker up in {time.monotonic() - started:.1f} s')
    yield cluster
    cluster.stop()
    for process in (cluster.master, cluster.worker):
        assert process.poll() is not None, f'{process.args[1]} still runs'


def workers(athena, session_id: str) -> list[dict]:
    listed = athena.list_executors(SessionId=session_id)['ExecutorsSummary']
    return [e for e in listed if e['ExecutorType'] == 'WORKER']


def test_a_session_runs_its_tasks_on_the_workers_executors_which_come_and_go(cluster, owlet_servers):
    server = owlet_servers.start({'OWLET_SPARK_MASTER': cluster.master_url, **CLUSTER_ENV})
    try:
        athena = make_boto3_client(server.endpoint)
        started = time.monotonic()
        session_id = athena.start_session(
            WorkGroup='spark', EngineConfiguration={'CoordinatorDpuSize': 1, 'MaxConcurrentDpus': 2, 'DefaultExecutorDpuSize': 1}
        )['SessionId']
        status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
        print(f'StartSession to IDLE on the standalone cluster: {time.monotonic() - started:.1f} s')
        assert status['State'] == 'IDLE', status
        [application] = cluster.state()['activeapps']
        assert application['name'] == f'owlet-{session_id}'
        # Before any job the session holds no executor: dynamic allocation starts from none.
        assert workers(athena, session_id) == []

        # The DPU mapping, as the driver got it: MaxConcurrentDpus 2 is the coordinator and one executor.
        settings = run(
            athena,
            session_id,
            'for key in ["spark.master", "spark.executor.cores", "spark.executor.memory", "spark.executor.memoryOverhead",'
            ' "spark.driver.memory", "spark.dynamicAllocation.maxExecutors", "spark.cores.max"]: print(key, spark.conf.get(key))',
        )
        assert settings['Status']['State'] == 'COMPLETED', settings['Status']
        assert stdout_of(server, settings).splitlines() == [
            f'spark.master {cluster.master_url}',
            'spark.executor.cores 1',
            'spark.executor.memory 640m',
            'spark.executor.memoryOverhead 384m',
            'spark.driver.memory 640m',
            'spark.dynamicAllocation.maxExecutors 1',
            'spark.cores.max 1',
        ]

        calc_id = athena.start_calculation_execution(SessionId=session_id, CodeBlock=WHERE_TASKS_RAN)['CalculationExecutionId']
        asked = time.monotonic()
        [live] = wait_for(lambda: workers(athena, session_id), 'a WORKER executor while the job runs', EXECUTOR_TIMEOUT_S)
        print(f'a WORKER executor listed {time.monotonic() - asked:.1f} s after the calculation started')
        assert live['ExecutorState'] == 'REGISTERED', live
        assert 'TerminationDateTime' not in live
        assert live['ExecutorSize'] == 1
        executor_pids = cluster.executor_pids()
        assert len(executor_pids) == 1, executor_pids

        calc = wait_for(
            lambda: (c := athena.get_calculation_execution(CalculationExecutionId=calc_id))['Status']['State']
            in ('COMPLETED', 'FAILED', 'CANCELED') and c,
            'the calculation',
            EXECUTOR_TIMEOUT_S,
        )
        assert calc['Status']['State'] == 'COMPLETED', calc['Status']
        # Every task ran on the one executor the session was allowed, in the worker's executor JVM.
        assert stdout_of(server, calc) == f"[('{live['ExecutorId']}', {executor_pids[0]})]\n"

        idle = time.monotonic()
        [gone] = wait_for(
            lambda: [e for e in workers(athena, session_id) if e['ExecutorState'] == 'TERMINATED'],
            'the idle executor to be given back',
            EXECUTOR_TIMEOUT_S,
        )
        print(f'the idle WORKER executor TERMINATED {time.monotonic() - idle:.1f} s after the calculation ended')
        assert gone['ExecutorId'] == live['ExecutorId']
        assert gone['TerminationDateTime'] >= gone['StartDateTime']
        wait_for(lambda: cluster.executor_pids() == [], 'the executor JVM to exit', 30)
        [coordinator] = athena.list_executors(SessionId=session_id, ExecutorStateFilter='REGISTERED')['ExecutorsSummary']
        assert coordinator['ExecutorType'] == 'COORDINATOR'

        athena.terminate_session(SessionId=session_id)
        wait_session(athena, session_id, ('TERMINATED',), timeout=60)
        # The driver left the master with its session.
        wait_for(lambda: cluster.state()['activeapps'] == [], 'the application to end at the master', 30)
    finally:
        owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'
