# Jupyter's own Python clients against an Owlet server on real PySpark: nbclient and papermill through
# jupyter_server's gateway kernel manager, and JupyterLab 4 started with --gateway-url pointing at Owlet, whose
# kernels are then Owlet's sessions.
import json
import os
import subprocess
import sys
import time
import uuid

import nbformat
import papermill
import pytest
import requests
import websocket
from nbclient import NotebookClient

from child_processes import die_with_parent
from jupyter_gateway import OwletGatewayKernelManager, point_gateway_at
from owlet_clients import SECRET_ACCESS_KEY, make_boto3_client
from spark_sessions import SESSION_START_TIMEOUT_S, wait_for

# A kernel's session may start cold (the warm runner taken, its successor not up yet), which takes minutes on a
# loaded machine; every wait below allows for it.
START_TIMEOUT_S = 2 * SESSION_START_TIMEOUT_S


@pytest.fixture(scope='module')
def jupyter_owlet(owlet_servers):
    # One runner kept warm: each client here starts a kernel, and so a session, of its own.
    server = owlet_servers.start({'OWLET_WARM_POOL_SIZE': '1'})
    point_gateway_at(server.endpoint, SECRET_ACCESS_KEY)
    yield server
    owlet_servers.stop(server)
    assert server.error_logs() == [], 'the server logged errors'


@pytest.fixture(scope='module')
def athena(jupyter_owlet):
    return make_boto3_client(jupyter_owlet.endpoint)


def kernel_sessions(athena) -> dict[str, dict]:
    """The Athena sessions of the `spark` workgroup started as Jupyter kernels, by kernel id."""
    sessions = [
        session
        for state in ('CREATING', 'CREATED', 'IDLE', 'BUSY', 'TERMINATING', 'TERMINATED')
        for session in athena.list_sessions(WorkGroup='spark', StateFilter=state)['Sessions']
    ]
    return {s['Description'].split()[2]: s for s in sessions if s.get('Description', '').startswith('Jupyter kernel ')}


def outputs_of(cell) -> list[dict]:
    return [dict(output) for output in cell.outputs]


def test_nbclient_runs_a_notebook_on_a_spark_session(jupyter_owlet, athena):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("print('hello from spark', spark.range(5).count())"),
            nbformat.v4.new_code_cell('1 + 1'),
            nbformat.v4.new_code_cell("display({'a': 1})"),
        ]
    )
    client = NotebookClient(
        nb, kernel_name='spark', kernel_manager_class=OwletGatewayKernelManager, startup_timeout=START_TIMEOUT_S, timeout=START_TIMEOUT_S
    )
    client.execute()
    printed, added, displayed = (outputs_of(cell) for cell in nb.cells)
    assert [(o['output_type'], o.get('name'), o.get('text')) for o in printed if o['output_type'] == 'stream'] == [('stream', 'stdout', 'hello from spark 5\n')]
    assert [o for o in added if o['output_type'] == 'execute_result'][0]['data'] == {'text/plain': '2'}
    assert [o['data']['text/plain'] for o in displayed if o['output_type'] == 'display_data'] == ["{'a': 1}"]
    # Each cell ran as a calculation of the kernel's session, which the kernel's shutdown terminated.
    [session] = kernel_sessions(athena).values()
    wait_for(lambda: athena.get_session_status(SessionId=session['SessionId'])['Status']['State'] == 'TERMINATED', 'the session to end', 60)
    calculations = athena.list_calculation_executions(SessionId=session['SessionId'])['Calculations']
    assert [c['Status']['State'] for c in calculations] == ['COMPLETED'] * 3


def test_papermill_runs_a_parameterised_notebook(jupyter_owlet, athena, tmp_path):
    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('rows = 3\nlabel = "default"', metadata={'tags': ['parameters']}),
            nbformat.v4.new_code_cell("total = spark.range(rows).count()\nprint(label, total)"),
        ],
        metadata={'kernelspec': {'name': 'spark', 'display_name': 'PySpark', 'language': 'python'}},
    )
    input_path = tmp_path / 'input.ipynb'
    output_path = tmp_path / 'output.ipynb'
    nbformat.write(source, input_path)
    papermill.execute_notebook(
        str(input_path),
        str(output_path),
        parameters={'rows': 7, 'label': 'counted'},
        kernel_name='spark',
        kernel_manager_class=OwletGatewayKernelManager,
        start_timeout=START_TIMEOUT_S,
        progress_bar=False,
    )
    result = nbformat.read(output_path, as_version=4)
    injected = [c for c in result.cells if 'injected-parameters' in c.metadata.get('tags', [])]
    assert len(injected) == 1 and 'rows = 7' in injected[0].source
    streams = [o for c in result.cells for o in c.get('outputs', []) if o['output_type'] == 'stream']
    assert streams[-1]['text'] == 'counted 7\n'


@pytest.fixture
def jupyter_lab(jupyter_owlet, tmp_path):
    """JupyterLab 4 on a free port with its kernels on the Owlet server; its address and token."""
    token = uuid.uuid4().hex
    runtime = tmp_path / 'runtime'
    env = {
        **os.environ,
        'JUPYTER_RUNTIME_DIR': str(runtime),
        'JUPYTER_CONFIG_DIR': str(tmp_path / 'config'),
        'JUPYTER_DATA_DIR': str(tmp_path / 'data'),
        'JUPYTER_PLATFORM_DIRS': '1',
    }
    command = [
        sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', '--port=0', '--allow-root',
        f'--ServerApp.root_dir={tmp_path}', f'--IdentityProvider.token={token}',
        f'--gateway-url={jupyter_owlet.endpoint}', f'--GatewayClient.auth_token={SECRET_ACCESS_KEY}',
        f'--GatewayClient.request_timeout={START_TIMEOUT_S}',
    ]
    log = open(tmp_path / 'jupyterlab.log', 'wb')
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, preexec_fn=die_with_parent)
    try:
        def server_file():
            found = list(runtime.glob('jpserver-*.json'))
            return json.loads(found[0].read_text()) if found and found[0].stat().st_size > 0 else None

        info = wait_for(lambda: process.poll() is not None or server_file(), 'JupyterLab to start', 120)
        assert process.poll() is None, (tmp_path / 'jupyterlab.log').read_text()
        info = server_file()
        base = f"http://127.0.0.1:{info['port']}"
        def answers():
            try:
                return requests.get(f'{base}/api', timeout=5).ok
            except requests.ConnectionError:
                return False

        wait_for(answers, 'JupyterLab to answer', 60)
        yield base, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_jupyterlab_with_gateway_url_runs_its_kernels_on_owlet(jupyter_lab, jupyter_owlet):
    base, token = jupyter_lab
    headers = {'Authorization': f'token {token}'}
    specs = requests.get(f'{base}/api/kernelspecs', headers=headers, timeout=60).json()
    assert 'spark' in specs['kernelspecs'], specs
    kernel = requests.post(f'{base}/api/kernels', json={'name': 'spark'}, headers=headers, timeout=START_TIMEOUT_S).json()
    try:
        owlet_kernels = requests.get(f'{jupyter_owlet.endpoint}/api/kernels', headers={'Authorization': f'token {SECRET_ACCESS_KEY}'}, timeout=30).json()
        assert kernel['id'] in [k['id'] for k in owlet_kernels]
        # A cell through JupyterLab's own kernel websocket, which it relays to Owlet's.
        ws = websocket.create_connection(f"{base.replace('http', 'ws')}/api/kernels/{kernel['id']}/channels?token={token}", timeout=START_TIMEOUT_S)
        try:
            msg_id = uuid.uuid4().hex
            header = {'msg_id': msg_id, 'msg_type': 'execute_request', 'session': uuid.uuid4().hex, 'username': 'test', 'version': '5.3', 'date': ''}
            content = {'code': 'spark.range(4).count() * 10', 'silent': False, 'store_history': True, 'user_expressions': {}, 'allow_stdin': False, 'stop_on_error': True}
            ws.send(json.dumps({'channel': 'shell', 'header': header, 'parent_header': {}, 'metadata': {}, 'content': content, 'buffers': []}))
            result = None
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                message = json.loads(ws.recv())
                if message.get('parent_header', {}).get('msg_id') != msg_id:
                    continue
                if message['header']['msg_type'] == 'execute_result':
                    result = message['content']['data']
                if message['header']['msg_type'] == 'execute_reply':
                    assert message['content']['status'] == 'ok', message['content']
                    break
            assert result == {'text/plain': '40'}
        finally:
            ws.close()
    finally:
        requests.delete(f"{base}/api/kernels/{kernel['id']}", headers=headers, timeout=60)
