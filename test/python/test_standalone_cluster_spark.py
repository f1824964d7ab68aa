# Sessions on a real Spark standalone cluster (a master and a worker from a runtime's installed PySpark, on
# 127.0.0.1), through boto3: the session's driver runs in its runner and its tasks on the worker's executors,
# sized from the session's DPUs; ListExecutors shows those executors while they run and TERMINATED once dynamic
# allocation has given them back. Sessions on the cluster, pooled and cold, read and write s3:// paths of
# Owlet's store from the executors, with the session's own key pair (docs/s3.md); the cold one adds a jar from
# s3:// (ADD JAR) whose Hive UDF the executors load and run. A Spark 4.1 session does the same on a cluster of
# Spark 4.1 (executors run the driver's Spark, docs/cluster.md). Every process the test starts is stopped by
# its pid.
import json
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client, make_s3_client
from spark_cluster import spark_home, start_standalone_cluster
from spark_sessions import (
    SESSION_START_TIMEOUT_S,
    ready_pooled_runner,
    run,
    stdout_of,
    wait_calculation,
    wait_for,
    wait_session,
)

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
# A first S3A use starts its classes and the AWS SDK's, in the driver and in a new executor: minutes on a
# loaded 2-core machine.
S3_CALCULATION_TIMEOUT_S = 900

# Which executor runs the calling task: a Python worker descends from its executor's JVM, whose command line
# names it.
EXECUTOR_OF = r'''
import os

def executor_of(_=None):
    pid = os.getpid()
    while pid > 1:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        if b"org.apache.spark.executor.CoarseGrainedExecutorBackend" in args:
            return args[args.index(b"--executor-id") + 1].decode(), pid
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    return "not on an executor", os.getpid()
'''
WHERE_TASKS_RAN = EXECUTOR_OF + r'''
import time

def slowly(_):
    time.sleep(2)
    return executor_of()

print(sorted(set(sc.parallelize(range(4), 4).map(slowly).collect())))
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

        calc = wait_calculation(athena, calc_id, EXECUTOR_TIMEOUT_S)
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


DATA = 'owlet-cluster-data'
# S3 work whose tasks run on the cluster's executors, each recording the executor it ran on: a parquet write (a
# UDF in the written rows names the executor that wrote them) read back, sc.textFile, and a file of sc.addFile
# and a module of sc.addPyFile from s3:// used inside a task, which the executor downloads through its own Hadoop
# configuration (built from the SparkConf it fetched from the driver when it started). PREFIX comes first.
S3_ON_EXECUTORS = EXECUTOR_OF + r'''
import json
from pyspark.sql.functions import udf

base = "s3://owlet-cluster-data/" + PREFIX
on_executor = udf(lambda: executor_of()[0])
(spark.range(100, numPartitions=2).selectExpr("id", "id * id AS square").withColumn("executor", on_executor())
    .write.mode("overwrite").parquet(base + "/squares"))
back = spark.read.parquet(base + "/squares")
lines = sc.textFile("s3a://owlet-cluster-data/inputs/lines.txt", 2).map(lambda line: [executor_of()[0], line]).collect()
sc.addFile("s3://owlet-cluster-data/inputs/greeting.txt")
sc.addPyFile("s3n://owlet-cluster-data/inputs/owlet_cluster_module.py")
in_task = sc.parallelize([0], 1).map(lambda _: [
    executor_of()[0],
    open(__import__("pyspark").SparkFiles.get("greeting.txt")).read(),
    __import__("owlet_cluster_module").ANSWER,
]).collect()
udf_rows = jar_seconds = None
'''
# ADD JAR of a jar in the store, then a Hive UDF of that jar (it answers the id of the executor it runs in,
# SparkEnv's) over four partitions: every executor that runs a task of the query fetches the jar from s3://
# through its own Hadoop configuration and loads the class from it.
JAR_ON_EXECUTORS = r'''
import time
jar_started = time.monotonic()
spark.sql("ADD JAR 's3://owlet-cluster-data/inputs/owlet-udf.jar'")
spark.sql("CREATE TEMPORARY FUNCTION owlet_executor_id AS 'owlet.probe.ExecutorId'")
udf_rows = [[r.executor, r.n] for r in spark.sql(
    "SELECT owlet_executor_id(id) AS executor, count(*) AS n FROM range(0, 100, 1, 4) GROUP BY 1").collect()]
jar_seconds = time.monotonic() - jar_started
'''
S3_REPORT = r'''
hadoop = sc._jsc.hadoopConfiguration()
print(json.dumps({
    "version": spark.version,
    "rows": back.count(),
    "sum": back.agg({"square": "sum"}).first()[0],
    "writers": sorted(r.executor for r in back.select("executor").distinct().collect()),
    "lines": lines,
    "inTask": in_task,
    "udf": udf_rows,
    "jarSeconds": jar_seconds,
    "key": [hadoop.get("fs.s3a.access.key"), hadoop.get("fs.s3a.secret.key")],
}))
'''

# A Hive UDF (Hive's reflective `UDF`, as Hive's own simple functions are written) that names the executor
# evaluating it; compiled by the test against the runtime's own jars, so that it is made here and small.
EXECUTOR_ID_UDF = '''package owlet.probe;

public final class ExecutorId extends org.apache.hadoop.hive.ql.exec.UDF {
    public String evaluate(Long id) {
        return org.apache.spark.SparkEnv.get().executorId();
    }
}
'''


def build_udf_jar(runtime: str, directory: Path) -> Path:
    """owlet-udf.jar, holding EXECUTOR_ID_UDF compiled with the JDK's javac against the runtime's PySpark jars."""
    started = time.monotonic()
    sources, classes = directory / 'src', directory / 'classes'
    (sources / 'owlet' / 'probe').mkdir(parents=True)
    source = sources / 'owlet' / 'probe' / 'ExecutorId.java'
    source.write_text(EXECUTOR_ID_UDF)
    class_path = str(spark_home(runtime) / 'jars' / '*')
    subprocess.run(['javac', '--release', '17', '-nowarn', '-cp', class_path, '-d', str(classes), str(source)], check=True, timeout=300)
    jar = directory / 'owlet-udf.jar'
    subprocess.run(['jar', 'cf', str(jar), '-C', str(classes), '.'], check=True, timeout=120)
    print(f'owlet-udf.jar built in {time.monotonic() - started:.1f} s')
    return jar


def put_inputs(s3, udf_jar: Path) -> None:
    """The bucket and what the sessions read from it: text, a module and the UDF's jar."""
    s3.create_bucket(Bucket=DATA)
    s3.put_object(Bucket=DATA, Key='inputs/lines.txt', Body=b'first\nsecond\nthird\n')
    s3.put_object(Bucket=DATA, Key='inputs/greeting.txt', Body=b'hello from the store')
    s3.put_object(Bucket=DATA, Key='inputs/owlet_cluster_module.py', Body=b'ANSWER = 42\n')
    s3.upload_file(str(udf_jar), DATA, 'inputs/owlet-udf.jar')


def check_s3_on_executors(athena, server, s3, session_id: str, prefix: str, add_jar: bool = False) -> dict:
    """Runs S3_ON_EXECUTORS in the session (and JAR_ON_EXECUTORS when `add_jar`); returns what it printed."""
    code = f'PREFIX = "{prefix}"\n' + S3_ON_EXECUTORS + (JAR_ON_EXECUTORS if add_jar else '') + S3_REPORT
    started = time.monotonic()
    calc = run(athena, session_id, code, timeout=S3_CALCULATION_TIMEOUT_S)
    print(f'the s3:// calculation of session {prefix}{" with ADD JAR" if add_jar else ""}: {time.monotonic() - started:.1f} s')
    output = stdout_of(server, calc)
    assert calc['Status']['State'] == 'COMPLETED', (calc['Status'], output)
    facts = json.loads(output.strip().splitlines()[-1])
    executor_ids = {e['ExecutorId'] for e in workers(athena, session_id)}
    assert facts['rows'] == 100 and facts['sum'] == sum(i * i for i in range(100)), facts
    assert facts['writers'] and set(facts['writers']) <= executor_ids, (facts['writers'], executor_ids)
    assert sorted(line for _, line in facts['lines']) == ['first', 'second', 'third'], facts['lines']
    assert {where for where, _ in facts['lines']} <= executor_ids, facts['lines']
    [[where, greeting, answer]] = facts['inTask']
    assert where in executor_ids and greeting == 'hello from the store' and answer == 42, facts['inTask']
    if add_jar:
        print(f'ADD JAR, CREATE TEMPORARY FUNCTION and the UDF query in it: {facts["jarSeconds"]:.1f} s')
        # The UDF's class was loaded and run on the worker's executors, never on the driver.
        assert facts['udf'] and sum(n for _, n in facts['udf']) == 100, facts['udf']
        assert {where for where, _ in facts['udf']} <= executor_ids, (facts['udf'], executor_ids)
    written = [o['Key'] for o in s3.list_objects_v2(Bucket=DATA, Prefix=f'{prefix}/squares/').get('Contents', [])]
    assert f'{prefix}/squares/_SUCCESS' in written, written
    success = json.loads(s3.get_object(Bucket=DATA, Key=f'{prefix}/squares/_SUCCESS')['Body'].read())
    assert success['committer'] == 'magic', success
    assert facts['key'][0].startswith('OWLS'), facts['key']
    return facts


def assert_executors_fetched_the_jar(cluster) -> None:
    """An executor fetched the jar itself from s3:// (Spark's Executor logs "Fetching <uri> with timestamp" before
    it downloads an added jar), rather than from the driver's file server. The worker copies an executor's
    stderr into its file on a thread of its own, so the line may reach the file a moment after the task's result."""
    wait_for(lambda: f'Fetching s3://{DATA}/inputs/owlet-udf.jar' in cluster.executor_logs(), 'the executor log of the jar\'s fetch', 60)


def end_session_and_check_its_key_refused(athena, server, session_id: str, key_pair: tuple[str, str]) -> None:
    session_s3 = make_s3_client(server.endpoint, *key_pair)
    assert session_s3.get_object(Bucket=DATA, Key='inputs/greeting.txt')['Body'].read() == b'hello from the store'
    athena.terminate_session(SessionId=session_id)
    wait_session(athena, session_id, ('TERMINATED',), timeout=120)
    with pytest.raises(ClientError) as refused:
        session_s3.get_object(Bucket=DATA, Key='inputs/greeting.txt')
    assert refused.value.response['Error']['Code'] == 'InvalidAccessKeyId'


def test_pooled_and_cold_sessions_on_the_cluster_read_and_write_s3_on_the_executors(cluster, owlet_servers, tmp_path):
    # One pooled runner: it starts with Athena's default sizes, so a session asking for those takes it and gets
    # its store and key pair at hand-over; a session with other sizes starts cold (docs/cluster.md).
    server = owlet_servers.start({'OWLET_SPARK_MASTER': cluster.master_url, **CLUSTER_ENV, 'OWLET_WARM_POOL_SIZE': '1'})
    try:
        athena = make_boto3_client(server.endpoint)
        s3 = make_s3_client(server.endpoint)
        put_inputs(s3, build_udf_jar('spark-3.5', tmp_path))

        wait_for(lambda: ready_pooled_runner(server.root), 'a ready pooled runner', SESSION_START_TIMEOUT_S)
        pooled = athena.start_session(WorkGroup='spark', EngineConfiguration={})['SessionId']
        status = wait_session(athena, pooled, ('IDLE', 'FAILED'))
        assert status['State'] == 'IDLE', status
        # A session given a pooled runner has its directory linked to the runner's (session-manager.ts, adopt).
        assert (server.root / 'data' / 'sessions' / pooled).is_symlink(), 'the session should have come from the warm pool'
        # The pooled runner has had no executor before its hand-over.
        assert workers(athena, pooled) == []
        pooled_key = tuple(check_s3_on_executors(athena, server, s3, pooled, 'pooled')['key'])
        end_session_and_check_its_key_refused(athena, server, pooled, pooled_key)

        cold = athena.start_session(
            WorkGroup='spark', EngineConfiguration={'CoordinatorDpuSize': 1, 'MaxConcurrentDpus': 2, 'DefaultExecutorDpuSize': 1}
        )['SessionId']
        status = wait_session(athena, cold, ('IDLE', 'FAILED'))
        assert status['State'] == 'IDLE', status
        assert not (server.root / 'data' / 'sessions' / cold).is_symlink(), 'the session should have started cold'
        # The cold session also adds a jar from the store and runs a Hive UDF of it on its executors.
        cold_key = tuple(check_s3_on_executors(athena, server, s3, cold, 'cold', add_jar=True)['key'])
        assert_executors_fetched_the_jar(cluster)
        assert cold_key[0] != pooled_key[0]
        end_session_and_check_its_key_refused(athena, server, cold, cold_key)
    finally:
        owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


SPARK_4 = 'Apache Spark version 4.1'
ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'


def test_a_spark_4_1_session_on_a_spark_4_1_cluster_reads_and_writes_s3_and_adds_a_jar_on_the_executors(owlet_servers, tmp_path):
    # Executors run the driver's Spark: a session of the Spark 4.1 engine needs a master and a worker of Spark
    # 4.1, started here for this one test. One cold session (no warm pool) does all of it.
    started = time.monotonic()
    cluster = start_standalone_cluster(cores=2, memory='2g', runtime='spark-4.1')
    print(f'\nSpark 4.1 standalone master and worker up in {time.monotonic() - started:.1f} s')
    try:
        server = owlet_servers.start({'OWLET_SPARK_MASTER': cluster.master_url, **CLUSTER_ENV})
        try:
            athena = make_boto3_client(server.endpoint)
            s3 = make_s3_client(server.endpoint)
            put_inputs(s3, build_udf_jar('spark-4.1', tmp_path))
            athena.create_work_group(
                Name='cluster-spark4', Configuration={'EngineVersion': {'SelectedEngineVersion': SPARK_4}, 'ExecutionRole': ROLE}
            )
            session_id = athena.start_session(
                WorkGroup='cluster-spark4',
                EngineConfiguration={'CoordinatorDpuSize': 1, 'MaxConcurrentDpus': 2, 'DefaultExecutorDpuSize': 1},
            )['SessionId']
            status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
            assert status['State'] == 'IDLE', status
            [application] = cluster.state()['activeapps']
            assert application['name'] == f'owlet-{session_id}'
            facts = check_s3_on_executors(athena, server, s3, session_id, 'spark4', add_jar=True)
            assert facts['version'].startswith('4.1.'), facts['version']
            assert_executors_fetched_the_jar(cluster)
            end_session_and_check_its_key_refused(athena, server, session_id, tuple(facts['key']))
            wait_for(lambda: cluster.state()['activeapps'] == [], 'the application to end at the master', 30)
        finally:
            owlet_servers.stop(server)
        assert server.error_logs() == [], 'the server logged errors'
    finally:
        cluster.stop()
    for process in (cluster.master, cluster.worker):
        assert process.poll() is not None, f'{process.args[1]} still runs'
    print(f'the Spark 4.1 cluster test: {time.monotonic() - started:.1f} s')
