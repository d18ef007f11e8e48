"""The JSON Schema of ``evalgate.verdict/1``, generated from the typed model
(:mod:`evalgate.verdict.model`) and published as ``evalgate/verdict/schema.json`` and
``docs/verdict.schema.json``; regenerate both with ``python -m evalgate.verdict.schema``.

``EVALGATE_VALIDATE_VERDICTS=FILE`` (set by evalgate's own test suite) makes every verdict the
gate writes be validated against the published schema with ``jsonschema``; a verdict that does
not validate is recorded in FILE, one line each, and the test session fails on them."""

from __future__ import annotations

import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from ..records import json_schema
from .model import SCHEMA, Verdict

SCHEMA_FILE = Path(__file__).with_name("schema.json")
#: the environment variable that turns validation on (see the module's docstring)
VALIDATE_ENV = "EVALGATE_VALIDATE_VERDICTS"


def generate() -> dict[str, Any]:
    """The schema as the typed model describes it today."""
    return {"$id": "urn:evalgate:schema:verdict:1", "title": SCHEMA,
            **json_schema(Verdict)}


def text() -> str:
    return json.dumps(generate(), indent=2, ensure_ascii=False) + "\n"


@cache
def published() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text("utf-8"))
    return loaded


def problems(doc: Any) -> list[str]:
    """Where ``doc`` breaks the published schema (empty when it validates)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(published())
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
            for e in validator.iter_errors(doc)]


def validate_if_asked(doc: Any, where: Path | str) -> None:
    """Under :data:`VALIDATE_ENV`, record each schema problem of ``doc`` in that file."""
    log = os.environ.get(VALIDATE_ENV)
    if not log:
        return
    found = problems(doc)
    if found:
        with open(log, "a", encoding="utf-8") as f:
            for problem in found:
                f.write(f"{where}: {problem}\n")


if __name__ == "__main__":  # pragma: no cover - the maintainers' regeneration command
    content = text()
    SCHEMA_FILE.write_text(content, "utf-8")
    docs = Path(__file__).resolve().parents[2] / "docs" / "verdict.schema.json"
    if docs.parent.is_dir():
        docs.write_text(content, "utf-8")
    sys.stdout.write(f"wrote {SCHEMA_FILE} and {docs}\n")
