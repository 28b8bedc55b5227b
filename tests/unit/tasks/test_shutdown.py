"""The cold-shutdown bound (tasks/shutdown.py) in a process of its own, with a SIGQUIT handler standing in for
Celery's: it waits for its child, as the pool join does, and then hangs. (Through a real worker: the fault suite.)"""

import signal
import subprocess
import sys
import textwrap
import time

from tests.support.stack import ROOT

HELD = textwrap.dedent(
    """
    import signal, subprocess, sys, time
    from tasks.shutdown import bound_cold_shutdown

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def celerys_handler(signum, frame):
        child.wait()
        print("joined", child.returncode, flush=True)
        time.sleep(60)

    signal.signal(signal.SIGQUIT, celerys_handler)
    bound_cold_shutdown(float(sys.argv[1]))
    print("ready", flush=True)
    time.sleep(60)
    """
)

ENDS = textwrap.dedent(
    """
    import signal, sys, time
    from tasks.shutdown import bound_cold_shutdown

    def celerys_handler(signum, frame):
        print("handled", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGQUIT, celerys_handler)
    bound_cold_shutdown(float(sys.argv[1]))
    print("ready", flush=True)
    time.sleep(60)
    """
)


def run(script: str, bound: float) -> tuple[subprocess.CompletedProcess[str], float]:
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(bound)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "ready\n"
    signaled = time.monotonic()
    process.send_signal(signal.SIGQUIT)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), time.monotonic() - signaled


def test_a_cold_shutdown_held_by_a_child_kills_the_child_then_ends_the_process() -> None:
    result, took = run(HELD, 0.5)
    assert result.stdout == f"joined {-signal.SIGKILL}\n"  # the handler's wait returned: the child was killed
    assert "cold shutdown still running after 0.5 s: killing 1 pool children" in result.stderr
    assert "in celerys_handler" in result.stderr  # the main thread's stack, where it was held
    assert "still running 0.5 s after its pool children were killed: exiting" in result.stderr
    assert result.returncode == 1
    assert 1.0 <= took < 20, took


def test_a_cold_shutdown_that_ends_in_time_is_left_alone() -> None:
    result, took = run(ENDS, 10)
    assert result.stdout == "handled\n"
    assert result.stderr == ""
    assert result.returncode == 0
    assert took < 5, took  # not held until the bound
