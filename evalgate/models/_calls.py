"""How evalgate calls a model: under a time limit and under evalgate's own warnings policy.

**Time limit.** Every prediction call has a limit: the per-call limit
(:data:`DEFAULT_CALL_TIMEOUT_S`, changed with :func:`set_call_timeout`), shortened to the time
left before the gate's deadline when one is set (:func:`set_deadline`, which the runner's
``Gate(timeout_s=…)`` does). A call past its limit raises :class:`ModelOutputError` — the check
becomes ``error`` and the gate blocks — instead of hanging:

- ONNX (:func:`run_onnx`): the call runs in the caller's thread with its own
  ``onnxruntime.RunOptions``; a watchdog thread sets ``RunOptions.terminate = True`` at the
  limit, and onnxruntime stops the run between operators. One shared watchdog (not a
  ``threading.Timer`` per call) keeps the cost of a call to a lock and a dict entry, so that the
  latency family times the model, not the watchdog.
- Everything else (:func:`call_with_limit`: scikit-learn, pickles, fake models): the call runs
  in a daemon worker thread and the caller waits at most the limit; a call that does not answer
  is abandoned (its thread is left running in the background; Python cannot stop it) and its
  worker is never reused.

**Warnings.** Model code runs under :func:`model_warnings`: every warning raised while a model
is loaded or called is ignored, whatever the host's filters say (a pytest ``filterwarnings =
error`` or ``-W error`` must not turn an sklearn or onnxruntime warning into an exception that
blocks under ``pytest --evalgate`` what ``evalgate run`` promotes). Outputs are judged on their
values (NaN, range, shape) instead. ``warnings.catch_warnings`` is process-wide, so the policy is
entered once for all overlapping calls (the load test calls from several threads) and the
host's filters are restored when the last call leaves. The runner evaluates each whole suite
under the same policy (so that a numpy ``RuntimeWarning`` in the statistics cannot block
under pytest what ``evalgate run`` promotes either).
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ModelOutputError

T = TypeVar("T")

#: the per-call prediction time limit, in seconds, unless :func:`set_call_timeout` changes it
DEFAULT_CALL_TIMEOUT_S = 600.0

_timeout_s: float | None = DEFAULT_CALL_TIMEOUT_S
_deadline: float | None = None  # time.monotonic() of the gate's deadline
_gate_limit_s: float | None = None  # the gate's whole limit, for the message


def set_call_timeout(seconds: float | None) -> None:
    """Set the per-call prediction time limit (``None``: no per-call limit)."""
    global _timeout_s
    if seconds is not None and not seconds > 0:
        raise ValueError(f"a call timeout must be above 0 seconds, got {seconds!r}")
    _timeout_s = seconds


def call_timeout() -> float | None:
    """The per-call prediction time limit now in force."""
    return _timeout_s


def set_deadline(deadline: float | None, limit_s: float | None = None) -> None:
    """Cut every model call at ``deadline`` (a :func:`time.monotonic` time; ``None``: none).
    ``limit_s`` is the gate's whole limit, named in the message of a call it cuts."""
    global _deadline, _gate_limit_s
    _deadline, _gate_limit_s = deadline, limit_s


def deadline() -> tuple[float | None, float | None]:
    """The deadline now in force and the gate limit it came from."""
    return _deadline, _gate_limit_s


def _limit() -> tuple[float | None, str]:
    """Seconds the next call may take, and how to say it in a message."""
    per_call = _timeout_s
    if _deadline is None:
        return per_call, f"{per_call:g} s" if per_call is not None else ""
    left = max(0.0, _deadline - time.monotonic())
    if per_call is not None and per_call <= left:
        return per_call, f"{per_call:g} s"
    gate = f" of {_gate_limit_s:g} s" if _gate_limit_s is not None else ""
    return left, f"{left:.3g} s (the time left of the gate's limit{gate})"


def _late(path: str | Path, within: str, note: str = "") -> ModelOutputError:
    return ModelOutputError(path, f"the model did not answer within {within}{note}; "
                                  "a model call that does not answer is an error")


# --------------------------------------------------------------------------- warnings

_policy_lock = threading.Lock()
_policy_depth = 0
_policy_saved: Any = None


@contextlib.contextmanager
def model_warnings() -> Iterator[None]:
    """Run model code under evalgate's warnings policy: every warning is ignored."""
    global _policy_depth, _policy_saved
    with _policy_lock:
        if _policy_depth == 0:
            saved = warnings.catch_warnings()
            saved.__enter__()
            warnings.simplefilter("ignore")
            _policy_saved = saved
        _policy_depth += 1
    try:
        yield
    finally:
        with _policy_lock:
            _policy_depth -= 1
            if _policy_depth == 0:
                saved, _policy_saved = _policy_saved, None
                saved.__exit__(None, None, None)


# --------------------------------------------------------------------------- ONNX


class _Watchdog:
    """One daemon thread that sets ``terminate`` on each ONNX run still going at its limit."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._runs: dict[int, tuple[float, Any]] = {}  # id → (monotonic limit, RunOptions)
        self._late: set[int] = set()
        self._wake_at = float("inf")
        self._seq = 0
        self._thread: threading.Thread | None = None

    def watch(self, at: float, options: Any) -> int:
        with self._cond:
            self._seq += 1
            self._runs[self._seq] = (at, options)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="evalgate-watchdog",
                                                daemon=True)
                self._thread.start()
            if at < self._wake_at:
                self._cond.notify()
            return self._seq

    def done(self, ticket: int) -> bool:
        """Forget ``ticket``; whether the watchdog had to terminate it."""
        with self._cond:
            self._runs.pop(ticket, None)
            if ticket in self._late:
                self._late.discard(ticket)
                return True
            return False

    def _loop(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for ticket, (at, options) in list(self._runs.items()):
                    if at <= now:
                        options.terminate = True
                        self._late.add(ticket)
                        del self._runs[ticket]
                self._wake_at = min((at for at, _ in self._runs.values()), default=float("inf"))
                wait = self._wake_at - now if self._runs else None
                self._cond.wait(wait)


_watchdog = _Watchdog()


def run_onnx(session: Any, names: list[str], feed: dict[str, Any], path: str | Path) -> Any:
    """``session.run(names, feed)`` under the time limit and the warnings policy. A run cut at
    its limit raises :class:`ModelOutputError`; onnxruntime's own errors propagate."""
    limit, within = _limit()
    with model_warnings():
        if limit is None:
            return session.run(names, feed)
        import onnxruntime as ort

        options = ort.RunOptions()
        options.log_severity_level = 4  # a terminated run is reported here, not logged
        if limit <= 0:
            raise _late(path, within)
        ticket = _watchdog.watch(time.monotonic() + limit, options)
        try:
            out = session.run(names, feed, options)
        except Exception:
            if _watchdog.done(ticket):
                raise _late(path, within) from None
            raise
        _watchdog.done(ticket)
        return out


# --------------------------------------------------------------------------- threads


class _Job:
    __slots__ = ("error", "finished", "fn", "result")

    def __init__(self, fn: Callable[[], Any]):
        self.fn = fn
        self.finished = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _Worker:
    """A daemon thread that runs one job at a time."""

    def __init__(self) -> None:
        self._go = threading.Event()
        self._job: _Job | None = None
        threading.Thread(target=self._loop, name="evalgate-model-call", daemon=True).start()

    def give(self, job: _Job) -> None:
        self._job = job
        self._go.set()

    def _loop(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            job, self._job = self._job, None
            assert job is not None
            try:  # the caller holds the warnings policy while it waits (not this thread:
                job.result = job.fn()  # an abandoned call must not keep it in force)
            except BaseException as exc:
                job.error = exc
            job.finished.set()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def call_with_limit(fn: Callable[[], T], path: str | Path) -> T:
    """``fn()`` (a model call) under the time limit and the warnings policy, in a worker
    thread. Past the limit it raises :class:`ModelOutputError` and abandons the call; an
    exception of ``fn`` is raised here as it was raised there."""
    limit, within = _limit()
    if limit is None:
        with model_warnings():
            return fn()
    if limit <= 0:
        raise _late(path, within)
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
    job = _Job(fn)
    with model_warnings():
        worker.give(job)
        answered = job.finished.wait(limit)
    if not answered:
        raise _late(path, within, " (the call was abandoned: its thread is left running in "
                                  "the background until the process ends)")
    with _idle_lock:
        _idle.append(worker)
    if job.error is not None:
        raise job.error
    return job.result  # type: ignore[no-any-return]
