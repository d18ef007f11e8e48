"""Running one family on its plans, isolated: whatever the family does, each planned check
gets exactly one result, and a family that fails cannot touch another family's results.

- An :class:`~evalgate.errors.EvalgateError` escaping the family (a problem with the data or
  a model that all its checks share) makes each of its planned checks ``error`` with that
  message.
- Any other exception is a bug in the family: each of its planned checks is ``error``
  ("internal error in the bias family: KeyError …; please report it"), with the traceback
  in ``details.traceback``.
- A planned check the family gave no result for, or more than one, is ``error``; a result
  for a check that was not planned is dropped (it cannot count towards the decision).
- A result keeps its plan's identity: its id, family, name and line are the plan's, and its
  ``blocking`` is the plan's unless the result raises it (an error in an informational bias
  check blocks); a family can never make a planned blocking check non-blocking.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Sequence

from ..errors import EvalgateError
from ..families import CheckPlan, CheckResult, EvalContext, Family, error_result
from ..families.base import ErrorDetails

#: how much of a family's traceback is kept in a result's details
TRACEBACK_LIMIT = 8000
NO_RESULT = "internal error in the {family} family: it gave no result for this check"
TWO_RESULTS = "internal error in the {family} family: it gave {count} results for this check"


def run_family(family: Family, ctx: EvalContext, plans: Sequence[CheckPlan]
               ) -> list[CheckResult]:
    """One result per plan, in the plans' order (see the module's rules)."""
    if not plans:
        return []
    try:
        results = list(family.run(ctx, plans))
    except EvalgateError as exc:
        return [error_result(ctx.suite, p, str(exc)) for p in plans]
    except Exception as exc:
        text = (f"internal error in the {family.name} family: {type(exc).__name__}: {exc}; "
                f"please report it")
        trace = "".join(traceback.format_exception(exc))[-TRACEBACK_LIMIT:]
        return [error_result(ctx.suite, p, text, ErrorDetails(traceback=trace)) for p in plans]
    by_id: dict[str, list[CheckResult]] = {}
    for r in results:
        by_id.setdefault(r.id, []).append(r)
    out = []
    for p in plans:
        found = by_id.get(ctx.suite.check_id(p.family, p.name), [])
        if len(found) == 1:
            r = found[0]
            out.append(dataclasses.replace(r, family=p.family, name=p.name,
                                           blocking=p.blocking or r.blocking,
                                           line=r.line if r.line is not None else p.line))
        elif not found:
            out.append(error_result(ctx.suite, p, NO_RESULT.format(family=family.name)))
        else:
            out.append(error_result(ctx.suite, p, TWO_RESULTS.format(family=family.name,
                                                                     count=len(found))))
    return out
