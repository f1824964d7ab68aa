# What the Python tests' child processes (servers, Spark daemons) share: they end when the test run does.
import ctypes
import signal
import sys

if sys.platform == 'linux':
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
    _PR_SET_PDEATHSIG = 1

    def die_with_parent() -> None:
        # Runs in the child between fork and exec: the child gets SIGTERM if pytest itself is killed outright.
        # It survives the exec, so a launcher script that execs its JVM passes it on.
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

else:
    die_with_parent = None
