"""What the verbs share: the project's settings, and argument types that validate."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..config import Settings
    from ..engine import Gate
    from ..engine.dask import DaskEngine


def project() -> Settings:
    from ..config import project_settings

    return project_settings(Path.cwd())


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"the seed must be 0 or more, got {value}")
    return value


def seconds(text: str) -> float:
    from ..config import check_timeout

    try:
        return check_timeout(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Once(argparse.Action):
    """A plain option that may be given once. argparse keeps the last of several (one in
    ``PYTEST_ADDOPTS``, one a CI step adds), dropping the first without a word — the
    release suites, the champion —, so a second occurrence is a usage error naming it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        before = getattr(namespace, self.dest, None)
        if before is not None and before != self.default:
            parser.error(f"{option_string} given twice ({before}, then {values}); the second "
                         f"would replace the first: give it once")
        setattr(namespace, self.dest, values)


def add_gate_options(parser: argparse.ArgumentParser, *, report: str, whole: str) -> None:
    """The options a gating verb shares (``run``, ``compare``): ``--suites``, ``--report``
    (``report`` says what goes there), ``--seed``, ``--trust-pickle`` and ``--timeout`` (a
    limit for the whole ``whole``)."""
    parser.add_argument("--suites", type=Path, default=None, action=Once,
                        help="a suite file or a folder of them (default: suites/)")
    parser.add_argument("--report", type=Path, default=None,
                        help=f"where {report} go (default: reports/)")
    parser.add_argument("--seed", type=int, default=None, help="override every suite's seed")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="allow pickle/joblib model files (they can run code)")
    parser.add_argument("--timeout", type=seconds, default=None, metavar="S",
                        help=f"a time limit for the whole {whole}, in seconds (default: "
                             f"[tool.evalgate] timeout_s, else 3600)")


def workers(text: str) -> int:
    from ..config import check_workers

    try:
        return check_workers(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def version_number(text: str) -> int:
    from ..registry.references import version_of_text

    number = version_of_text(text)
    if number is None or number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1, 2, …)")
    return number


class ProgressLine:
    """One line on a terminal saying what the gate is working on, rewritten in place (a
    carriage return and an erase) and erased when the gate is done. Nothing at all when the
    stream is not a terminal (CI logs, pipes). ``guard``: a context in which the stream
    reaches the terminal (pytest's capture suspended)."""

    def __init__(self, stream: TextIO, guard: Callable[[], AbstractContextManager[Any]] | None
                 = None):
        self.stream = stream
        self.on = _isatty(stream)
        self.guard = guard
        self.shown = False

    @classmethod
    def under(cls, stream: TextIO, capture: Any, *, quiet: bool) -> ProgressLine:
        """The progress line of a pytest run: written with pytest's ``capture`` manager
        suspended; off under ``-q``."""
        line = cls(stream, None if capture is None else capture.global_and_fixture_disabled)
        line.on = line.on and not quiet
        return line

    def __call__(self, text: str) -> None:
        if not self.on:
            return
        width = shutil.get_terminal_size().columns
        self._write("\r\x1b[K" + f"evalgate: {text}"[:max(width - 1, 20)])
        self.shown = True

    def clear(self) -> None:
        if self.on and self.shown:
            self._write("\r\x1b[K")
            self.shown = False

    def _write(self, text: str) -> None:
        with self.guard() if self.guard is not None else nullcontext():
            self.stream.write(text)
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-like object
        return False


def make_gate(settings: Settings, candidate: Path, *, champion: str | Path | None = None,
              seed: int | None = None, trust_pickle: bool = False,
              trust_types: tuple[str, ...] = (), no_champion: bool = False,
              timeout_s: float | None = None, engine: DaskEngine | None = None,
              progress: Callable[[str], None] | None = None) -> Gate:
    """The gate of a front end (``evalgate run``, ``compare``, the pytest plugin): the
    project's registry resolves references and keeps the ledger of tries."""
    from ..engine import Gate
    from ..registry import resolver
    from ..registry.attempts import ledger

    registry = settings.registry.resolve()
    return Gate(candidate, champion=champion, seed=seed, trust_pickle=trust_pickle,
                trusted_types=(*settings.trusted_types, *trust_types),
                resolve=resolver(registry), no_champion=no_champion,
                timeout_s=timeout_s or settings.timeout_s,
                ledger=ledger(registry, settings.attempts), engine=engine, progress=progress)
