# A Spark standalone cluster for tests: one master and one worker started from a runtime's installed PySpark
# distribution (its `bin/spark-class`; the pip package has no sbin start scripts), bound to 127.0.0.1 on ports
# the daemons pick themselves (port 0; read back from the master's log, so no other process can take a port
# between a probe and the bind), with every file they write in a temporary directory, and stopped by their process ids, executors too.
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from child_processes import die_with_parent
from owlet_clients import ROOT


def spark_home(runtime: str) -> Path:
    """The PySpark distribution of a runtime (src/engine/runtimes.ts): a session's executors run the same Spark
    version as its driver, so a cluster for a session of an engine is started from that engine's runtime."""
    return next((ROOT / '.runtimes' / runtime / 'venv' / 'lib').glob('python3*/site-packages/pyspark'))

# The master and the worker each start a JVM and register on a busy 2-core machine.
REGISTER_TIMEOUT_S = 300
STOP_GRACE_S = 15


# What the master logs once it listens (Spark's Master and WebUI classes), with the ports it was given.
MASTER_URL_LINE = re.compile(r'Starting Spark master at (spark://127\.0\.0\.1:\d+)')
# (the UI line names the host as `localhost` or the machine's name; the port is what counts).
MASTER_UI_LINE = re.compile(r'Bound MasterWebUI to 127\.0\.0\.1, and started at http://[^\s:/]+:(\d+)')


EXECUTOR_CLASS = b'org.apache.spark.executor.CoarseGrainedExecutorBackend'


def is_executor(pid: int) -> bool:
    try:
        return EXECUTOR_CLASS in Path(f'/proc/{pid}/cmdline').read_bytes().split(b'\0')
    except OSError:
        return False


def executors_under(worker_pid: int) -> list[int]:
    """The executor JVMs a worker started, from /proc. Only those: the worker JVM may also have the shell that
    spark-class forked before exec-ing it as a child, a zombie the JVM never reaps."""
    executors = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces and parentheses: the fields after its last ')' are plain.
            parent = int((entry / 'stat').read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == worker_pid and is_executor(int(entry.name)):
            executors.append(int(entry.name))
    return executors


@dataclass
class StandaloneCluster:
    root: Path
    master_url: str
    master_ui: str
    master: subprocess.Popen
    worker: subprocess.Popen

    def state(self) -> dict:
        """The master's view: workers, applications, cores in use (its web UI's /json)."""
        with urllib.request.urlopen(f'{self.master_ui}/json/', timeout=10) as response:
            return json.load(response)

    def executor_pids(self) -> list[int]:
        """The executor JVMs the worker runs now."""
        return executors_under(self.worker.pid)

    def executor_logs(self) -> str:
        """What the worker's executors have written to their stderr so far (Spark's default log4j2 settings log
        at INFO there), every application's."""
        return ''.join(path.read_text(errors='replace') for path in sorted((self.root / 'work').glob('*/*/stderr')))

    def stop(self) -> None:
        """Stops the worker (whose executors go with it), then the master; kills by pid what outlives the grace."""
        executors = self.executor_pids() if self.worker.poll() is None else []
        for process in (self.worker, self.master):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        # Those still running now (checked again: a pid may have been reused since).
        for pid in executors:
            if is_executor(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_standalone_cluster(cores: int = 2, memory: str = '2g', runtime: str = 'spark-3.5') -> StandaloneCluster:
    """A master and a worker of the runtime's Spark (the default engine's unless told) with `cores` and
    `memory` to give, once the worker has registered."""
    home = spark_home(runtime)
    root = Path(tempfile.mkdtemp(prefix='owlet-spark-cluster-'))
    conf = root / 'conf'
    conf.mkdir()
    env = {
        **os.environ,
        'SPARK_HOME': str(home),
        'SPARK_LOCAL_IP': '127.0.0.1',
        'SPARK_LOCAL_DIRS': str(root / 'local'),
        'SPARK_WORKER_DIR': str(root / 'work'),
        'SPARK_LOG_DIR': str(root / 'logs'),
        # An empty configuration directory: no spark-defaults.conf of the machine's reaches the daemons.
        'SPARK_CONF_DIR': str(conf),
        # The daemons' own heaps (1 GiB each by default) are far more than a one-worker cluster needs.
        'SPARK_DAEMON_MEMORY': '256m',
    }
    spark_class = str(home / 'bin' / 'spark-class')

    def daemon(name: str, *args: str) -> subprocess.Popen:
        # spark-class ends by exec-ing the JVM, so the pid is the daemon's own.
        with open(root / f'{name}.log', 'ab') as log:
            return subprocess.Popen(
                [spark_class, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, preexec_fn=die_with_parent
            )

    master = daemon('master', 'org.apache.spark.deploy.master.Master', '--host', '127.0.0.1', '--port', '0', '--webui-port', '0')
    worker = None
    cluster = None
    deadline = time.monotonic() + REGISTER_TIMEOUT_S
    try:
        while True:
            text = (root / 'master.log').read_text(errors='replace')
            url, ui = MASTER_URL_LINE.search(text), MASTER_UI_LINE.search(text)
            if url and ui:
                break
            if master.poll() is not None:
                raise RuntimeError(f'the Spark master exited ({master.returncode}): {text[-3000:]}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'the Spark master did not listen within {REGISTER_TIMEOUT_S} s: {text[-3000:]}')
            time.sleep(0.25)
        master_url = url.group(1)
        worker = daemon(
            'worker', 'org.apache.spark.deploy.worker.Worker', master_url,
            '--host', '127.0.0.1', '--cores', str(cores), '--memory', memory, '--webui-port', '0',
        )
        cluster = StandaloneCluster(root, master_url, f'http://127.0.0.1:{ui.group(1)}', master, worker)
        while True:
            for process, name in ((master, 'master'), (worker, 'worker')):
                if process.poll() is not None:
                    raise RuntimeError(f'the Spark {name} exited ({process.returncode}): {(root / f"{name}.log").read_text()[-3000:]}')
            try:
                if cluster.state().get('aliveworkers') == 1:
                    return cluster
            except OSError:
                pass  # The master's web UI is not up yet.
            if time.monotonic() > deadline:
                raise RuntimeError(f'no worker registered with {master_url} within {REGISTER_TIMEOUT_S} s')
            time.sleep(0.25)
    except BaseException:
        if cluster is not None:
            cluster.stop()
        else:
            for process in (worker, master):
                if process is not None:
                    process.kill()
                    process.wait()
            shutil.rmtree(root, ignore_errors=True)
        raise
