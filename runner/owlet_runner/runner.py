"""The session runner: its states, its main loop and what each protocol message does.

States (the ``state`` of a status event):

- ``starting``: listening on the socket, SparkSession not up yet;
- ``idle``: Spark is up, no calculation runs; ``execute`` is accepted only here, and so is ``configure`` (which
  gives a pooled runner its session) before the first calculation;
- ``busy``: one calculation runs (or was accepted and is about to start) in the main thread;
- ``failed``: Spark could not start, or its JVM died while the session was idle; the runner stays up to
  report why until told to shut down.

Calculation code runs in the main thread because Python delivers signals, and so KeyboardInterrupt, only
there. Socket messages are handled on the connection thread; ``cancel`` therefore works while code runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import secrets
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TextIO

from owlet_runner import child_processes, driver_exit, figures
from owlet_runner.calculation_files import CalculationFiles
from owlet_runner.cancellation import CalculationCanceller, InterruptGate, tag_jobs, untag_jobs
from owlet_runner.execution import CodeExecutor, create_session_namespace, exception_line, format_user_traceback
from owlet_runner.magics import SessionInfo, SessionMagics
from owlet_runner.output_capture import (
    DEFAULT_OUTPUT_LIMIT_BYTES,
    CalculationOutputCapture,
    SessionOutput,
    StreamCounts,
    output_limit_from_environment,
)
from owlet_runner.progress import JobGroupReader, ProgressPoller, TaskProgress
from owlet_runner.protocol import ControlServer, ProtocolError
from owlet_runner.rich_output import OutputCollector
from owlet_runner.spark_info import ConnectServer, connect_port, executor_list
from owlet_runner.spark_session import (
    CONNECT_TOKEN_PROPERTY,
    SCRATCH_DIRECTORY,
    SessionConfig,
    SessionConfigError,
    SparkStartError,
    apply_hadoop_settings,
    apply_runtime_properties,
    build_spark_session,
    idle_timeout_seconds,
    property_values,
    warm_up,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("owlet_runner")

STARTING = "starting"
IDLE = "idle"
BUSY = "busy"
FAILED = "failed"

# Athena's names for the states, as %status shows them.
ATHENA_STATES = {STARTING: "CREATING", IDLE: "IDLE", BUSY: "BUSY", FAILED: "FAILED"}

COMPLETED = "COMPLETED"
CALCULATION_FAILED = "FAILED"
CANCELED = "CANCELED"

# A shutdown that cannot finish (Spark hangs while stopping, or a calculation ignores its cancel) ends the
# process anyway; Spark's JVM exits when the runner does, because its stdin pipe closes.
SHUTDOWN_DEADLINE_SECONDS = 20.0
# How often an idle runner checks that Spark's JVM is still alive.
JVM_CHECK_INTERVAL_SECONDS = 2.0
EXIT_SECRET_UNREADABLE = 2
EXIT_SOCKET_UNAVAILABLE = 3
EXIT_SHUTDOWN_FORCED = 4
# What a runner that ended itself for its session's idle timeout leaves in its directory, for a server that
# comes back: {"reason": "idle-timeout", "endedAt": <epoch milliseconds>}.
ENDED_FILE = "ended.json"
# How long processes a session left running get to end after SIGTERM when it shuts down, before SIGKILL. Spark's
# JVM is among them (stopped already, it exits in well under a second).
LEFTOVER_GRACE_SECONDS = 2.0
# Athena's model limits StateChangeReason to 1,024 characters; the whole exception line is in stderr.txt.
MAX_REASON_CHARACTERS = 1024
SPARK_STOPPED_REASON = (
    "Spark was stopped by the session's code (spark.stop()); the session cannot run calculations any more"
)


@dataclass
class Calculation:
    id: str
    code: str
    directory: str
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    # Set once the outcome is recorded; the canceller stops interrupting then.
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def job_tag(self) -> str:
        # Spark job tags cannot contain commas.
        return self.id.replace(",", "_")


class _Shutdown:
    """Queued for the main loop when the runner is told to stop."""


class SessionRunner:
    def __init__(self, session_dir: str) -> None:
        self.session_dir = os.path.abspath(session_dir)
        self._lock = threading.Lock()
        self._state = STARTING
        self._reason: str | None = None
        self._spark_version: str | None = None
        self._spark_ui: str | None = None
        # When Spark's driver started (SparkContext.startTime, epoch milliseconds).
        self._spark_started_at: int | None = None
        # The driver's Spark Connect server, or why there is none.
        self._connect: ConnectServer | None = None
        self._connect_error: str | None = None
        self._current: Calculation | None = None
        self._shutting_down = False
        # The session this runner serves: from config.json, or from `configure` for a pooled runner.
        self._session_id: str | None = None
        self._work_group: str | None = None
        self._session_started_at = time.time()
        # The session's idle timeout (seconds), and when its last calculation ended, or the runner became idle
        # (time.monotonic()): with no server attached, the runner ends itself once the timeout has passed since
        # the later of that and the server's going (docs/clients.md). The server's idle reaper does it otherwise.
        self._idle_timeout: float | None = None
        self._idle_since = time.monotonic()
        # `configure` is refused once a calculation has been accepted: that calculation ran without the settings.
        self._calculation_accepted = False
        self._configuring = False
        self._work: queue.Queue[Calculation | _Shutdown] = queue.Queue()
        self._gate = InterruptGate()
        # The server that started this runner. A session's runner outlives it (a restarted server takes the
        # session back); a pooled runner, with no session, has nothing to outlive it for.
        self._parent_pid = os.getppid()
        self._session_log: TextIO | None = None
        self._server: ControlServer | None = None
        self._spark: SparkSession | None = None
        self._executor: CodeExecutor | None = None
        self._poller: ProgressPoller | None = None
        self._canceller: CalculationCanceller | None = None
        self._output_limit = DEFAULT_OUTPUT_LIMIT_BYTES
        self._output: SessionOutput | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def run(self) -> int:
        self._session_log = _configure_runner_logging()
        figures.use_non_interactive_backend()
        pid_path = os.path.join(self.session_dir, "runner.pid")
        with open(os.path.join(self.session_dir, "runner.pid.tmp"), "w", encoding="ascii") as pid_file:
            pid_file.write(f"{os.getpid()}\n")
        os.replace(os.path.join(self.session_dir, "runner.pid.tmp"), pid_path)

        try:
            secret = _read_secret(os.path.join(self.session_dir, "secret"))
        except OSError as error:
            log.error("cannot read the session secret: %s", error)
            return EXIT_SECRET_UNREADABLE

        self._gate.install()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self._server = ControlServer(
            os.path.join(self.session_dir, "runner.sock"),
            secret,
            on_message=self._handle_message,
            on_authenticated=self._send_status,
        )
        try:
            self._server.listen()
        except OSError as error:
            log.error("cannot listen on %s: %s", self._server.socket_path, error)
            return EXIT_SOCKET_UNAVAILABLE
        self._server.start()
        log.info("runner %d listening on %s", os.getpid(), self._server.socket_path)

        try:
            self._output_limit = output_limit_from_environment()
        except ValueError as error:
            self._fail_start(str(error))
        else:
            self._start_spark()
        # SparkContext installs a SIGINT handler of its own (cancelAllJobs, then KeyboardInterrupt anywhere);
        # the gate must be the handler.
        self._gate.install()
        self._main_loop()
        self._stop()
        return 0

    def _start_spark(self) -> None:
        started_at = time.monotonic()
        try:
            config = replace(
                SessionConfig.from_file(os.path.join(self.session_dir, "config.json")), scratch_dir=self._scratch_dir()
            )
            with self._lock:
                self._session_id = config.session_id
                self._work_group = config.work_group
                self._idle_timeout = config.idle_timeout_seconds
            # The Connect server's token is made here and told only to the server (over the authenticated
            # socket), whose proxy adds it to the requests of clients that showed a valid session token.
            connect_token = config.spark_properties.get(CONNECT_TOKEN_PROPERTY) or secrets.token_urlsafe(32)
            spark = build_spark_session(config, connect_token)
            spark_version = spark.version
            spark_ui = spark.sparkContext.uiWebUrl
            spark_started_at = int(spark.sparkContext.startTime)
            warm_up(spark, config.master)
        except (SessionConfigError, SparkStartError) as error:
            self._fail_start(str(error))
            return
        except Exception as error:  # noqa: BLE001 - any failure to start is reported, not raised
            log.exception("Spark did not start")
            self._fail_start(exception_line(error))
            return
        if self._session_log is not None:
            _route_pyspark_query_loggers(self._session_log)
        connect: ConnectServer | None = None
        connect_error: str | None = None
        try:
            connect = ConnectServer(connect_port(spark), connect_token)
        except Exception as error:  # noqa: BLE001 - the session works without Connect; GetSessionEndpoint says why
            log.warning("no Spark Connect server in this driver", exc_info=True)
            connect_error = exception_line(error)
        try:
            # Only now: Spark's JVM must keep the session log it inherited, not the pipes.
            driver_exit.keep_session_log()
            output = SessionOutput(self.session_dir, self._output_limit)
            output.start()
        except OSError as error:
            log.exception("cannot capture calculation output")
            self._fail_start(f"cannot capture calculation output: {error}")
            return
        self._output = output
        child_processes.install_fork_guard(self._runner_only_fds)
        self._spark = spark
        namespace = create_session_namespace({"spark": spark, "sc": spark.sparkContext})
        collector = OutputCollector(self._output_limit)
        magics = SessionMagics(spark, namespace, self._session_info, collector.display, collector.add_bundle)
        self._executor = CodeExecutor(namespace, self._gate, collector, magics)
        self._canceller = CalculationCanceller(self._gate, spark, threading.main_thread().ident or 0)
        self._poller = ProgressPoller(JobGroupReader(spark.sparkContext), self._send_progress)
        self._poller.start()
        with self._lock:
            self._state = IDLE
            self._idle_since = time.monotonic()
            self._spark_version = spark_version
            self._spark_ui = spark_ui
            self._spark_started_at = spark_started_at
            self._connect = connect
            self._connect_error = connect_error
        log.info(
            "Spark %s ready in %.1f s, UI %s, Spark Connect on port %s",
            spark_version,
            time.monotonic() - started_at,
            spark_ui,
            connect.port if connect is not None else "none",
        )
        ready: dict[str, Any] = {"event": "ready", "sparkVersion": spark_version}
        with self._lock:
            ready.update(self._driver_facts())
        self._send(ready)

    def _driver_facts(self) -> dict[str, Any]:
        """What ready, status and configured tell of the running driver. Callers hold the lock."""
        facts: dict[str, Any] = {}
        if self._spark_ui:
            facts["sparkUi"] = self._spark_ui
        if self._spark_started_at is not None:
            facts["startedAt"] = self._spark_started_at
        if self._connect is not None:
            facts["connect"] = self._connect.as_json()
        elif self._connect_error is not None:
            facts["connectError"] = self._connect_error
        return facts

    def _spark_failure(self) -> str | None:
        """Why Spark cannot run calculations any more, or None while it can: its driver JVM died (the kernel's
        OOM killer, a crash), or calculation code stopped the SparkContext. Either way the session fails with
        the reason instead of failing every later calculation with py4j errors."""
        if self._spark is None:
            return None
        exit_code = driver_exit.gateway_exit_code(self._spark)
        if exit_code is not None:
            return driver_exit.session_reason(exit_code)
        # SparkContext.stop() drops its Java context; the runner's job groups, progress and cancels need it.
        if getattr(self._spark.sparkContext, "_jsc", None) is None:
            return SPARK_STOPPED_REASON
        return None

    def _check_spark(self) -> None:
        reason = self._spark_failure()
        if reason is None:
            return
        with self._lock:
            # Only while idle: a running calculation ends first (with the error the dead JVM gives it), and
            # once the state is failed no execute is accepted any more.
            if self._state != IDLE:
                return
            self._state = FAILED
            self._reason = reason
        self._report_spark_failure(reason)

    def _report_spark_failure(self, reason: str) -> None:
        """Once the state is failed with ``reason``."""
        log.error("session failed: %s", reason)
        self._spark = None
        if self._poller is not None:
            self._poller.stop()
        self._send({"event": "failed", "reason": reason})

    def _runner_only_fds(self) -> list[int]:
        """The runner's own descriptors, which a forked child must not keep (child_processes)."""
        fds = [] if self._server is None else self._server.socket_fds()
        if self._output is not None:
            fds.extend(self._output.runner_only_fds())
        return fds

    def _fail_start(self, reason: str) -> None:
        with self._lock:
            self._state = FAILED
            self._reason = reason
        log.error("session failed to start: %s", reason)
        self._send({"event": "failed", "reason": reason})

    def _main_loop(self) -> None:
        while True:
            try:
                try:
                    work = self._work.get(timeout=JVM_CHECK_INTERVAL_SECONDS)
                except queue.Empty:
                    if self._pooled_and_orphaned():
                        log.info("the server that started this pooled runner is gone: exiting")
                        return
                    if self._idle_timeout_passed_alone():
                        return
                    self._check_spark()
                    if self._output is not None:
                        self._output.ensure_writer_running()
                    continue
                if isinstance(work, _Shutdown):
                    return
                self._run_calculation(work)
            except KeyboardInterrupt:
                # The gate raises only inside calculation code; this is a last guard so that a stray
                # interrupt can never end the session.
                log.warning("ignored a KeyboardInterrupt outside calculation code")

    def _pooled_and_orphaned(self) -> bool:
        with self._lock:
            pooled = self._session_id is None and not self._configuring
        return pooled and os.getppid() != self._parent_pid

    def _idle_timeout_passed_alone(self) -> bool:
        """Whether the session's idle timeout has passed with no server attached and no calculation running;
        if so, the runner records that it ends and stops taking connections (a server that comes back then
        finds it gone, and why)."""
        with self._lock:
            if self._session_id is None or self._idle_timeout is None or self._configuring:
                return False
            if self._state != IDLE or self._current is not None or self._shutting_down:
                return False
            idle_since, timeout = self._idle_since, self._idle_timeout
        server = self._server
        detached_since = None if server is None else server.detached_since()
        if detached_since is None or time.monotonic() - max(idle_since, detached_since) < timeout:
            return False
        return server is not None and server.stop_accepting_if_detached(self._record_ended_idle)

    def _record_ended_idle(self) -> None:
        log.info(
            "no server attached and the session's idle timeout (%.0f s) has passed: ending the session", self._idle_timeout
        )
        path = os.path.join(self.session_dir, ENDED_FILE)
        try:
            with open(f"{path}.tmp", "w", encoding="utf-8") as ended:
                json.dump({"reason": "idle-timeout", "endedAt": int(time.time() * 1000)}, ended)
            os.replace(f"{path}.tmp", path)
        except OSError:
            # A server that comes back then records the session failed rather than terminated.
            log.exception("cannot write %s", path)

    def _stop(self) -> None:
        log.info("shutting down")
        if self._poller is not None:
            self._poller.stop()
        if self._spark is not None:
            try:
                self._spark.stop()
            except Exception:  # noqa: BLE001 - stopping anyway
                log.warning("spark.stop() failed", exc_info=True)
        # Spark's JVM, which would exit once the runner's end of its stdin pipe closes, and whatever calculation
        # code started and left running (subprocesses, multiprocessing workers, forked children): the session
        # ends, so they end. The output writer goes last, copying what they wrote until then.
        ended = self._end_leftover_processes(LEFTOVER_GRACE_SECONDS)
        if ended:
            log.info("ended %d processes the session left running: %s", len(ended), ended)
        if self._output is not None:
            self._output.close()
        if self._server is not None:
            self._server.close()
        # Spark's JVM and the session's processes are gone: nothing writes there any more.
        shutil.rmtree(os.path.join(self.session_dir, SCRATCH_DIRECTORY), ignore_errors=True)
        logging.shutdown()

    def _scratch_dir(self) -> str:
        path = os.path.join(self.session_dir, SCRATCH_DIRECTORY)
        os.makedirs(path, mode=0o700, exist_ok=True)
        return path

    def _end_leftover_processes(self, grace_seconds: float) -> list[int]:
        # The output writer is the runner's own, and ends by itself once the runner has gone.
        writer = None if self._output is None else self._output.writer_pid
        return child_processes.end_leftover_processes(grace_seconds, [] if writer is None else [writer])

    def request_shutdown(self) -> None:
        with self._lock:
            if self._shutting_down:
                return
            self._shutting_down = True
            current = self._current
        if current is not None:
            self._cancel(current)
        self._work.put(_Shutdown())
        watchdog = threading.Timer(SHUTDOWN_DEADLINE_SECONDS, self._force_exit)
        watchdog.daemon = True
        watchdog.start()

    def _force_exit(self) -> None:
        log.error("shutdown did not finish within %.0f s; exiting", SHUTDOWN_DEADLINE_SECONDS)
        self._end_leftover_processes(0.0)
        if self._server is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._server.socket_path)
        logging.shutdown()
        os._exit(EXIT_SHUTDOWN_FORCED)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Runs in the main thread, possibly in the middle of a py4j call: hand the work to a thread so that
        # the handler itself makes no py4j calls.
        threading.Thread(target=self.request_shutdown, name="sigterm", daemon=True).start()

    # -- messages (connection thread) ------------------------------------------------------------------------

    def _handle_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op in ("status", "hello"):
            self._send_status()
        elif op == "execute":
            self._accept_execute(message)
        elif op == "configure":
            self._configure(message)
        elif op == "cancel":
            self._accept_cancel(message)
        elif op == "executors":
            self._send_executors(message)
        elif op == "shutdown":
            self.request_shutdown()
        else:
            raise ProtocolError(f"unknown op {op!r}")

    def _accept_execute(self, message: dict[str, Any]) -> None:
        calculation_id = message.get("id")
        code = message.get("code")
        directory = message.get("dir")
        if not isinstance(calculation_id, str) or not calculation_id:
            raise ProtocolError("execute needs an id (a non-empty string)")
        if not isinstance(code, str):
            raise ProtocolError("execute needs code (a string)", calculation_id)
        if not isinstance(directory, str) or not directory:
            raise ProtocolError("execute needs dir (a non-empty string)", calculation_id)
        calculation = Calculation(id=calculation_id, code=code, directory=directory)
        with self._lock:
            if self._shutting_down:
                raise ProtocolError("the runner is shutting down", calculation_id)
            if self._state != IDLE:
                detail = f" with calculation {self._current.id}" if self._current is not None else ""
                raise ProtocolError(f"the runner is {self._state}{detail}; execute needs idle", calculation_id)
            if self._configuring:
                raise ProtocolError("the runner is being configured; execute needs idle", calculation_id)
            self._state = BUSY
            self._current = calculation
            self._calculation_accepted = True
        self._work.put(calculation)

    def _configure(self, message: dict[str, Any]) -> None:
        """Gives a pooled runner its session: records the id and applies the session's SparkProperties that a
        running SparkSession can take, all or none (spark_session.apply_runtime_properties). Runs on the
        connection thread, so the answer comes before the client's next message is read; `_configuring` keeps
        an execute from another connection out meanwhile."""
        session_id = message.get("sessionId")
        properties = message.get("sparkProperties") or {}
        hadoop_settings = message.get("hadoopSettings") or {}
        work_group = message.get("workGroup")
        if not isinstance(session_id, str) or not session_id:
            raise ProtocolError("configure needs a sessionId (a non-empty string)")
        if not isinstance(hadoop_settings, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in hadoop_settings.items()
        ):
            raise ProtocolError("configure: hadoopSettings must map names to strings", session_id=session_id)
        try:
            idle_timeout = idle_timeout_seconds(message.get("idleTimeoutMs"), "configure")
        except SessionConfigError as error:
            raise ProtocolError(str(error), session_id=session_id) from None
        if not isinstance(properties, dict):
            raise ProtocolError("configure: sparkProperties must be an object", session_id=session_id)
        if work_group is not None and not isinstance(work_group, str):
            raise ProtocolError("configure: workGroup must be a string", session_id=session_id)
        with self._lock:
            if self._shutting_down:
                raise ProtocolError("the runner is shutting down", session_id=session_id)
            if self._state != IDLE or self._spark is None:
                raise ProtocolError(f"the runner is {self._state}; configure needs idle", session_id=session_id)
            if self._calculation_accepted:
                raise ProtocolError(
                    "configure is accepted only before the first calculation", session_id=session_id
                )
            if self._session_id is not None:
                raise ProtocolError(f"the runner already serves session {self._session_id}", session_id=session_id)
            if self._configuring:
                raise ProtocolError("another configure is under way", session_id=session_id)
            self._configuring = True
            spark = self._spark
        try:
            try:
                applied, refused = apply_runtime_properties(spark, property_values(properties))
                if not refused:
                    apply_hadoop_settings(spark, hadoop_settings)
            except Exception as error:  # noqa: BLE001 - Spark itself failing (its JVM gone) refuses the configure
                log.exception("configure for session %s failed", session_id)
                raise ProtocolError(f"configure failed: {exception_line(error)}", session_id=session_id) from None
            with self._lock:
                if not refused:
                    self._session_id = session_id
                    self._work_group = work_group or None
                    self._session_started_at = time.time()
                    self._idle_timeout = idle_timeout
                    self._idle_since = time.monotonic()
        finally:
            with self._lock:
                self._configuring = False
        if refused:
            log.warning(
                "configure for session %s refused: %s", session_id, "; ".join(f"{r.key}: {r.reason}" for r in refused)
            )
        else:
            log.info("configured for session %s; applied %s", session_id, ", ".join(applied) or "nothing")
        configured: dict[str, Any] = {
            "event": "configured",
            "sessionId": session_id,
            "applied": applied,
            "refused": [refusal.as_json() for refusal in refused],
        }
        # A pooled runner's Connect server started with it; the session it now serves is reached through it.
        with self._lock:
            if not refused and self._connect is not None:
                configured["connect"] = self._connect.as_json()
        self._send(configured)

    def _send_executors(self, message: dict[str, Any]) -> None:
        """Answers `executors` with what Spark's status store says. Runs on the connection thread, beside a
        calculation on the main thread: a status store read is a few py4j calls of well under a millisecond
        each, and takes no lock the calculation holds."""
        request_id = message.get("requestId")
        if request_id is not None and not isinstance(request_id, str):
            raise ProtocolError("executors: requestId must be a string")
        with self._lock:
            spark = self._spark
            state = self._state
        if spark is None:
            raise ProtocolError(f"the runner is {state}: Spark is not running", request_id=request_id)
        try:
            executors = executor_list(spark)
        except Exception as error:  # noqa: BLE001 - Spark's failure is the answer
            log.warning("cannot list the executors", exc_info=True)
            raise ProtocolError(f"cannot list the executors: {exception_line(error)}", request_id=request_id) from None
        answer: dict[str, Any] = {"event": "executors", "executors": executors}
        if request_id is not None:
            answer["requestId"] = request_id
        self._send(answer)

    def _session_info(self) -> SessionInfo:
        with self._lock:
            return SessionInfo(
                session_id=self._session_id,
                state=ATHENA_STATES.get(self._state, self._state.upper()),
                work_group=self._work_group,
                spark_version=self._spark_version,
                started_at=self._session_started_at,
            )

    def _accept_cancel(self, message: dict[str, Any]) -> None:
        calculation_id = message.get("id")
        if not isinstance(calculation_id, str):
            raise ProtocolError("cancel needs an id (a string)")
        with self._lock:
            current = self._current
        if current is None or current.id != calculation_id:
            raise ProtocolError(f"calculation {calculation_id} is not running", calculation_id)
        self._cancel(current)

    def _cancel(self, calculation: Calculation) -> None:
        if calculation.cancel_requested.is_set():
            return
        calculation.cancel_requested.set()
        log.info("cancelling calculation %s", calculation.id)
        if self._canceller is not None:
            self._canceller.start(calculation.id, calculation.job_tag, calculation.finished)

    # -- a calculation (main thread) -------------------------------------------------------------------------

    def _run_calculation(self, calculation: Calculation) -> None:
        assert self._executor is not None and self._poller is not None and self._spark is not None
        assert self._output is not None
        files = CalculationFiles(calculation.directory)
        started_at = time.monotonic()
        try:
            files.prepare()
            self._send({"event": "started", "id": calculation.id})
            spark = self._spark
            with self._lock:
                session_id = self._session_id
            # The Spark UI shows the description beside each job: which session and calculation it belongs to.
            description = f"calculation {calculation.id}" + (f" of session {session_id}" if session_id else "")
            spark.sparkContext.setJobGroup(calculation.id, description, interruptOnCancel=True)
            tag_jobs(spark, calculation.job_tag)
            self._poller.track(calculation.id)
            with CalculationOutputCapture(self._output, files.stdout_path, files.stderr_path) as capture:
                started_at = time.monotonic()
                outcome = self._executor.run(calculation.id, calculation.code, calculation.cancel_requested)
                traceback_text = None
                if outcome.error is not None and not calculation.cancel_requested.is_set():
                    traceback_text = format_user_traceback(outcome.error)
                counts = capture.finish(traceback_text)
            _log_truncated_output(calculation.id, counts, self._output.limit)
            duration_ms = int((time.monotonic() - started_at) * 1000)
            progress = self._poller.stop_tracking()
            try:
                untag_jobs(spark, calculation.job_tag)
            except Exception:  # noqa: BLE001 - the calculation has ended either way
                log.warning("cannot untag the jobs of calculation %s", calculation.id, exc_info=True)
            files.write_result(outcome.outputs, _error_of(outcome.error, traceback_text))
            finished = _finished_event(calculation, outcome.error, duration_ms, progress)
            if finished["state"] == CALCULATION_FAILED:
                finished["reason"] = driver_exit.calculation_reason(spark, outcome.error) or finished["reason"]
        except Exception as error:  # noqa: BLE001 - the runner's own failure still ends the calculation
            log.exception("calculation %s could not be run", calculation.id)
            progress = self._poller.stop_tracking() if self._poller is not None else TaskProgress()
            finished = {"event": "finished", "id": calculation.id}
            if calculation.cancel_requested.is_set():
                finished["state"] = CANCELED
            else:
                finished["state"] = CALCULATION_FAILED
                finished["reason"] = _bounded_reason(f"Owlet runner error: {exception_line(error)}")
            finished["durationMs"] = int((time.monotonic() - started_at) * 1000)
            finished["progress"] = progress.as_json()
        try:
            files.write_status(finished)
        except OSError:
            log.exception("cannot write status.json of calculation %s", calculation.id)
        calculation.finished.set()
        # Checked before the state leaves busy: an execute accepted in between would run on a Spark that is gone.
        spark_failure = self._spark_failure()
        with self._lock:
            self._current = None
            if self._state != BUSY:
                spark_failure = None
            elif spark_failure is None:
                self._state = IDLE
                self._idle_since = time.monotonic()
            else:
                self._state = FAILED
                self._reason = spark_failure
        self._send(finished)
        if spark_failure is not None:
            self._report_spark_failure(spark_failure)

    # -- events ----------------------------------------------------------------------------------------------

    def _send(self, event: dict[str, Any]) -> None:
        if self._server is not None:
            self._server.send(event)

    def _send_status(self) -> None:
        with self._lock:
            status: dict[str, Any] = {"event": "status", "state": self._state, "pid": os.getpid()}
            if self._current is not None:
                status["calculation"] = self._current.id
            if self._session_id is not None:
                status["sessionId"] = self._session_id
            if self._reason is not None:
                status["reason"] = self._reason
            if self._spark_version is not None:
                status["sparkVersion"] = self._spark_version
            status.update(self._driver_facts())
        self._send(status)

    def _send_progress(self, calculation_id: str, progress: TaskProgress) -> None:
        self._send({"event": "progress", "id": calculation_id, **progress.as_json()})


def _finished_event(
    calculation: Calculation, error: BaseException | None, duration_ms: int, progress: TaskProgress
) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "finished", "id": calculation.id}
    if calculation.cancel_requested.is_set():
        # Once a cancel is accepted the calculation ends CANCELED, even if its code completed or failed
        # before the interrupt reached it: the server has already moved it to CANCELING.
        event["state"] = CANCELED
    elif error is None:
        event["state"] = COMPLETED
    else:
        event["state"] = CALCULATION_FAILED
        event["reason"] = _bounded_reason(exception_line(error))
    event["durationMs"] = duration_ms
    event["progress"] = progress.as_json()
    return event


def _error_of(error: BaseException | None, traceback_text: str | None) -> dict[str, str] | None:
    """The result document's ``error``: the exception line split as Jupyter names its parts, and the traceback
    exactly as it ends stderr.txt."""
    if error is None or traceback_text is None:
        return None
    name, _, value = exception_line(error).partition(": ")
    return {"ename": name, "evalue": value, "traceback": traceback_text}


def _bounded_reason(reason: str) -> str:
    if len(reason) <= MAX_REASON_CHARACTERS:
        return reason
    return reason[: MAX_REASON_CHARACTERS - 3] + "..."


def _log_truncated_output(calculation_id: str, counts: dict[str, StreamCounts], limit: int) -> None:
    for name, stream in counts.items():
        if stream.get("discarded"):
            log.warning(
                "calculation %s: %s.txt cut at %d bytes, %d bytes discarded", calculation_id, name, limit, stream["discarded"]
            )


def _read_secret(path: str) -> str:
    with open(path, encoding="utf-8") as secret_file:
        secret = secret_file.read().strip()
    if not secret:
        raise OSError(f"{path} is empty")
    return secret


def _configure_runner_logging() -> TextIO:
    """The runner's own log lines (and py4j's) go to the session log through a descriptor of their own, so
    that they never land in a calculation's stderr while fd 2 points there. The root logger stays untouched:
    user code's logging behaves as in a plain Python process. Returns the session log stream."""
    session_log = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    handler = logging.StreamHandler(session_log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("owlet_runner", "py4j"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("owlet_runner").setLevel(logging.INFO)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    return session_log


def _route_pyspark_query_loggers(session_log: TextIO) -> None:
    """PySpark 4 logs every SQL error that has a query context as a JSON line with the JVM stack trace, on a
    handler created on the sys.stderr of the moment, i.e. into the calculation's stderr ahead of the
    traceback. That is Spark's log, not the user's output (Athena's engines, Spark 3.x, print nothing of the
    kind): it goes to the session log."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:
        return
    for name in ("DataFrameQueryContextLogger", "SQLQueryContextLogger"):
        logger = PySparkLogger.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.addHandler(logging.StreamHandler(session_log))
        logger.propagate = False
