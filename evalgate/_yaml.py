"""Safe YAML loading that remembers the line of every key.

A suite error must name the file, the line and the key, so mappings are loaded as
:class:`LineDict`, which keeps each key's line next to its value. Nothing is evaluated as
code: the loader is PyYAML's ``SafeLoader`` with one constructor replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping from YAML that knows its own line and each key's line (1-based)."""

    line: int
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    """A sequence from YAML that knows its line and each item's line (1-based)."""

    line: int
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    path: Path


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise SpecError(loader.path, line, None, "a key must be a plain value") from None
        if key in out:
            raise SpecError(
                loader.path, line, str(key),
                f"duplicate key (first given on line {out.key_lines[key]})",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load_yaml(text: str, path: Path) -> Any:
    """Parse one YAML document; syntax errors become :class:`SpecError` with the line."""
    loader = _Loader(text)
    loader.path = path
    try:
        return loader.get_single_data()
    except SpecError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise SpecError(path, line, None, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(path, None, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
