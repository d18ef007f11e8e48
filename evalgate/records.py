"""Typed records that round-trip through JSON: frozen dataclasses with a strict reader.

A :class:`Record` writes itself as plain JSON data (:meth:`Record.to_dict`) and is read back by
:meth:`Record.from_dict`, which checks every field against its type annotation and refuses
unknown and missing keys with a :class:`~evalgate.errors.VerdictError` naming the path of the
field (``suites[0].checks[3].details.gap.candidate.difference``). verdict.json and each
family's ``details`` are such records, so a key renamed on one side fails loudly instead of
silently dropping a number or a chart.

Supported annotations: ``bool``, ``int``, ``float`` (an int is accepted, a bool is not),
``str``, ``None``, unions (``X | None``), ``Literal[...]``, ``list[X]`` / ``tuple[X, ...]``
(read as tuples), ``dict[str, X]`` (read as read-only mappings), ``Any`` (taken as it is), and
nested records. A field whose JSON key is not a Python name says so in its metadata:
``field(metadata={"key": "p99.9_ms"})``; a field made with :func:`optional` is left out of
the JSON while it is ``None``. Non-finite floats are written as ``null``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, Union

from .errors import VerdictError

#: the message every reading error starts with; tests match it
MALFORMED = "malformed record"


def key_of(f: dataclasses.Field[Any]) -> str:
    """The JSON key of a record field."""
    return str(f.metadata.get("key", f.name))


def optional(key: str | None = None) -> Any:
    """A field that defaults to ``None`` and is left out of the JSON while it is ``None``."""
    meta: dict[str, Any] = {"omit_none": True}
    if key is not None:
        meta["key"] = key
    return dataclasses.field(default=None, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Record:
    """A frozen dataclass that writes itself as JSON data and reads itself back strictly."""

    #: what this record is called in error messages
    kind: ClassVar[str] = "record"

    def to_dict(self) -> dict[str, Any]:
        return {key_of(f): dump(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not (f.metadata.get("omit_none") and getattr(self, f.name) is None)}

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        where = where or cls.kind
        if not isinstance(data, Mapping):
            raise _fail(where, f"is {_shown(data)}, expected an object")
        hints = _hints(cls)
        known = {key_of(f): f for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise _fail(f"{where}.{unknown[0]}", f"is not a field of {cls.kind} (fields: "
                                                 f"{', '.join(known)})")
        values: dict[str, Any] = {}
        for key, f in known.items():
            if key in data:
                values[f.name] = load(hints[f.name], data[key], f"{where}.{key}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _fail(f"{where}.{key}", "is missing")
        return cls(**values)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a record type, resolved once."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _fail(where: str, problem: str) -> VerdictError:
    return VerdictError(f"{MALFORMED}: {where} {problem}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def dump(value: Any) -> Any:
    """``value`` as plain JSON data: records as dicts, sequences as lists, numpy scalars as
    Python numbers, non-finite floats as ``None``."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load(tp: Any, value: Any, where: str) -> Any:
    """``value`` read as the annotated type ``tp`` (see the module's list)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return _union(typing.get_args(tp), value, where)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise _fail(where, f"is {_shown(value)}, expected one of "
                               f"{', '.join(repr(a) for a in typing.get_args(tp))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(where, f"is {_shown(value)}, expected a list")
        args = typing.get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise _fail(where, f"has {len(value)} items, expected {len(args)}")
            return tuple(load(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        return tuple(load(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _fail(where, f"is {_shown(value)}, expected an object")
        args = typing.get_args(tp)
        item = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({str(k): load(item, v, f"{where}.{k}")
                                       for k, v in value.items()})
    if isinstance(tp, type) and issubclass(tp, Record):
        return tp.from_dict(value, where)
    return _scalar(tp, value, where)


def _union(options: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None:
        if type(None) in options:
            return None
        raise _fail(where, "is null, expected a value")
    problems = []
    for option in options:
        if option is type(None):
            continue
        try:
            return load(option, value, where)
        except VerdictError as exc:
            problems.append(str(exc))
    if problems:
        raise VerdictError(problems[0])
    raise _fail(where, "matches no type")


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is type(None):
        if value is not None:
            raise _fail(where, f"is {_shown(value)}, expected null")
        return None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(where, f"is {_shown(value)}, expected a number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where, f"is {_shown(value)}, expected a whole number")
        return value
    if tp in (bool, str):
        if not isinstance(value, tp):
            raise _fail(where, f"is {_shown(value)}, expected "
                               f"{'true or false' if tp is bool else 'a string'}")
        return value
    raise TypeError(f"{where}: records cannot read the annotation {tp!r}")


def json_schema(cls: type[Record]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a record type: each nested record once under
    ``$defs``, no additional properties, required = the fields without a default."""
    defs: dict[str, Any] = {}
    root = _schema_of(cls, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root,
            "$defs": dict(sorted(defs.items()))}


def _record_schema(cls: type[Record], defs: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(cls)
    props, required = {}, []
    for f in dataclasses.fields(cls):
        props[key_of(f)] = _schema_of(hints[f.name], defs)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(key_of(f))
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out


def _schema_of(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return {"anyOf": [_schema_of(a, defs) for a in args]}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [_schema_of(a, defs) for a in args],
                    "minItems": len(args), "maxItems": len(args)}
        return {"type": "array", "items": _schema_of(args[0], defs) if args else {}}
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        item = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _schema_of(item, defs)}
    if isinstance(tp, type) and issubclass(tp, Record):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}  # a placeholder breaks recursion
            defs[tp.__name__] = _record_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    simple = {type(None): "null", bool: "boolean", int: "integer", float: "number",
              str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    raise TypeError(f"records cannot describe the annotation {tp!r} in JSON Schema")
