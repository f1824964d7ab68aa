"""What the runner reports of its Spark driver besides calculations: the executors Spark knows of (ListExecutors)
and the Spark Connect server the driver runs (GetSessionEndpoint).

Both are read through py4j from threads other than the main one, which is where calculations run: py4j gives
each thread a connection of its own, so a running calculation is not disturbed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# SparkContext.DRIVER_IDENTIFIER: the id Spark gives the driver in its executor list.
DRIVER_ID = "driver"


def executor_list(spark: SparkSession) -> list[dict[str, Any]]:
    """Every executor Spark's status store knows of, live and removed (what the UI's Executors tab and the REST
    API's ``allexecutors`` show). In local mode that is the driver alone, which runs the tasks too."""
    summaries = spark.sparkContext._jsc.sc().statusStore().executorList(False)  # type: ignore[union-attr]
    executors: list[dict[str, Any]] = []
    for index in range(summaries.length()):
        summary = summaries.apply(index)
        executor_id = str(summary.id())
        entry: dict[str, Any] = {
            "id": executor_id,
            "isDriver": executor_id == DRIVER_ID,
            "hostPort": str(summary.hostPort()),
            "active": bool(summary.isActive()),
            "addTime": int(summary.addTime().getTime()),
            "totalCores": int(summary.totalCores()),
            "maxMemory": int(summary.maxMemory()),
        }
        removed = summary.removeTime()
        if removed.isDefined():
            entry["removeTime"] = int(removed.get().getTime())
        reason = summary.removeReason()
        if reason.isDefined():
            entry["removeReason"] = str(reason.get())
        executors.append(entry)
    return executors


@dataclass(frozen=True)
class ConnectServer:
    """The driver's Spark Connect server: where it listens (on 127.0.0.1) and the token it requires."""

    port: int
    token: str

    def as_json(self) -> dict[str, Any]:
        return {"port": self.port, "token": self.token}


def connect_port(spark: SparkSession) -> int:
    """The port Spark Connect's gRPC server is bound to (the runner asks for any free one). Raises RuntimeError
    when the server is not running, which happens only when its plugin could not be loaded."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    # SparkConnectService is a Scala object; its class has no static forwarder for localPort.
    service = getattr(getattr(jvm.org.apache.spark.sql.connect.service, "SparkConnectService$"), "MODULE$")
    # Spark 4's service says whether it started; Spark 3.5's has only its server, null until it starts.
    started = service.server() is not None if spark.version.startswith("3.") else service.started()
    if not started:
        raise RuntimeError("Spark Connect's server did not start in this driver (spark.plugins without its plugin?)")
    return int(service.localPort())
