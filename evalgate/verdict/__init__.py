"""verdict.json (DESIGN.md §4): the decision (:mod:`.decide`), the document built from a run
(:mod:`.build`), Ed25519 signatures (:mod:`.signing`), a reviewer's sign-off (:mod:`.signoff`)
and the Markdown summary (:mod:`.summary`)."""

from __future__ import annotations

from .._io import write_atomic
from .build import build, dumps, in_progress, now, package_versions, summary_entry
from .decide import (
    IN_PROGRESS,
    NO_CHECKS,
    NO_DECISION,
    Decision,
    Summary,
    decide,
    decide_statuses,
    partial_reason,
)
from .model import SCHEMA

__all__ = ["IN_PROGRESS", "NO_CHECKS", "NO_DECISION", "SCHEMA", "Decision", "Summary", "build",
           "decide", "decide_statuses", "dumps", "in_progress", "now", "package_versions",
           "partial_reason", "summary_entry", "write_atomic"]
