# Each engine version runs the Spark it names (docs/engines.md), on real PySpark through boto3: a smoke run of
# Owlet's Spark 4.1 engine (start, calculate, cancel, a Connect client of its version, a Delta Lake table),
# the behaviours that differ between Spark 3.5 and 4 pinned on each engine, an Iceberg table on the default
# engine, and a table format with no build for an engine refused.
import json
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client, runtime_python
from spark_sessions import CALCULATION_TIMEOUT_S, FINAL_CALCULATION_STATES, run, stdout_of, wait_session

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
SPARK_4 = 'Apache Spark version 4.1'
# The documented bound on StopCalculationExecution plus a margin for a loaded machine (test_sessions_spark.py).
CANCEL_BOUND_S = 15
CLIENT_TIMEOUT_S = 120
# A table format's first write loads and compiles its classes: minutes on a loaded 2-core machine.
FORMAT_CALCULATION_TIMEOUT_S = 600

DELTA = {
    'spark.sql.extensions': 'io.delta.sql.DeltaSparkSessionExtension',
    'spark.sql.catalog.spark_catalog': 'org.apache.spark.sql.delta.catalog.DeltaCatalog',
}
ICEBERG = {
    'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    'spark.sql.catalog.local': 'org.apache.iceberg.spark.SparkCatalog',
    'spark.sql.catalog.local.type': 'hadoop',
}
HUDI = {'spark.sql.extensions': 'org.apache.spark.sql.hudi.HoodieSparkSessionExtension'}

# A Spark Connect client: prints its version and the ids it read, as one JSON line.
CLIENT = r'''
import json, sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
print(json.dumps({"version": spark.version, "ids": [r.id for r in spark.range(3).collect()]}))
spark.stop()
'''


@pytest.fixture(scope='module')
def server(owlet_servers):
    # No warm pool: every session here starts cold on its own engine.
    server = owlet_servers.start({'OWLET_WARM_POOL_SIZE': '0'})
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


@pytest.fixture(scope='module')
def spark4_workgroup(athena):
    athena.create_work_group(
        Name='spark4', Configuration={'EngineVersion': {'SelectedEngineVersion': SPARK_4}, 'ExecutionRole': ROLE}
    )
    return 'spark4'


def start(athena, workgroup: str, properties: dict) -> str:
    session_id = athena.start_session(
        WorkGroup=workgroup, EngineConfiguration={'MaxConcurrentDpus': 2, 'SparkProperties': properties}
    )['SessionId']
    status = wait_session(athena, session_id, ('IDLE', 'FAILED'))
    assert status['State'] == 'IDLE', status
    return session_id


def printed(athena, server, session_id: str, code: str) -> str:
    calc = run(athena, session_id, code, timeout=FORMAT_CALCULATION_TIMEOUT_S)
    assert calc['Status']['State'] == 'COMPLETED', calc['Status']
    return stdout_of(server, calc).strip()


@pytest.fixture(scope='module')
def spark4_session(athena, spark4_workgroup):
    session_id = start(athena, spark4_workgroup, DELTA)
    yield session_id
    athena.terminate_session(SessionId=session_id)


@pytest.fixture(scope='module')
def spark35_session(athena, tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp('iceberg'))
    session_id = start(athena, 'spark', {**ICEBERG, 'spark.sql.catalog.local.warehouse': warehouse})
    yield session_id
    athena.terminate_session(SessionId=session_id)


def test_engine_versions_name_their_spark(athena, server, spark4_session, spark35_session):
    assert printed(athena, server, spark4_session, 'print(spark.version)') == '4.1.4'
    assert printed(athena, server, spark35_session, 'print(spark.version)') == '3.5.7'


def test_division_by_zero_is_null_on_spark_3_5_and_an_error_on_spark_4(athena, server, spark4_session, spark35_session):
    assert printed(athena, server, spark35_session, "print(spark.sql('select 1/0 AS q').first().q)") == 'None'
    failed = run(athena, spark4_session, "spark.sql('select 1/0').collect()")
    assert failed['Status']['State'] == 'FAILED', failed['Status']
    assert '[DIVIDE_BY_ZERO] Division by zero.' in failed['Status']['StateChangeReason'], failed['Status']


def test_a_delta_table_on_spark_4(athena, server, spark4_session, tmp_path):
    path = tmp_path / 'delta-table'
    code = f"spark.range(5).write.format('delta').save({str(path)!r})\nprint(spark.read.format('delta').load({str(path)!r}).count())"
    assert printed(athena, server, spark4_session, code) == '5'
    assert (path / '_delta_log').is_dir()


def test_an_iceberg_table_on_spark_3_5(athena, server, spark35_session):
    code = (
        "spark.sql('CREATE TABLE local.db.t (id bigint) USING iceberg')\n"
        "spark.sql('INSERT INTO local.db.t VALUES (1), (2)')\n"
        "print(spark.table('local.db.t').count())"
    )
    assert printed(athena, server, spark35_session, code) == '2'


def test_a_calculation_on_spark_4_is_cancelled(athena, spark4_session):
    calc_id = athena.start_calculation_execution(
        SessionId=spark4_session, CodeBlock="spark.range(0, 10**12, 1, 4).selectExpr('sum(id * id % 7)').collect()"
    )['CalculationExecutionId']
    deadline = time.monotonic() + CALCULATION_TIMEOUT_S
    while athena.get_calculation_execution(CalculationExecutionId=calc_id)['Status']['State'] != 'RUNNING':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    asked = time.monotonic()
    athena.stop_calculation_execution(CalculationExecutionId=calc_id)
    while True:
        state = athena.get_calculation_execution(CalculationExecutionId=calc_id)['Status']['State']
        if state in FINAL_CALCULATION_STATES:
            break
        assert time.monotonic() - asked < CANCEL_BOUND_S * 4, state
        time.sleep(0.1)
    assert state == 'CANCELED'
    # The session goes on.
    assert wait_session(athena, spark4_session, ('IDLE', 'FAILED'))['State'] == 'IDLE'


@pytest.mark.parametrize('runtime, session_fixture, version', [('spark-4.1', 'spark4_session', '4.1.4'), ('spark-3.5', 'spark35_session', '3.5.7')])
def test_a_connect_client_of_the_engine_s_version(athena, request, tmp_path, runtime, session_fixture, version):
    session_id = request.getfixturevalue(session_fixture)
    endpoint = athena.get_session_endpoint(SessionId=session_id)
    script = tmp_path / 'client.py'
    script.write_text(CLIENT, encoding='utf-8')
    url = f"{endpoint['EndpointUrl']}/;x-aws-proxy-auth={endpoint['AuthToken']}"
    completed = subprocess.run(
        [str(runtime_python(runtime)), str(script), url],
        capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer == {'version': version, 'ids': [0, 1, 2]}


def test_a_format_without_a_build_for_the_engine_is_refused(athena, spark4_workgroup):
    with pytest.raises(ClientError) as refused:
        athena.start_session(WorkGroup=spark4_workgroup, EngineConfiguration={'MaxConcurrentDpus': 2, 'SparkProperties': HUDI})
    assert refused.value.response['Error']['Code'] == 'InvalidRequestException'
    assert 'Apache Hudi, which has no build for Apache Spark version 4.1' in refused.value.response['Error']['Message']
