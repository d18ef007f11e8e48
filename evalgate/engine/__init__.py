"""The engine: a :class:`Gate` runs the suites — models loaded once, checks planned, each
family run isolated on cached predictions — and gives one :class:`SuiteOutcome` per suite.
:mod:`.local` evaluates; the rows are read and predicted in memory, or partition by
partition on a Dask cluster (:mod:`.dask`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gate import Gate, Resolver, evaluate_paths
from .outcome import SUITE_ITEM, SuiteOutcome, finite_or_error, spec_error_result

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import EngineChoice
    from .dask import DaskEngine

__all__ = ["SUITE_ITEM", "Gate", "Resolver", "SuiteOutcome", "evaluate_paths",
           "finite_or_error", "make_engine", "spec_error_result"]


def make_engine(choice: EngineChoice, say: Callable[[str], None] | None = None
                ) -> DaskEngine | None:
    """The engine ``choice`` names: ``None`` for the local engine (the gate reads and
    predicts in memory), else a :class:`~.dask.DaskEngine` (its cluster started on first
    use; the caller closes it)."""
    if choice.is_local:
        return None
    from .dask import DaskEngine

    return DaskEngine(choice, say)
