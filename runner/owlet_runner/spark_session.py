"""The session's configuration (``DIR/config.json``), the SparkSession built from it, and the settings a pooled
runner's SparkSession takes when it is given a session (``configure``)."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
DEFAULT_LOG_LEVEL = "WARN"
# The application name of a runner started without a session (a pooled one), unless config.json names one.
POOLED_APP_NAME = "owlet-session"

CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
# The Connect server's pre-shared token: a setting of that name wins over the environment variable, which is
# how the runner passes its own token (see build_spark_session).
CONNECT_TOKEN_PROPERTY = "spark.connect.authenticate.token"
CONNECT_TOKEN_ENVIRONMENT = "SPARK_CONNECT_AUTHENTICATE_TOKEN"

# Settings Owlet applies before the session's own SparkProperties, which may override any of them (a session
# on a remote master must advertise a reachable driver host, for example).
RUNNER_SPARK_DEFAULTS: dict[str, str] = {
    # Spark's console progress bar writes carriage-return updates to stderr; progress is reported over the
    # socket instead.
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "true",
    # Port 0 lets the UI bind any free port: with 4040 and auto-increment, more than 17 sessions on one
    # machine would fail to start (spark.port.maxRetries defaults to 16).
    "spark.ui.port": "0",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    # Spark Connect served by this driver, for GetSessionEndpoint: on the loopback interface only, on any free
    # port (the runner reports it), and behind a token (connect_token_environment) that only the Owlet server
    # learns, so that nobody reaches the driver without going through the server's token-checking proxy.
    "spark.plugins": CONNECT_PLUGIN,
    "spark.connect.grpc.binding.address": "127.0.0.1",
    "spark.connect.grpc.binding.port": "0",
}


# JVM options of every driver, ahead of the session's own spark.driver.extraJavaOptions (for HotSpot the last
# occurrence of a flag wins, so a session can turn this off with -XX:-ExitOnOutOfMemoryError). Without it an
# OutOfMemoryError ends differently depending on the thread it hits. In a task thread Spark exits the JVM
# itself (exit code 52). In the thread serving py4j (query planning, driver-side collection) the JVM lives on
# and the calculation fails; a heap filled step by step gave a minute of garbage collection first, a reason
# that did not name the error (`Py4JError: An error occurred while calling ...`), and two more of the JVM's
# threads dead of it in the session log, while the session went on as IDLE with a driver in a state nobody
# knows. Exiting at the first one makes every case end alike: the runner sees the JVM go, the calculation
# fails with java.lang.OutOfMemoryError as its reason, and the session fails with it (driver_exit.py).
RUNNER_JAVA_OPTIONS = "-XX:+ExitOnOutOfMemoryError"
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"

# The runner's scratch directory, inside its session directory: Spark's local directories (blockmgr-*, spark-*),
# what the JVM puts in java.io.tmpdir (native libraries unpacked by lz4 and snappy, Hive's <id>_resources) and
# the temporary files of the session's Python code (TMPDIR). Spark deletes its own at a clean stop, and nothing
# else would: a runner that is killed left them in /tmp for good. Here the runner removes the directory when it
# ends, and the server when it sees a runner gone (src/engine/local-runner-engine.ts).
SCRATCH_DIRECTORY = "tmp"


class SessionConfigError(Exception):
    """config.json is missing or malformed."""


def idle_timeout_seconds(value: Any, where: str) -> float | None:
    """A session's idle timeout given in milliseconds (config.json, ``configure``), in seconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SessionConfigError(f"{where}: idleTimeoutMs must be a positive number of milliseconds")
    return value / 1000


@dataclass(frozen=True)
class SessionConfig:
    # None for a runner started ahead of time for the warm pool; the session comes later, with `configure`.
    session_id: str | None
    app_name: str
    master: str = DEFAULT_MASTER
    driver_memory: str | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    spark_properties: dict[str, str] = field(default_factory=dict)
    work_group: str | None = None
    # The session's idle timeout in seconds: with no server attached, the runner ends itself once it has passed.
    idle_timeout_seconds: float | None = None
    runtime: RuntimeJars = field(default_factory=lambda: RuntimeJars())
    # The runner's scratch directory (SCRATCH_DIRECTORY), if it has one.
    scratch_dir: str | None = None

    @classmethod
    def from_file(cls, path: str) -> SessionConfig:
        try:
            with open(path, encoding="utf-8") as config_file:
                document = json.load(config_file)
        except (OSError, ValueError) as error:
            raise SessionConfigError(f"cannot read {path}: {error}") from None
        return cls.from_document(document)

    @classmethod
    def from_document(cls, document: Any) -> SessionConfig:
        if not isinstance(document, dict):
            raise SessionConfigError("config.json must hold a JSON object")
        session_id = _optional_string(document, "sessionId") or None
        properties = document.get("sparkProperties") or {}
        if not isinstance(properties, dict):
            raise SessionConfigError("config.json: sparkProperties must be an object")
        return cls(
            idle_timeout_seconds=idle_timeout_seconds(document.get("idleTimeoutMs"), "config.json"),
            session_id=session_id,
            app_name=_optional_string(document, "appName") or session_id or POOLED_APP_NAME,
            master=_optional_string(document, "master") or DEFAULT_MASTER,
            driver_memory=_optional_string(document, "driverMemory"),
            log_level=_optional_string(document, "logLevel") or DEFAULT_LOG_LEVEL,
            spark_properties=property_values(properties),
            work_group=_optional_string(document, "workGroup") or None,
            runtime=RuntimeJars.from_document(document.get("runtime") or {}),
        )

    def spark_settings(self) -> dict[str, str]:
        """Every setting the builder gets, in the order it gets them (later ones win)."""
        settings = {"spark.master": self.master, "spark.app.name": self.app_name}
        if self.driver_memory:
            # Only takes effect because it reaches spark-submit before the driver JVM starts.
            settings["spark.driver.memory"] = self.driver_memory
        settings.update(RUNNER_SPARK_DEFAULTS)
        runner_java_options = RUNNER_JAVA_OPTIONS
        if self.scratch_dir:
            settings["spark.local.dir"] = self.scratch_dir
            runner_java_options += f' "-Djava.io.tmpdir={self.scratch_dir}"'
        settings.update(self.spark_properties)
        own_java_options = self.spark_properties.get(DRIVER_JAVA_OPTIONS, "").strip()
        settings[DRIVER_JAVA_OPTIONS] = f"{runner_java_options} {own_java_options}".strip()
        # A session's own plugins come with Spark Connect, not instead of it: GetSessionEndpoint needs it.
        plugins = [name.strip() for name in settings["spark.plugins"].split(",") if name.strip()]
        if CONNECT_PLUGIN not in plugins:
            settings["spark.plugins"] = ",".join([*plugins, CONNECT_PLUGIN])
        # The runtime's jars come with the session's own, and its Connect token check cannot be turned off.
        _extend(settings, "spark.driver.extraClassPath", self.runtime.driver_class_path, ":")
        _extend(settings, "spark.jars", self.runtime.jars, ",")
        if self.runtime.connect_interceptor:
            _extend(settings, CONNECT_INTERCEPTORS, [self.runtime.connect_interceptor], ",")
        return settings


CONNECT_INTERCEPTORS = "spark.connect.grpc.interceptor.classes"


def _extend(settings: dict[str, str], key: str, values: list[str], separator: str) -> None:
    own = [v for v in settings.get(key, "").split(separator) if v.strip()]
    merged = [*values, *(v for v in own if v not in values)]
    if merged:
        settings[key] = separator.join(merged)


@dataclass(frozen=True)
class RuntimeJars:
    """What the session's Spark runtime adds to its driver (config.json's ``runtime``, src/engine/runtimes.ts)."""

    driver_class_path: list[str] = field(default_factory=list)
    jars: list[str] = field(default_factory=list)
    connect_interceptor: str | None = None

    @classmethod
    def from_document(cls, document: Any) -> RuntimeJars:
        if not isinstance(document, dict):
            raise SessionConfigError("config.json: runtime must be an object")
        return cls(
            driver_class_path=[str(p) for p in document.get("driverClassPath") or []],
            jars=[str(p) for p in document.get("jars") or []],
            connect_interceptor=_optional_string(document, "connectInterceptor"),
        )


def _optional_string(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SessionConfigError(f"config.json: {key} must be a string")
    return value


def property_values(properties: dict[Any, Any]) -> dict[str, str]:
    """Spark settings are strings; JSON true/false and numbers are taken as Spark would write them."""
    return {str(key): _property_value(value) for key, value in properties.items()}


def _property_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_spark_session(config: SessionConfig, connect_token: str | None = None) -> SparkSession:
    """Starts the session's SparkSession. ``connect_token`` is the token Spark Connect clients must present;
    it reaches the JVM through its environment, never its command line (PySpark passes every setting of the
    builder to spark-submit as ``--conf k=v``, which any user of the machine can read in the process list),
    and it is gone from this process's environment once the JVM has started, so that calculations and the
    programs they start do not inherit it."""
    # The JVM and Python workers inherit the environment, so these must be set before the gateway starts.
    # SPARK_LOCAL_IP is what the Spark UI binds to (spark.driver.bindAddress covers only the RPC endpoints);
    # without PYSPARK_PYTHON, Python workers would run whatever `python3` is on PATH, not this virtualenv.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if config.scratch_dir:
        os.environ["TMPDIR"] = config.scratch_dir
        tempfile.tempdir = None  # read TMPDIR again

    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in config.spark_settings().items():
        builder = builder.config(key, value)
    log_offset = _session_log_size()
    if connect_token is not None:
        os.environ[CONNECT_TOKEN_ENVIRONMENT] = connect_token
    try:
        spark = builder.getOrCreate()
    except Exception as error:
        detail = _gateway_failure(log_offset) if "JAVA_GATEWAY_EXITED" in str(error) else None
        if detail is None:
            raise
        raise SparkStartError(detail) from error
    finally:
        os.environ.pop(CONNECT_TOKEN_ENVIRONMENT, None)
    spark.sparkContext.setLogLevel(config.log_level)
    return spark


def is_local_master(master: str) -> bool:
    """Whether the driver runs the tasks itself (``local``, ``local[N]``) rather than a cluster's executors."""
    return master == "local" or master.startswith("local[")


def warm_up(spark: SparkSession, master: str) -> None:
    """One small query before ``ready``: the first query of a JVM pays for loading and compiling Spark's planner
    and code generator (seconds on a small machine). Paid here, it is not paid by the user's first calculation,
    and a cancel of that calculation does not wait for it.

    In local mode the query runs as a job, which warms the task side too (the same JVM). On a cluster a job
    would need an executor: dynamic allocation would start one for every new session (its start then waiting
    for an executor JVM) and keep it until it idled out. There the query is only planned and compiled, on the
    driver: ``execute()`` of a plan without an exchange builds its RDD without running a job.
    """
    if is_local_master(master):
        spark.range(1).count()
    else:
        spark.range(1).selectExpr("id + 1 AS warm")._jdf.queryExecution().executedPlan().execute()


class SparkStartError(Exception):
    """Spark's launcher exited; the message is its own error line from the session log."""


def _session_log_size() -> int | None:
    try:
        status = os.fstat(2)
    except OSError:
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _gateway_failure(log_offset: int | None) -> str | None:
    """When spark-submit exits early (a bad master URL, an unparsable driver memory), PySpark only says the
    gateway exited; the reason is the launcher's error line, which went to the session log (fd 2)."""
    if log_offset is None:
        return None
    try:
        with open("/proc/self/fd/2", "rb") as session_log:
            session_log.seek(log_offset)
            output = session_log.read(256 * 1024).decode("utf-8", "replace")
    except OSError:
        return None
    for line in output.splitlines():
        for prefix in ('Exception in thread "main" ', "Error: "):
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
    return None


@dataclass(frozen=True)
class PropertyRefusal:
    key: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "reason": self.reason}


def apply_runtime_properties(
    spark: SparkSession, properties: dict[str, str]
) -> tuple[list[str], list[PropertyRefusal]]:
    """Applies a session's SparkProperties to a running SparkSession, all or none.

    Returns the keys now in effect and the refusals. A key is applied when Spark lets the session change it
    (``spark.conf.isModifiable``: a SQL configuration that is not static) or when it already holds the value
    asked for (the pool's runners share the settings of their launch class). Anything else is refused: a
    static or core setting is read only when the JVM or the SparkSession starts, and a key Spark does not know
    (``spark.hadoop.*``, a catalog's, a library's own) goes into the session's SQL configuration without
    reaching whatever reads it at startup, so setting it would be the silent half-application this must avoid.
    When anything is refused, nothing stays applied, so the runner is as it was and can go back to the pool.
    One static setting is taken: the warehouse directory (WAREHOUSE_KEY below).
    """
    refused: list[PropertyRefusal] = []
    settable: list[str] = []
    unchanged: set[str] = set()
    warehouse: str | None = None
    for key, value in properties.items():
        try:
            modifiable = spark.conf.isModifiable(key)
            current = None if modifiable else spark.conf.get(key, None)
        except Exception as error:  # noqa: BLE001 - the key is refused with Spark's reason
            refused.append(PropertyRefusal(key, _first_line(error)))
            continue
        if modifiable:
            settable.append(key)
        elif current == value:
            unchanged.add(key)
        elif key == WAREHOUSE_KEY:
            warehouse = value
        else:
            refused.append(PropertyRefusal(key, _why_not_modifiable(spark, key)))
    if refused:
        return [], refused

    previous = _session_settings(spark)
    changed: list[str] = []
    for key in settable:
        try:
            spark.conf.set(key, properties[key])
            changed.append(key)
        except Exception as error:  # noqa: BLE001 - a value Spark rejects ("abc" for an int) is refused
            refused.append(PropertyRefusal(key, _first_line(error)))
    if refused:
        for key in changed:
            try:
                if key in previous:
                    spark.conf.set(key, previous[key])
                else:
                    spark.conf.unset(key)
            except Exception:  # noqa: BLE001 - reported; the server stops a runner it cannot configure
                log.warning("cannot restore %s after a refused configure", key, exc_info=True)
        return [], refused
    if warehouse is not None:
        _set_warehouse(spark, warehouse)
        changed.append(WAREHOUSE_KEY)
    return [key for key in properties if key in unchanged or key in changed], []


# Spark's warehouse directory is a static SQL configuration, but Spark reads it at start only to place the
# `default` database, which the account's catalog already holds. A database created without LOCATION is placed
# under it at each CREATE DATABASE: SessionCatalog qualifies the relative `<db>.db` against the session's SQL
# configuration, and the v2 strategies and the sessions Spark Connect opens read the shared state's SparkConf
# (apache/spark SessionCatalog.makeQualifiedDBObjectPath, DataSourceV2Strategy). A pooled runner that has run
# nothing yet takes the session's warehouse (under its workgroup's output location, docs/catalog.md) by setting it
# in both.
WAREHOUSE_KEY = "spark.sql.warehouse.dir"


def _set_warehouse(spark: SparkSession, warehouse: str) -> None:
    jsession = spark._jsparkSession  # type: ignore[attr-defined]
    jsession.sharedState().conf().set(WAREHOUSE_KEY, warehouse)
    jsession.sessionState().conf().setConfString(WAREHOUSE_KEY, warehouse)


def apply_hadoop_settings(spark: SparkSession, settings: dict[str, str]) -> None:
    """Sets `settings` where a session started with them as ``spark.hadoop.*`` properties would have them: a
    pooled runner's S3 store and key pair, given when it gets its session (``configure``).

    - The driver's Hadoop configuration. File systems read it when they start, and none of S3A's has started
      in a pooled runner; jobs carry it to their tasks.
    - ``spark.hadoop.<key>`` in the driver's live SparkConf (``SparkContext.conf``, not the copy ``getConf``
      returns), for the executors of a cluster. An executor builds its own Hadoop configuration, which
      ``sc.addFile`` / ``sc.addPyFile`` downloads use, from the SparkConf it fetches from the driver when it
      starts, and the driver's scheduler backend reads that SparkConf once, when the first executor asks
      (``sparkProperties``, a lazy val of ``CoarseGrainedSchedulerBackend.DriverEndpoint`` in Spark 3.5 and
      4.1). A pooled runner has had no executor yet (dynamic allocation starts from none, docs/cluster.md),
      so every executor of its session gets the settings."""
    if not settings:
        return
    context = spark.sparkContext._jsc  # type: ignore[union-attr]
    hadoop_conf = context.hadoopConfiguration()
    spark_conf = context.sc().conf()
    for key, value in settings.items():
        hadoop_conf.set(key, value)
        spark_conf.set(f"spark.hadoop.{key}", value)


def _session_settings(spark: SparkSession) -> dict[str, str]:
    """The settings of the session that are set (not left at their defaults). Spark 4's RuntimeConfig has getAll;
    on Spark 3.5 a plain SET lists them (a command run on the driver, no job)."""
    if hasattr(spark.conf, "getAll"):
        return dict(spark.conf.getAll)
    return {row.key: row.value for row in spark.sql("SET").collect()}


def _why_not_modifiable(spark: SparkSession, key: str) -> str:
    try:
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        if jvm.org.apache.spark.sql.internal.SQLConf.isStaticConfigKey(key):
            return "a static SQL configuration: Spark reads it only when the session starts"
        if jvm.org.apache.spark.internal.config.ConfigEntry.findEntry(key) is not None:
            return "a Spark core setting: Spark reads it only when the driver starts"
    except Exception:  # noqa: BLE001 - the general reason below still holds
        log.debug("cannot classify %s", key, exc_info=True)
    return (
        "not a SQL configuration Spark can change in a running session: "
        "only a session started with it is sure to apply it"
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
