"""The engine: a :class:`Gate` runs the suites — models loaded once, checks planned, each
family run isolated on cached predictions — and gives one :class:`SuiteOutcome` per suite.
:mod:`.local` evaluates in memory."""

from __future__ import annotations

from .gate import Gate, Resolver, evaluate_paths
from .outcome import SUITE_ITEM, SuiteOutcome, finite_or_error, spec_error_result

__all__ = ["SUITE_ITEM", "Gate", "Resolver", "SuiteOutcome", "evaluate_paths",
           "finite_or_error", "spec_error_result"]
