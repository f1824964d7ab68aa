"""The memory of an idle Spark driver, setting by setting: which of the settings Owlet's runner applies costs
how many MiB, measured on a bare PySpark process so that each figure is one setting's own.

    .runtimes/spark-3.5/venv/bin/python bench/driver_memory.py [--jars DIR] [--settle SECONDS]

Each variant runs in a fresh Python process (a JVM of its own): it starts ``local[2]`` Spark with the
variant's settings and ``-XX:NativeMemoryTracking=summary``, runs ``spark.range(1).count()`` (what a session
runs before it reports ready), waits ``--settle`` seconds (25: idle, as a session waits for its first calculation), and reports the RSS of the Python process and of
its JVM (from /proc) and the JVM's own account by category (``jcmd <pid> VM.native_memory summary``:
committed KiB of Java Heap, Class, Thread, Code, GC, ...). NMT itself costs a little memory (its own
category, "Native Memory Tracking"), the same in every variant. Variants run one after the other, each
compared with the bare one of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"


def variants(jars: Path) -> dict[str, dict[str, str]]:
    connect_jars = ":".join(str(p) for p in sorted(jars.glob("spark-connect_*3.5*.jar")))
    base = {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1", "spark.ui.showConsoleProgress": "false"}
    connect = {
        "spark.plugins": CONNECT_PLUGIN,
        "spark.driver.extraClassPath": connect_jars,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": "0",
    }
    return {
        "bare (Spark's defaults: UI on)": {**base},
        "UI off": {**base, "spark.ui.enabled": "false"},
        "+ Spark Connect plugin (Owlet's settings)": {**base, **connect, "spark.ui.port": "0"},
        "+ Spark Connect, UI keeping 100 jobs/stages (default 1000)": {
            **base,
            **connect,
            "spark.ui.port": "0",
            "spark.ui.retainedJobs": "100",
            "spark.ui.retainedStages": "100",
            "spark.sql.ui.retainedExecutions": "100",
        },
        # JDK 12+ (JEP 346): G1 runs a concurrent cycle when it has not collected for this long and gives the
        # heap it does not need back to the OS; an idle driver otherwise keeps what its start-up committed.
        "+ Spark Connect, G1 periodic GC every 10 s": {
            **base,
            **connect,
            "spark.ui.port": "0",
            "spark.driver.extraJavaOptions": "-XX:G1PeriodicGCInterval=10000",
        },
    }


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _java_child(pid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        # The parent pid is the fourth field, after the command in parentheses.
        if comm == "java" and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            return int(entry.name)
    return None


def _nmt(pid: int) -> dict[str, int]:
    text = subprocess.run(["jcmd", str(pid), "VM.native_memory", "summary"], capture_output=True, text=True, timeout=120).stdout
    committed: dict[str, int] = {}
    for match in re.finditer(r"^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB\)", text, re.MULTILINE):
        committed[match.group(1).strip()] = int(match.group(2))
    total = re.search(r"Total: reserved=\d+KB, committed=(\d+)KB", text)
    if total:
        committed["Total"] = int(total.group(1))
    return committed


def measure(settings: dict[str, str], settle: float) -> dict[str, object]:
    from pyspark.sql import SparkSession

    java_options = f"-XX:NativeMemoryTracking=summary {settings.get('spark.driver.extraJavaOptions', '')}".strip()
    builder = SparkSession.builder.master("local[2]")
    for key, value in {**settings, "spark.driver.extraJavaOptions": java_options}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.range(1).count()
    time.sleep(settle)
    java = _java_child(os.getpid())
    result: dict[str, object] = {
        "pythonRssKiB": _rss_kib(os.getpid()),
        "jvmRssKiB": _rss_kib(java) if java else 0,
        "nmtCommittedKiB": _nmt(java) if java else {},
    }
    spark.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jars", default=str(ROOT / ".runtimes" / "jars"))
    parser.add_argument("--settle", type=float, default=25.0)
    parser.add_argument("--variant")
    args = parser.parse_args()
    table = variants(Path(args.jars))
    if args.variant is not None:
        print(json.dumps(measure(table[args.variant], args.settle)))
        return
    results: dict[str, dict[str, object]] = {}
    for name in table:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--jars", args.jars, "--settle", str(args.settle), "--variant", name],
            capture_output=True, text=True, timeout=900,
            # jcmd's attach leaves a .attach_pid<pid> file in the JVM's working directory while it runs.
            cwd=tempfile.gettempdir(),
        )
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[name]
        nmt = r["nmtCommittedKiB"]
        assert isinstance(nmt, dict)
        parts = ", ".join(f"{k} {v / 1024:.0f}" for k, v in nmt.items() if k in ("Java Heap", "Class", "Thread", "Code", "GC", "Other", "Internal", "Metaspace", "Total"))
        total = (int(r["pythonRssKiB"]) + int(r["jvmRssKiB"])) / 1024  # type: ignore[call-overload]
        print(f"{name}: RSS {total:.0f} MiB (JVM {int(r['jvmRssKiB']) / 1024:.0f}, Python {int(r['pythonRssKiB']) / 1024:.0f}); NMT committed MiB: {parts}", flush=True)  # type: ignore[call-overload]
    out = ROOT / "bench" / "results" / "driver-memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
