"""Check families. A family is a folder, ``families/<name>/``:

- ``spec.py`` reads its section of a suite's ``checks`` into a typed spec object;
- ``check.py`` plans its checks from the suite alone and evaluates them on the cached
  predictions the engine hands it;
- ``report.html.j2`` is its part of the report page;
- ``__init__.py`` ties them together as one :class:`~evalgate.families.base.Family`, named
  ``FAMILY``.

:data:`FAMILIES` lists them, in the order they run; adding a family is adding a folder and
its name here (a dotted name outside this package works too: ``"mypackage.myfamily"``).
Shared by every family: :mod:`.base` (plans, results, the context) and :mod:`.judge` (the
judging vocabulary of DESIGN.md §3).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec import Suite
    from .base import CheckPlan, CheckResult, EvalContext, Family, Status, error_result

#: the families a suite's ``checks`` may declare, in the order the engine runs them
FAMILIES: tuple[str, ...] = ("performance", "robustness", "bias", "latency", "stress", "drift")

__all__ = ["FAMILIES", "CheckPlan", "CheckResult", "EvalContext", "Family", "Status",
           "error_result", "family", "load_suite", "plan_checks", "registered"]


#: what ``from evalgate.families import …`` finds in :mod:`.base`, imported on first use (the
#: plugin reads :data:`FAMILIES` in every pytest run, which must not pull in numpy)
_BASE = ("CheckPlan", "CheckResult", "EvalContext", "Family", "Status", "error_result")


def __getattr__(name: str) -> Any:
    if name in _BASE:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def family(name: str) -> Family:
    """The family registered as ``name`` (a folder of this package, or a dotted module
    path), loaded on first use."""
    from ..errors import EvalgateError
    from .base import Family

    module = importlib.import_module(name if "." in name else f"{__name__}.{name}")
    found = getattr(module, "FAMILY", None)
    if not isinstance(found, Family):
        raise EvalgateError(f"{module.__name__} defines no FAMILY (a "
                            f"evalgate.families.base.Family): it cannot be a check family")
    return found


def registered() -> tuple[Family, ...]:
    """Every family of :data:`FAMILIES`, in order."""
    return tuple(family(name) for name in FAMILIES)


def load_suite(path: Path | str) -> Suite:
    """Read and validate a suite file with every registered family's section parser."""
    from ..spec import read_suite

    return read_suite(path, {f.name: f.parse for f in registered()})


def plan_checks(suite: Suite) -> list[CheckPlan]:
    """Every check of ``suite``, family by family in the order they run."""
    return [p for f in registered() for p in f.plan(suite)]
