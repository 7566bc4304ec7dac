"""scripts/bench_api's own measurements of the server process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support import REPO

# Measured in a process of its own: in the test process, threads left by other tests may
# end between the two readings and take their switches out of the sum.
CHILD = textwrap.dedent(
    """
    import os, threading, time
    from scripts.bench_api import ctx_switches

    slept, done = threading.Event(), threading.Event()

    def sleeper():
        for _ in range(50):
            time.sleep(0.001)  # gives up its core each time: a voluntary switch a sleep
        slept.set()
        done.wait()  # still alive when counted: a thread that ended is no longer in /proc

    thread = threading.Thread(target=sleeper)
    before = ctx_switches(os.getpid())
    thread.start()
    assert slept.wait(10)
    print(ctx_switches(os.getpid()) - before)
    done.set()
    thread.join()
    """
)


def test_context_switches_count_every_thread_of_the_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    assert float(out.stdout) >= 50
