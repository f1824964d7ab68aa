# ListExecutors, GetResourceDashboard and GetSessionEndpoint on real PySpark, through boto3, with a real Spark
# Connect client (pyspark's, in a process of its own) reaching the session's driver through Owlet's proxy.
# One session, taken from the warm pool, serves the tests of this module, which run in file order: the last
# ones wait for a token to expire, then terminate the session.
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from owlet_clients import ACCOUNT_ID, REGION, make_boto3_client
from spark_connect_clients import client_pythons, run_client
from spark_sessions import ready_pooled_runner, run, wait_for

# Short enough that a test can watch a token expire; long enough for a client to start and query on a busy
# machine (importing pyspark's Connect client takes seconds).
TOKEN_SECONDS = 60
READY_TIMEOUT_S = 180
CLIENT_PYTHONS = client_pythons()

# A Spark Connect client. Prints one JSON line: what it read, or the error its first call got.
CLIENT = r'''
import json, sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
try:
    ids = sorted(row.id for row in spark.sql("SELECT id FROM global_temp.owlet_shared").collect())
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    sys.exit(2)
# The calculation's own temp view: a Connect client has a Spark session of its own in the driver.
try:
    spark.sql("SELECT * FROM calculation_only").collect()
    plain = "visible"
except Exception as error:
    # The message names the error's condition whatever the client's version (a 3.5 client's getErrorClass()
    # is None for a 4.x server's errors: docs/spark-connect.md).
    plain = str(error)
spark.range(3).createOrReplaceGlobalTempView("from_connect")
print(json.dumps({"ids": ids, "plain": plain, "version": spark.version}))
spark.stop()
'''


def connect_client(url: str, tmp_path: Path, python: str = CLIENT_PYTHONS['pyspark-4']) -> tuple[int, dict]:
    """Runs the client against `url`; returns its exit code and what it printed last."""
    return run_client(python, CLIENT, url, tmp_path)


def connection_string(endpoint: dict) -> str:
    """What a pyspark client connects to: Owlet's EndpointUrl with the token as the header Athena's clients send."""
    return f"{endpoint['EndpointUrl']}/;x-aws-proxy-auth={endpoint['AuthToken']}"


@pytest.fixture(scope='module')
def server(owlet_servers):
    with owlet_servers.serving(owlet_servers.start({'OWLET_WARM_POOL_SIZE': '1', 'OWLET_CONNECT_TOKEN_SECONDS': str(TOKEN_SECONDS)})) as server:
        yield server


@pytest.fixture(scope='module')
def athena(server):
    return make_boto3_client(server.endpoint)


@pytest.fixture(scope='module')
def session(server, athena):
    """A session from the warm pool (its Spark Connect server started with the pooled runner), with a token taken
    at once: the last tests watch that token expire."""
    wait_for(lambda: ready_pooled_runner(server.root), 'a ready pooled runner', READY_TIMEOUT_S)
    started = athena.start_session(WorkGroup='spark', EngineConfiguration={'MaxConcurrentDpus': 2})
    assert started['State'] == 'IDLE', 'the session did not come from the pool'
    first_token = athena.get_session_endpoint(SessionId=started['SessionId'])
    yield {'id': started['SessionId'], 'first_token': first_token}
    athena.terminate_session(SessionId=started['SessionId'])


def test_list_executors_reports_the_driver_as_the_coordinator(athena, session):
    listed = athena.list_executors(SessionId=session['id'])
    assert listed['SessionId'] == session['id']
    assert 'NextToken' not in listed
    [coordinator] = listed['ExecutorsSummary']
    assert coordinator['ExecutorId'] == 'driver'
    assert coordinator['ExecutorType'] == 'COORDINATOR'
    assert coordinator['ExecutorState'] == 'REGISTERED'
    assert coordinator['ExecutorSize'] == 1
    assert 'TerminationDateTime' not in coordinator
    # Epoch milliseconds: the pooled driver joined the session when it started, moments ago.
    assert abs(coordinator['StartDateTime'] / 1000 - time.time()) < 600, coordinator
    assert athena.list_executors(SessionId=session['id'], ExecutorStateFilter='TERMINATED')['ExecutorsSummary'] == []
    assert len(athena.list_executors(SessionId=session['id'], MaxResults=1)['ExecutorsSummary']) == 1


def test_get_resource_dashboard_gives_the_live_spark_ui(athena, session):
    arn = f'arn:aws:athena:{REGION}:{ACCOUNT_ID}:workgroup/spark/session/{session["id"]}'
    url = athena.get_resource_dashboard(ResourceARN=arn)['Url']
    assert url.startswith('http://127.0.0.1:')
    # The User Guide's CLI example passes a session id.
    assert athena.get_resource_dashboard(ResourceARN=session['id'])['Url'] == url
    with urllib.request.urlopen(f'{url}/jobs/', timeout=30) as page:
        assert page.status == 200
        assert b'Spark' in page.read()


@pytest.mark.parametrize('python', CLIENT_PYTHONS.values(), ids=CLIENT_PYTHONS.keys())
def test_a_spark_connect_client_reads_a_global_temp_view_of_a_calculation(athena, session, tmp_path, python):
    made = run(
        athena,
        session['id'],
        'spark.range(5).createOrReplaceGlobalTempView("owlet_shared")\nspark.range(1).createOrReplaceTempView("calculation_only")',
    )
    assert made['Status']['State'] == 'COMPLETED', made['Status']
    endpoint = athena.get_session_endpoint(SessionId=session['id'])
    assert endpoint['EndpointUrl'].startswith('sc://127.0.0.1:')
    assert endpoint['AuthTokenExpirationTime'] > datetime.now(timezone.utc)
    code, answer = connect_client(connection_string(endpoint), tmp_path, python)
    assert code == 0, answer
    assert answer['ids'] == [0, 1, 2, 3, 4]
    assert '[TABLE_OR_VIEW_NOT_FOUND]' in answer['plain'], answer
    assert answer['version'].startswith('4.')
    # And back: what the client made is there for the next calculation.
    seen = run(athena, session['id'], 'print(spark.sql("SELECT count(*) AS n FROM global_temp.from_connect").first().n)')
    assert seen['Status']['State'] == 'COMPLETED', seen['Status']


@pytest.mark.parametrize(
    'suffix, message',
    [
        ('/;x-aws-proxy-auth=not-a-token', 'The Spark Connect token is not valid. Call GetSessionEndpoint for a new one.'),
        ('', 'This Spark Connect endpoint needs the AuthToken of GetSessionEndpoint in the x-aws-proxy-auth header'),
    ],
)
def test_a_wrong_or_missing_token_is_refused(athena, session, tmp_path, suffix, message):
    endpoint = athena.get_session_endpoint(SessionId=session['id'])
    code, answer = connect_client(endpoint['EndpointUrl'] + suffix, tmp_path)
    assert code == 2, answer
    assert message in answer['message'], answer


def test_several_tokens_are_valid_at_once(athena, session, tmp_path):
    older = athena.get_session_endpoint(SessionId=session['id'])
    newer = athena.get_session_endpoint(SessionId=session['id'])
    assert older['AuthToken'] != newer['AuthToken']
    assert connect_client(connection_string(older), tmp_path)[0] == 0


def test_an_expired_token_is_refused_and_a_new_one_works(athena, session, tmp_path):
    first = session['first_token']
    remaining = (first['AuthTokenExpirationTime'] - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(0.0, remaining) + 1)
    code, answer = connect_client(connection_string(first), tmp_path)
    assert code == 2, answer
    assert 'The Spark Connect token has expired. Call GetSessionEndpoint for a new one.' in answer['message'], answer
    renewed = athena.get_session_endpoint(SessionId=session['id'])
    code, answer = connect_client(connection_string(renewed), tmp_path)
    assert code == 0, answer
    assert answer['ids'] == [0, 1, 2, 3, 4]


def test_an_ended_session_keeps_its_coordinator_and_loses_its_endpoint_and_ui(athena, session, tmp_path):
    endpoint = athena.get_session_endpoint(SessionId=session['id'])
    [live] = athena.list_executors(SessionId=session['id'])['ExecutorsSummary']
    athena.terminate_session(SessionId=session['id'])
    wait_for(
        lambda: athena.get_session_status(SessionId=session['id'])['Status']['State'] == 'TERMINATED', 'TERMINATED', 60
    )
    [coordinator] = athena.list_executors(SessionId=session['id'])['ExecutorsSummary']
    assert coordinator['ExecutorState'] == 'TERMINATED'
    assert coordinator['StartDateTime'] == live['StartDateTime']
    assert coordinator['TerminationDateTime'] >= coordinator['StartDateTime']
    for call, params in (
        (athena.get_session_endpoint, {'SessionId': session['id']}),
        (athena.get_resource_dashboard, {'ResourceARN': session['id']}),
    ):
        with pytest.raises(ClientError) as refused:
            call(**params)
        assert refused.value.response['Error']['Code'] == 'InvalidRequestException'
    assert 'Owlet keeps no Spark history server' in refused.value.response['Error']['Message']
    code, answer = connect_client(connection_string(endpoint), tmp_path)
    assert code == 2, answer
    assert f'Session {session["id"]} has ended' in answer['message'], answer
