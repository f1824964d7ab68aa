# Athena-shaped Spark Connect on real PySpark: Owlet's Connect listener on port 443 over TLS, with a certificate
# from Owlet's own authority, and GetSessionEndpoint answering `https://<host>` as Athena does. The client turns
# that into a connection string exactly as AWS's own Athena client does, and runs with pyspark's real Connect
# client, trusting the authority through gRPC's GRPC_DEFAULT_SSL_ROOTS_FILE_PATH. One session, taken from the
# warm pool, serves the tests of this module.
import os
import random
import socket
import ssl

import pytest

from owlet_clients import make_boto3_client
from spark_connect_clients import client_pythons, run_client
from spark_sessions import ready_pooled_runner, run, wait_for

# A pooled runner starts Spark: on a loaded 2-core machine that has taken minutes.
READY_TIMEOUT_S = 600
CLIENT_PYTHONS = client_pythons()
# What Athena's clients dial: they append it to the host of EndpointUrl themselves.
ATHENA_PORT = 443

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason='listening on port 443 needs root (the test machines and CI run as root)'
)

# A Spark Connect client. Prints one JSON line: what it read, or the error its first call got.
CLIENT = r'''
import json, sys
from pyspark.sql import SparkSession

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
try:
    ranged = [row.id for row in spark.range(3).collect()]
    shared = sorted(row.id for row in spark.sql("SELECT id FROM global_temp.owlet_tls").collect())
except Exception as error:
    print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    sys.exit(2)
print(json.dumps({"range": ranged, "shared": shared, "server": spark.version}))
spark.stop()
'''


def athena_connection_string(endpoint: dict) -> str:
    """The connection string AWS's own Athena Spark Connect client makes of GetSessionEndpoint's answer.

    The facts, from SageMaker Unified Studio's `sagemaker_studio/utils/spark/session/athena/
    athena_spark_session_manager.py` (`AthenaSparkSessionManager._construct_spark_endpoint_url`): an EndpointUrl
    starting with `https://` has that scheme replaced once by `sc://`; then come the port 443 and the parameters
    `use_ssl=true`, `x-aws-proxy-port=15002`, `x-aws-force-h2=true` and `x-aws-proxy-auth=<AuthToken>`, in that
    order. dbt-athena's Spark Connect client (dbt-labs/dbt-adapters PR 1874) makes `sc://<host>:443/;use_ssl=true`
    the same way and sends the token as the same `x-aws-proxy-auth` metadata.
    """
    url = endpoint['EndpointUrl']
    if url.startswith('https://'):
        url = 'sc://' + url[len('https://'):]
    params = ['use_ssl=true', 'x-aws-proxy-port=15002', 'x-aws-force-h2=true', f"x-aws-proxy-auth={endpoint['AuthToken']}"]
    return f'{url}:{ATHENA_PORT}/;' + ';'.join(params)


def loopback_address() -> str:
    """A loopback address of this test's own, so that parallel runs each have port 443 to themselves."""
    return f'127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}'


def start_on_port_443(owlet_servers):
    """A server whose Connect listener is on port 443 of a loopback address of its own, serving TLS with a
    certificate of Owlet's authority, and named by GetSessionEndpoint as Athena names its endpoints."""
    # Another run may hold port 443 on the address drawn: then another address is drawn.
    for attempt in range(5):
        address = loopback_address()
        env = {
            'OWLET_WARM_POOL_SIZE': '1',
            'OWLET_CONNECT_HOST': address,
            'OWLET_CONNECT_PORT': str(ATHENA_PORT),
            'OWLET_CONNECT_TLS': 'true',
            'OWLET_CONNECT_PUBLIC_URL': f'https://{address}',
        }
        try:
            server = owlet_servers.start(env)
        except RuntimeError as error:
            if 'EADDRINUSE' not in str(error) or attempt == 4:
                raise
            continue
        server.connect_address = address
        server.ca_file = server.root / 'data' / 'connect-ca.pem'
        return server


@pytest.fixture(scope='module')
def server(owlet_servers):
    with owlet_servers.serving(start_on_port_443(owlet_servers)) as server:
        yield server


@pytest.fixture(scope='module')
def session(server):
    """A session from the warm pool, in which a calculation made a global temp view."""
    athena = make_boto3_client(server.endpoint)
    wait_for(lambda: ready_pooled_runner(server.root), 'a ready pooled runner', READY_TIMEOUT_S)
    started = athena.start_session(WorkGroup='spark', EngineConfiguration={})
    assert started['State'] == 'IDLE', 'the session did not come from the pool'
    made = run(athena, started['SessionId'], 'spark.range(4).createOrReplaceGlobalTempView("owlet_tls")')
    assert made['Status']['State'] == 'COMPLETED', made['Status']
    yield started['SessionId']
    athena.terminate_session(SessionId=started['SessionId'])


def trusting_the_ca(server) -> dict[str, str]:
    """The environment of a client that trusts Owlet's authority (gRPC core reads this variable)."""
    return {'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH': str(server.ca_file)}


def test_the_banner_names_the_authority_to_trust(server):
    assert server.ca_file.is_file()
    assert any(
        line.strip() == f'Spark Connect CA:  {server.ca_file} (trust it: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH={server.ca_file})'
        for line in server.stdout_lines
    ), server.stdout_lines


def test_the_listener_serves_tls_with_a_certificate_of_the_authority(server):
    trusting = ssl.create_default_context(cafile=str(server.ca_file))
    trusting.set_alpn_protocols(['h2'])
    with socket.create_connection((server.connect_address, ATHENA_PORT), timeout=30) as raw:
        with trusting.wrap_socket(raw, server_hostname=server.connect_address) as tls:
            assert tls.selected_alpn_protocol() == 'h2'
    # Without the authority, the certificate is not trusted.
    with socket.create_connection((server.connect_address, ATHENA_PORT), timeout=30) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ssl.create_default_context().wrap_socket(raw, server_hostname=server.connect_address)


@pytest.mark.parametrize('python', CLIENT_PYTHONS.values(), ids=CLIENT_PYTHONS.keys())
def test_athenas_own_connection_string_reaches_the_session(server, session, tmp_path, python):
    endpoint = make_boto3_client(server.endpoint).get_session_endpoint(SessionId=session)
    assert endpoint['EndpointUrl'] == f'https://{server.connect_address}'
    url = athena_connection_string(endpoint)
    assert url.startswith(f'sc://{server.connect_address}:443/;use_ssl=true;x-aws-proxy-port=15002;x-aws-force-h2=true;')
    code, answer = run_client(python, CLIENT, url, tmp_path, trusting_the_ca(server))
    assert code == 0, answer
    assert answer['range'] == [0, 1, 2]
    assert answer['shared'] == [0, 1, 2, 3]
    assert answer['server'] == '3.5.7'  # the default engine's Spark


@pytest.mark.parametrize('python', CLIENT_PYTHONS.values(), ids=CLIENT_PYTHONS.keys())
def test_a_bad_token_over_tls_is_unauthenticated(server, session, tmp_path, python):
    endpoint = {**make_boto3_client(server.endpoint).get_session_endpoint(SessionId=session), 'AuthToken': 'not-a-token'}
    code, answer = run_client(python, CLIENT, athena_connection_string(endpoint), tmp_path, trusting_the_ca(server))
    assert code == 2, answer
    assert 'UNAUTHENTICATED' in answer['message'], answer
    assert 'The Spark Connect token is not valid. Call GetSessionEndpoint for a new one.' in answer['message'], answer
