"""Safe YAML loading that remembers the line of every key.

A suite error must name the file, the line and the key, so mappings are loaded as
:class:`LineDict`, which keeps each key's line next to its value. Nothing is evaluated as
code: the loader is PyYAML's ``SafeLoader`` with one constructor replaced.

Limits keep a hostile file from taking the process down: a document of more than
:data:`MAX_BYTES`, nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_NODES` values
(each alias counted as the values it repeats) is a :class:`SpecError` at the line where the
limit was crossed, never a ``RecursionError`` or an exhausted memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError

#: the largest suite document read, in bytes (1 MiB; a real suite is a few KiB)
MAX_BYTES = 1 << 20
#: the deepest nesting of mappings and lists (a real suite nests about 6 deep)
MAX_DEPTH = 64
#: the most values in one document, each alias counted as the values it repeats
MAX_NODES = 100_000


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


class _Loader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no types
    path: Path
    _depth: int = 0
    _nodes: int = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        """Compose one node, counting depth and values (aliases by the values they repeat)."""
        mark = self.peek_event().start_mark
        if self._depth >= MAX_DEPTH:
            raise SpecError(self.path, mark.line + 1, None,
                            f"the YAML nests deeper than {MAX_DEPTH} levels (the limit)")
        alias = self.check_event(yaml.AliasEvent)
        start = self._nodes
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if alias:
            self._nodes += getattr(node, "_evalgate_size", 1)
        else:
            self._nodes += 1
            node._evalgate_size = self._nodes - start
        if self._nodes > MAX_NODES:
            raise SpecError(self.path, mark.line + 1, None,
                            f"the YAML holds more than {MAX_NODES:,} values, counting each "
                            f"alias as the values it repeats (the limit)")
        return node


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    explicit = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
    loader.flatten_mapping(node)  # merged (<<) pairs first, then the explicit ones
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    from_merge: set[Any] = set()
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:
            raise SpecError(loader.path, line, None, "a key must be a plain value") from None
        if key in from_merge and id(key_node) in explicit:
            from_merge.discard(key)  # an explicit key overrides a merged one
        elif key in out:
            raise SpecError(
                loader.path, line, str(key),
                f"duplicate key (first given on line {out.key_lines[key]})",
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = line
        if id(key_node) not in explicit:
            from_merge.add(key)
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


# Plain scalars resolve as YAML 1.2's core schema, not PyYAML's YAML 1.1: true/false are the
# only booleans (yes/no/on/off stay text: ``positive_label: yes`` is the label "yes"), there
# are no base-60 numbers (``max_regression: 1:30`` was 90) and no timestamps; 5e-3 is a
# number. Digits may be grouped with ``_`` (``10_000``), as PyYAML allows.
_TAG = "tag:yaml.org,2002:"
_CORE = (
    ("bool", r"true|True|TRUE|false|False|FALSE", "tTfF"),
    ("int", r"[-+]?[0-9][0-9_]*|0o[0-7_]+|0x[0-9a-fA-F_]+", "-+0123456789"),
    ("float", r"[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)", "-+.0123456789"),
)
_Loader.yaml_implicit_resolvers = {  # PyYAML's null and merge (<<) only
    first: [(tag, rx) for tag, rx in resolvers if tag in (_TAG + "null", _TAG + "merge")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _name, _pattern, _first in _CORE:
    _Loader.add_implicit_resolver(_TAG + _name, re.compile(f"^(?:{_pattern})$"), list(_first))


def _scalar(name: str, convert: Any) -> Any:
    """A constructor for ``!!name`` that reads a scalar as YAML 1.2 does, and names a value
    that does not fit (``!!int 1:30``) at its line."""
    pattern = re.compile(f"^(?:{next(p for n, p, _ in _CORE if n == name)})$")

    def construct(loader: _Loader, node: yaml.ScalarNode) -> Any:
        text = loader.construct_scalar(node)
        if not pattern.match(text):
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not a YAML 1.2 {name}", node.start_mark)
        return convert(text.replace("_", ""))
    return construct


def _to_int(text: str) -> int:
    body = text.lstrip("+-")
    base = {"0o": 8, "0x": 16}.get(body[:2], 10)
    value = int(body[2:] if base != 10 else body, base)
    return -value if text.startswith("-") else value


def _to_float(text: str) -> float:
    lower = text.lower()
    if lower.lstrip("+-") in (".inf", ".nan"):
        return float(lower.replace(".", ""))
    return float(text)


_Loader.add_constructor(_TAG + "bool", _scalar("bool", lambda t: t.lower() == "true"))
_Loader.add_constructor(_TAG + "int", _scalar("int", _to_int))
_Loader.add_constructor(_TAG + "float", _scalar("float", _to_float))
_Loader.add_constructor(_TAG + "map", _construct_mapping)
_Loader.add_constructor(_TAG + "seq", _construct_sequence)


def load_yaml(text: str, path: Path) -> Any:
    """Parse one YAML document; syntax errors become :class:`SpecError` with the line."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise SpecError(path, None, None, f"the suite file has {size:,} bytes, above the "
                                          f"limit of {MAX_BYTES:,} (1 MiB)")
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
    except (RecursionError, MemoryError) as exc:  # a limit above should have caught it first
        what = "nests too deeply" if isinstance(exc, RecursionError) else "is too large"
        raise SpecError(path, None, None, f"the YAML {what} to be read") from None
    finally:
        loader.dispose()
