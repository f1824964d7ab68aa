"""The session's configuration (``DIR/config.json``) and the SparkSession built from it."""

from __future__ import annotations

import json
import os
import stat
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"
DEFAULT_LOG_LEVEL = "WARN"

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
}


class SessionConfigError(Exception):
    """config.json is missing or malformed."""


@dataclass(frozen=True)
class SessionConfig:
    session_id: str
    app_name: str
    master: str = DEFAULT_MASTER
    driver_memory: str | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    spark_properties: dict[str, str] = field(default_factory=dict)

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
        session_id = _optional_string(document, "sessionId") or "owlet-session"
        properties = document.get("sparkProperties") or {}
        if not isinstance(properties, dict):
            raise SessionConfigError("config.json: sparkProperties must be an object")
        return cls(
            session_id=session_id,
            app_name=_optional_string(document, "appName") or session_id,
            master=_optional_string(document, "master") or DEFAULT_MASTER,
            driver_memory=_optional_string(document, "driverMemory"),
            log_level=_optional_string(document, "logLevel") or DEFAULT_LOG_LEVEL,
            spark_properties={str(key): _property_value(value) for key, value in properties.items()},
        )

    def spark_settings(self) -> dict[str, str]:
        """Every setting the builder gets, in the order it gets them (later ones win)."""
        settings = {"spark.master": self.master, "spark.app.name": self.app_name}
        if self.driver_memory:
            # Only takes effect because it reaches spark-submit before the driver JVM starts.
            settings["spark.driver.memory"] = self.driver_memory
        settings.update(RUNNER_SPARK_DEFAULTS)
        settings.update(self.spark_properties)
        return settings


def _optional_string(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SessionConfigError(f"config.json: {key} must be a string")
    return value


def _property_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_spark_session(config: SessionConfig) -> SparkSession:
    # The JVM and Python workers inherit the environment, so these must be set before the gateway starts.
    # SPARK_LOCAL_IP is what the Spark UI binds to (spark.driver.bindAddress covers only the RPC endpoints);
    # without PYSPARK_PYTHON, Python workers would run whatever `python3` is on PATH, not this virtualenv.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in config.spark_settings().items():
        builder = builder.config(key, value)
    log_offset = _session_log_size()
    try:
        spark = builder.getOrCreate()
    except Exception as error:
        detail = _gateway_failure(log_offset) if "JAVA_GATEWAY_EXITED" in str(error) else None
        if detail is None:
            raise
        raise SparkStartError(detail) from error
    spark.sparkContext.setLogLevel(config.log_level)
    return spark


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
