# The baseline of the session benchmarks: PySpark in a plain Python process, with nothing of Owlet in the way.
#
#   .venv/bin/python bench/bare_spark.py
#
# Starts Spark exactly as `SparkSession.builder.master("local[2]").getOrCreate()`, says so on stdout, runs
# `spark.range(1).count()` (Owlet's runner runs that one small job before it reports ready) and says so
# again. Then it reads requests from stdin, one JSON object a line, and answers each with one JSON line on
# stdout, timing the work itself with time.perf_counter(). It stops Spark and exits when stdin closes.
#
# Requests:
#   {"op": "eval", "code": "1+1", "repeat": N}   time eval() of the compiled expression, N times (best and median)
#   {"op": "count", "n": 1000}                    time spark.range(n).count()
#   {"op": "cancel-spark", "after": 1.0}          a Spark job of tasks that sleep, cancelled `after` s after it is
#                                                 running (SparkContext.cancelJobGroup from another thread);
#                                                 time from the cancel to the job's call raising in the main thread
#   {"op": "cancel-loop", "after": 1.0}           a Python `while True` loop interrupted with SIGINT sent to the
#                                                 main thread `after` s in; time from the signal to the
#                                                 KeyboardInterrupt being caught
#
# Spark's own output goes to stderr, which the benchmark drops; the environment keeps it on 127.0.0.1
# (SPARK_LOCAL_IP) and has Python workers use this interpreter (PYSPARK_PYTHON).
import json
import signal
import statistics
import sys
import threading
import time


def say(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


from pyspark.sql import SparkSession  # noqa: E402 - imported after `say` on purpose: its import is part of the start

spark = SparkSession.builder.master("local[2]").getOrCreate()
say({"event": "created"})
spark.range(1).count()
say({"event": "counted"})

sc = spark.sparkContext
namespace = {"spark": spark, "sc": sc, "__name__": "__main__"}
main_thread = threading.main_thread().ident


def time_eval(request):
    code = compile(request.get("code", "1+1"), "<stdin>", "eval")
    times = []
    for _ in range(int(request.get("repeat", 1))):
        started = time.perf_counter()
        eval(code, namespace)
        times.append((time.perf_counter() - started) * 1000)
    return {"ms": statistics.median(times), "bestMs": min(times)}


def time_count(request):
    started = time.perf_counter()
    result = spark.range(int(request.get("n", 1000))).count()
    return {"ms": (time.perf_counter() - started) * 1000, "result": result}


def wait_for_active_job(group, deadline_s=60):
    deadline = time.monotonic() + deadline_s
    tracker = sc.statusTracker()
    while time.monotonic() < deadline:
        for job_id in tracker.getJobIdsForGroup(group):
            info = tracker.getJobInfo(job_id)
            if info is not None and info.status == "RUNNING":
                return True
        time.sleep(0.01)
    return False


def time_cancel_spark(request):
    group = f"bench-{time.monotonic_ns()}"
    after = float(request.get("after", 1.0))
    cancelled_at = []

    def cancel():
        wait_for_active_job(group)
        time.sleep(after)
        cancelled_at.append(time.perf_counter())
        sc.cancelJobGroup(group)

    sc.setJobGroup(group, "bench cancel", interruptOnCancel=True)
    canceller = threading.Thread(target=cancel, daemon=True)
    canceller.start()
    outcome = "completed"
    try:
        spark.range(0, 200, 1, 8).rdd.map(lambda x: time.sleep(30) or x).count()
    except Exception:  # noqa: BLE001 - a cancelled job raises Py4JJavaError
        outcome = "cancelled"
    ended = time.perf_counter()
    canceller.join()
    sc.setJobGroup("idle", "idle")
    return {"ms": (ended - cancelled_at[0]) * 1000, "outcome": outcome}


def time_cancel_loop(request):
    after = float(request.get("after", 1.0))
    signalled_at = []

    def interrupt():
        time.sleep(after)
        signalled_at.append(time.perf_counter())
        signal.pthread_kill(main_thread, signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupter = threading.Thread(target=interrupt, daemon=True)
    interrupter.start()
    outcome = "completed"
    try:
        n = 0
        while True:
            n += 1
    except KeyboardInterrupt:
        outcome = "cancelled"
    ended = time.perf_counter()
    interrupter.join()
    signal.signal(signal.SIGINT, previous)
    return {"ms": (ended - signalled_at[0]) * 1000, "outcome": outcome}


OPERATIONS = {
    "eval": time_eval,
    "count": time_count,
    "cancel-spark": time_cancel_spark,
    "cancel-loop": time_cancel_loop,
}

for line in sys.stdin:
    if not line.strip():
        continue
    try:
        request = json.loads(line)
        say({"ok": True, **OPERATIONS[request["op"]](request)})
    except Exception as error:  # noqa: BLE001 - reported to the benchmark, which fails with it
        say({"ok": False, "error": f"{type(error).__name__}: {error}"})

spark.stop()
