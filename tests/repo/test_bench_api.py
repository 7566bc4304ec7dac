"""scripts/bench_api's own measurements of the server process."""

from __future__ import annotations

import os
import threading
import time

from scripts.bench_api import ctx_switches


def test_context_switches_count_every_thread_of_the_process() -> None:
    # A thread that sleeps gives up its core each time: at least one voluntary switch a sleep.
    slept = threading.Event()
    done = threading.Event()

    def sleeper() -> None:
        for _ in range(50):
            time.sleep(0.001)
        slept.set()
        done.wait()  # still alive when counted: a thread that ended is no longer in /proc

    thread = threading.Thread(target=sleeper)
    before = ctx_switches(os.getpid())
    thread.start()
    try:
        assert slept.wait(10)
        assert ctx_switches(os.getpid()) - before >= 50
    finally:
        done.set()
        thread.join()
