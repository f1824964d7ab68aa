"""A pooled runner: started without a session, given one with `configure`.

The tests share the runner and run in file order: refused configures first (they must leave it untouched), then
the one that succeeds, then what a configured runner does and refuses.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from runner_harness import SPARK_VERSION, Event, RunnerProcess

SESSION_ID = "pooled-session-1"


@pytest.fixture(scope="module")
def runner(start_runner: Callable[..., RunnerProcess], config_factory: Callable[..., dict[str, Any]]) -> RunnerProcess:
    config = config_factory()
    del config["sessionId"]
    del config["appName"]
    process = start_runner(config)
    process.wait_ready()
    return process


def configure(runner: RunnerProcess, message: dict[str, Any]) -> Event:
    assert runner.client is not None
    runner.client.send({"op": "configure", **message})
    answer, _ = runner.client.wait_for(lambda event: event["event"] in ("configured", "error"), 60)
    return answer


def test_a_pooled_runner_has_no_session(runner: RunnerProcess) -> None:
    assert runner.client is not None
    runner.client.send({"op": "status"})
    status = runner.client.next_event(30)
    assert status["state"] == "idle"
    assert "sessionId" not in status


def test_configure_needs_a_session_id(runner: RunnerProcess) -> None:
    answer = configure(runner, {"sparkProperties": {}})
    assert answer["event"] == "error"
    assert "sessionId" in answer["message"]


def test_a_static_property_is_refused_and_nothing_is_applied(runner: RunnerProcess) -> None:
    answer = configure(
        runner,
        {
            "sessionId": SESSION_ID,
            "sparkProperties": {
                "spark.sql.shuffle.partitions": "7",
                "spark.driver.memory": "2g",
                "spark.sql.catalogImplementation": "in-memory",
                "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:1",
            },
        },
    )
    assert answer == {
        "event": "configured",
        "sessionId": SESSION_ID,
        "applied": [],
        "refused": [
            {
                "key": "spark.driver.memory",
                "reason": "a Spark core setting: Spark reads it only when the driver starts",
            },
            {
                "key": "spark.sql.catalogImplementation",
                "reason": "a static SQL configuration: Spark reads it only when the session starts",
            },
            {
                "key": "spark.hadoop.fs.s3a.endpoint",
                "reason": "not a SQL configuration Spark can change in a running session: "
                "only a session started with it is sure to apply it",
            },
        ],
    }


def test_a_value_spark_rejects_is_refused_and_the_others_are_rolled_back(runner: RunnerProcess) -> None:
    answer = configure(
        runner,
        {
            "sessionId": SESSION_ID,
            "sparkProperties": {"spark.sql.ansi.enabled": False, "spark.sql.shuffle.partitions": "many"},
        },
    )
    assert answer["event"] == "configured"
    assert answer["applied"] == []
    assert [refusal["key"] for refusal in answer["refused"]] == ["spark.sql.shuffle.partitions"]
    # Spark 4 names the error class; Spark 3.5 says it in words.
    assert any(
        text in answer["refused"][0]["reason"] for text in ("INVALID_CONF_VALUE", "should be int, but was many")
    ), answer
    # spark.sql.ansi.enabled was set before the bad value was found; the calculation below sees it restored.


def test_hadoop_settings_must_be_strings(runner: RunnerProcess) -> None:
    answer = configure(runner, {"sessionId": SESSION_ID, "sparkProperties": {}, "hadoopSettings": {"fs.s3a.endpoint": 9}})
    assert answer == {
        "event": "error",
        "message": "configure: hadoopSettings must map names to strings",
        "sessionId": SESSION_ID,
    }


def test_configure_applies_runtime_properties_and_gives_the_session(
    runner: RunnerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The session's own warehouse (its workgroup's, docs/catalog.md): static in Spark, taken all the same.
    warehouse = tmp_path_factory.mktemp("session-warehouse")
    answer = configure(
        runner,
        {
            "sessionId": SESSION_ID,
            "workGroup": "primary",
            # The runner was started with 1g: asking for the same value is no change, so it is not refused.
            "sparkProperties": {
                "spark.sql.shuffle.partitions": 7,
                "spark.driver.memory": "1g",
                "spark.sql.warehouse.dir": f"file:{warehouse}",
            },
            # The session's S3 store and key pair, into the driver's Hadoop configuration.
            "hadoopSettings": {"fs.s3a.endpoint": "http://127.0.0.1:9", "fs.s3a.access.key": "OWLSPOOLEDTEST000001"},
        },
    )
    # The Connect server started with the pooled runner, and is the session's from now on.
    connect = answer.pop("connect")
    assert isinstance(connect["port"], int) and connect["token"]
    assert answer == {
        "event": "configured",
        "sessionId": SESSION_ID,
        "applied": ["spark.sql.shuffle.partitions", "spark.driver.memory", "spark.sql.warehouse.dir"],
        "refused": [],
    }
    assert runner.client is not None
    runner.client.send({"op": "status"})
    status, _ = runner.client.wait_for(lambda event: event["event"] == "status", 30)
    assert status["sessionId"] == SESSION_ID

    calculation = runner.execute(
        "(spark.conf.get('spark.sql.shuffle.partitions'), spark.conf.get('spark.sql.ansi.enabled'),\n"
        " sc.getLocalProperty('spark.job.description'), sc._jsc.hadoopConfiguration().get('fs.s3a.access.key'),\n"
        # In the driver's SparkConf too, which a cluster's executors fetch when they start.
        " sc._jsc.sc().conf().get('spark.hadoop.fs.s3a.access.key'), sc.getConf().get('spark.hadoop.fs.s3a.endpoint'),\n"
        " spark.sql('create database pooled_probe').count(), spark.catalog.getDatabase('pooled_probe').locationUri)"
    )
    assert calculation.state == "COMPLETED", calculation.stderr
    description = f"calculation {calculation.finished['id']} of session {SESSION_ID}"
    # ANSI mode's default, restored: on since Spark 4, off on Spark 3.5.
    ansi_default = "false" if SPARK_VERSION.startswith("3.") else "true"
    assert calculation.result["outputs"] == [
        {
            "data": {
                "text/plain": repr(
                    (
                        "7",
                        ansi_default,
                        description,
                        "OWLSPOOLEDTEST000001",
                        "OWLSPOOLEDTEST000001",
                        "http://127.0.0.1:9",
                        0,
                        f"file:{warehouse}/pooled_probe.db",
                    )
                )
            },
            "lastExpression": True,
        }
    ]


def test_the_magics_know_the_session(runner: RunnerProcess) -> None:
    calculation = runner.execute("%session_id\n%status")
    assert calculation.state == "COMPLETED", calculation.stderr
    lines = calculation.stdout.splitlines()
    assert lines[:5] == [
        SESSION_ID,
        f"Session ID: {SESSION_ID}",
        "State: BUSY",
        "Workgroup: primary",
        f"Spark version: {SPARK_VERSION}",
    ]
    assert lines[5].startswith("Session start time: ") and lines[5].endswith(" UTC")


def test_configure_after_a_calculation_is_refused(runner: RunnerProcess) -> None:
    answer = configure(runner, {"sessionId": "another-session", "sparkProperties": {}})
    assert answer == {
        "event": "error",
        "message": "configure is accepted only before the first calculation",
        "sessionId": "another-session",
    }
    calculation = runner.execute("%session_id")
    assert calculation.stdout == f"{SESSION_ID}\n"
