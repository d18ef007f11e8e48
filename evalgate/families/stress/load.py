"""An open-loop load driver: Poisson arrivals at a fixed rate, each latency measured from the
*scheduled* arrival, so a slow server's queueing delay counts (no coordinated omission), and a
call still unanswered when the drain ends counted as an error *and* as a latency of +∞ — it
is in the tail, and leaving it out would let a server that hangs on some requests show the
percentiles of those it answered."""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    """What the open-loop driver saw."""

    offered_rate: float
    duration_s: float
    sent: int
    completed: int
    errors: int
    latencies_s: list[float] = field(default_factory=list)
    first_error: str | None = None
    #: calls still running (or queued) when the drain ended: among ``errors``, and each a
    #: latency of +∞ in ``latencies_s``
    unfinished: int = 0

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.sent if self.sent else 0.0


def open_loop(call: Callable[[int], object], *, rate: float, duration_s: float, workers: int,
              rng: np.random.Generator, drain_s: float = 10.0) -> LoadResult:
    """Send calls at Poisson arrivals of ``rate`` per second for ``duration_s``, served by
    ``workers`` threads; ``call(i)`` serves the i-th request. Each latency runs from the
    *scheduled* arrival to completion, so a slow server's queueing delay is counted (no
    coordinated omission)."""
    gaps = rng.exponential(1 / rate, size=int(rate * duration_s * 2) + 16)
    arrivals = np.cumsum(gaps)
    arrivals = arrivals[arrivals < duration_s]
    jobs: queue.Queue[tuple[int, float] | None] = queue.Queue()
    lock = threading.Lock()
    result = LoadResult(offered_rate=rate, duration_s=duration_s, sent=len(arrivals),
                        completed=0, errors=0)
    start = time.perf_counter()

    def worker() -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            index, scheduled = job
            try:
                call(index)
                ok, err = True, None
            except Exception as exc:
                ok, err = False, f"{type(exc).__name__}: {exc}"
            done = time.perf_counter() - start
            with lock:
                if ok:
                    result.completed += 1
                    result.latencies_s.append(done - scheduled)
                else:
                    result.errors += 1
                    result.first_error = result.first_error or err

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for index, at in enumerate(arrivals):
        delay = at - (time.perf_counter() - start)
        if delay > 0:
            time.sleep(delay)
        jobs.put((index, float(at)))
    for _ in threads:
        jobs.put(None)
    deadline = time.perf_counter() + drain_s
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()))
    with lock:  # a snapshot: workers stuck past the drain must not change what we report
        snap = LoadResult(offered_rate=rate, duration_s=duration_s, sent=result.sent,
                          completed=result.completed, errors=result.errors,
                          latencies_s=list(result.latencies_s), first_error=result.first_error)
    unfinished = snap.sent - snap.completed - snap.errors
    if unfinished > 0:  # unanswered when the drain ran out: errors, and in the tail
        snap.errors += unfinished
        snap.unfinished = unfinished
        snap.latencies_s.extend([math.inf] * unfinished)
        snap.first_error = snap.first_error or f"{unfinished} calls unfinished after the drain"
    return snap
