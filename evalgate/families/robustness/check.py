"""The robustness family: perturbations, counterfactual invariance, monotonic properties.

One check per perturbation, per ``invariant_to`` column and per ``monotonic`` column
(``robustness::gaussian_noise``, ``robustness::invariant_to::race``,
``robustness::monotonic::education-num``). Each kind has its module —
:mod:`.perturbations`, :mod:`.invariance`, :mod:`.monotonic` — and :func:`run` hands each plan
to the one its ``subject`` (a spec object of :mod:`.spec`) belongs to. What the kinds share
is in :mod:`.common`.

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...errors import CheckError, EvalgateError
from ...spec import Suite
from ..base import CheckPlan, CheckResult, EvalContext, error_result
from . import invariance, monotonic, perturbations
from .common import FAMILY
from .spec import (
    InvarianceSpec,
    MonotonicSpec,
    PerturbationSpec,
    RobustnessSpec,
)


def _spec(suite: Suite) -> RobustnessSpec | None:
    return suite.families.get(FAMILY)


def plan(suite: Suite) -> list[CheckPlan]:
    spec = _spec(suite)
    if spec is None:
        return []
    return ([CheckPlan(FAMILY, p.name, p.line, p.gates.blocking, subject=p)
             for p in spec.perturbations]
            + [CheckPlan(FAMILY, i.name, i.line, i.gates.blocking, subject=i)
               for i in spec.invariant_to]
            + [CheckPlan(FAMILY, m.name, m.line, m.blocking, subject=m) for m in spec.monotonic])


def run(ctx: EvalContext, plans: Sequence[CheckPlan]) -> list[CheckResult]:
    out = []
    for p in plans:
        try:
            out.append(_evaluator(p.subject)(ctx, p.subject))
        except EvalgateError as exc:
            out.append(error_result(ctx.suite, p, str(exc)))
    return out


def _evaluator(subject: Any) -> Callable[[EvalContext, Any], CheckResult]:
    """The evaluation of the check kind ``subject`` (a spec object) belongs to."""
    kinds: dict[type, Callable[[EvalContext, Any], CheckResult]] = {
        PerturbationSpec: perturbations.evaluate, InvarianceSpec: invariance.evaluate,
        MonotonicSpec: monotonic.evaluate}
    try:
        return kinds[type(subject)]
    except KeyError:
        raise CheckError(f"the robustness family has no check of kind "
                         f"{type(subject).__name__}") from None
