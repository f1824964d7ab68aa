# Each engine version runs the Spark it names (docs/engines.md), on real PySpark through boto3: a smoke run of
# Owlet's Spark 4.1 engine (start, calculate, cancel, a Connect client of its version), the behaviours that differ
# between Spark 3.5 and 4 pinned on each engine (ANSI arithmetic, an error message's text, Connect clients), a
# path-based table of every format each engine has a build of (Iceberg and Delta Lake on both, Hudi on 3.5), and
# a table format with no build for an engine refused. Two sessions, one per engine, each with every format it
# has switched on, serve the whole module: sessions are slow to start on a loaded machine.
import json
import subprocess
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import make_boto3_client, runtime_python
from spark_sessions import CALCULATION_TIMEOUT_S, CANCEL_WAIT_S, FINAL_CALCULATION_STATES, run, stdout_of, wait_session

ROLE = 'arn:aws:iam::123456789012:role/OwletPytestRole'
SPARK_4 = 'Apache Spark version 4.1'
CLIENT_TIMEOUT_S = 600
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
# Hudi's quick start sets Kryo and Hudi's registrator beside the extension (hudi.apache.org/docs/quick-start-guide).
HUDI = {
    'spark.sql.extensions': 'org.apache.spark.sql.hudi.HoodieSparkSessionExtension',
    'spark.serializer': 'org.apache.spark.serializer.KryoSerializer',
    'spark.kryo.registrator': 'org.apache.spark.HoodieSparkKryoRegistrar',
}


def formats(*settings: dict) -> dict:
    """The SparkProperties of several formats at once: their `spark.sql.extensions` joined, the rest merged."""
    merged = {k: v for setting in settings for k, v in setting.items() if k != 'spark.sql.extensions'}
    merged['spark.sql.extensions'] = ','.join(s['spark.sql.extensions'] for s in settings)
    return merged


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
    with owlet_servers.serving(owlet_servers.start({'OWLET_WARM_POOL_SIZE': '0'})) as server:
        yield server


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
def spark4_session(athena, spark4_workgroup, tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp('iceberg4'))
    session_id = start(athena, spark4_workgroup, formats(DELTA, ICEBERG) | {'spark.sql.catalog.local.warehouse': warehouse})
    yield session_id
    athena.terminate_session(SessionId=session_id)


@pytest.fixture(scope='module')
def spark35_session(athena, tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp('iceberg35'))
    session_id = start(athena, 'spark', formats(DELTA, ICEBERG, HUDI) | {'spark.sql.catalog.local.warehouse': warehouse})
    yield session_id
    athena.terminate_session(SessionId=session_id)


SESSIONS = [pytest.param('spark4_session', id='spark-4.1'), pytest.param('spark35_session', id='spark-3.5')]


def test_engine_versions_name_their_spark(athena, server, spark4_session, spark35_session):
    assert printed(athena, server, spark4_session, 'print(spark.version)') == '4.1.4'
    assert printed(athena, server, spark35_session, 'print(spark.version)') == '3.5.7'


def test_division_by_zero_is_null_on_spark_3_5_and_an_error_on_spark_4(athena, server, spark4_session, spark35_session):
    assert printed(athena, server, spark35_session, "print(spark.sql('select 1/0 AS q').first().q)") == 'None'
    failed = run(athena, spark4_session, "spark.sql('select 1/0').collect()")
    assert failed['Status']['State'] == 'FAILED', failed['Status']
    assert '[DIVIDE_BY_ZERO] Division by zero.' in failed['Status']['StateChangeReason'], failed['Status']


def test_overflow_and_bad_casts_are_values_on_spark_3_5_and_errors_on_spark_4(athena, server, spark4_session, spark35_session):
    # Spark 3.5's default (spark.sql.ansi.enabled=false) wraps a long around and casts bad text to NULL; Spark 4
    # turned ANSI mode on by default (Spark's SQL migration guide, "Upgrading from Spark SQL 3.5 to 4.0").
    code = "print(spark.sql(\"select 9223372036854775807 + 1 AS o, cast('a' AS int) AS c\").first())"
    assert printed(athena, server, spark35_session, code) == 'Row(o=-9223372036854775808, c=None)'
    overflow = run(athena, spark4_session, "spark.sql('select 9223372036854775807 + 1').collect()")
    assert overflow['Status']['State'] == 'FAILED', overflow['Status']
    assert '[ARITHMETIC_OVERFLOW]' in overflow['Status']['StateChangeReason'], overflow['Status']
    cast = run(athena, spark4_session, "spark.sql(\"select cast('a' AS int)\").collect()")
    assert cast['Status']['State'] == 'FAILED', cast['Status']
    assert "[CAST_INVALID_INPUT] The value 'a' of the type \"STRING\" cannot be cast to \"INT\"" in cast['Status']['StateChangeReason'], cast['Status']


# The same mistake, in each engine's words: Spark 4 puts the SQLSTATE in the message. Users' tests and
# stderr files hold this text, so an engine's is pinned here as its Spark says it.
PARSE_ERRORS = {
    'spark35_session': "ParseException: \n[PARSE_SYNTAX_ERROR] Syntax error at or near 'selec'.(line 1, pos 0)",
    'spark4_session': "ParseException: \n[PARSE_SYNTAX_ERROR] Syntax error at or near 'selec'. SQLSTATE: 42601 (line 1, pos 0)",
}


@pytest.mark.parametrize('session_fixture', SESSIONS)
def test_an_error_message_reads_as_the_engine_s_spark_writes_it(athena, request, session_fixture):
    failed = run(athena, request.getfixturevalue(session_fixture), "spark.sql('selec 1')")
    assert failed['Status']['State'] == 'FAILED', failed['Status']
    assert PARSE_ERRORS[session_fixture] in failed['Status']['StateChangeReason'], failed['Status']


@pytest.mark.parametrize('session_fixture', SESSIONS)
def test_a_delta_table_on_a_path(athena, server, request, session_fixture, tmp_path):
    path = str(tmp_path / 'delta-table')
    code = (
        f"spark.range(5).write.format('delta').save({path!r})\n"
        f"spark.range(5, 7).write.format('delta').mode('append').save({path!r})\n"
        f"print(spark.read.format('delta').load({path!r}).count())"
    )
    assert printed(athena, server, request.getfixturevalue(session_fixture), code) == '7'
    assert (tmp_path / 'delta-table' / '_delta_log').is_dir()


@pytest.mark.parametrize('session_fixture', SESSIONS)
def test_an_iceberg_table_in_a_hadoop_catalog_on_a_path(athena, server, request, session_fixture):
    code = (
        "spark.sql('CREATE TABLE local.db.t (id bigint) USING iceberg')\n"
        "spark.sql('INSERT INTO local.db.t VALUES (1), (2)')\n"
        "print(spark.table('local.db.t').count())"
    )
    assert printed(athena, server, request.getfixturevalue(session_fixture), code) == '2'


def test_a_hudi_table_on_a_path_on_spark_3_5(athena, server, spark35_session, tmp_path):
    path = str(tmp_path / 'hudi-table')
    code = (
        "options = {'hoodie.table.name': 'owlet_hudi', 'hoodie.datasource.write.recordkey.field': 'id',\n"
        "           'hoodie.datasource.write.precombine.field': 'ts', 'hoodie.datasource.write.partitionpath.field': ''}\n"
        "frame = spark.range(4).selectExpr('id', 'id AS ts', \"concat('v', id) AS v\")\n"
        f"frame.write.format('hudi').options(**options).mode('overwrite').save({path!r})\n"
        "print(sorted(r.v for r in spark.read.format('hudi').load(" + repr(path) + ").collect()))"
    )
    assert printed(athena, server, spark35_session, code) == "['v0', 'v1', 'v2', 'v3']"
    assert (tmp_path / 'hudi-table' / '.hoodie').is_dir()


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
        assert time.monotonic() - asked < CANCEL_WAIT_S, state
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
