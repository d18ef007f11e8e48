"""compare.html: the leaderboard of several challengers against one champion, from
compare.json alone — self-contained, nothing loaded from anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import _environment


def metrics_of(doc: Mapping[str, Any]) -> list[str]:
    """The comparison checks, in the first challenger's order: the leaderboard's columns."""
    first = (doc.get("challengers") or [{}])[0]
    return [c["id"] for c in first.get("checks") or () if c.get("delta") is not None]


def render(doc: Mapping[str, Any]) -> str:
    columns = metrics_of(doc)
    rows = []
    for e in doc["challengers"]:
        by_id = {c["id"]: c for c in e["checks"]}
        rows.append({"entry": e, "cells": [by_id.get(cid) for cid in columns]})
    page: str = _environment().get_template("compare.html.j2").render(
        d=doc, columns=columns, rows=rows)
    return page
