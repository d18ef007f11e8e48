"""ONNX's protobuf messages without importing the ``onnx`` package.

``import onnx`` costs about 0.7 s (``ml_dtypes`` among it), a third of a small gate, while
evalgate only parses a model, reads a few fields and cuts a ZipMap off. The messages are
onnx's own generated module, ``onnx/onnx_ml_pb2.py``, loaded by its path under a private name
(it imports nothing but protobuf): the same descriptors, so a model parsed here is field for
field the one ``onnx.load`` gives — protobuf's rules throughout (a repeated singular field's
last value wins, a repeated message merges), and every file ``onnx`` refuses is refused. Where
``onnx`` is already imported, its module is used; importing ``onnx`` later is fine (protobuf
accepts the identical file again, and a test holds that).
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

_PRIVATE = "evalgate._onnx_ml_pb2"
_FLOAT, _INT32, _STRING, _INT64, _DOUBLE = 1, 6, 8, 7, 11
_RAW_FORMATS = {_FLOAT: "f", _INT32: "i", _INT64: "q", _DOUBLE: "d"}


def messages() -> ModuleType:
    """onnx's ``onnx_ml_pb2`` module: ``ModelProto``, ``ValueInfoProto``, …"""
    for name in ("onnx.onnx_ml_pb2", _PRIVATE):
        if name in sys.modules:
            return sys.modules[name]
    spec = importlib.util.find_spec("onnx")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the onnx package is not installed (pip install onnx)")
    path = Path(next(iter(spec.submodule_search_locations))) / "onnx_ml_pb2.py"
    found = importlib.util.spec_from_file_location(_PRIVATE, path)
    if found is None or found.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(found)
    sys.modules[_PRIVATE] = module
    try:
        found.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PRIVATE]
        raise
    return module


def parse(raw: bytes) -> Any:
    """``raw`` as a ``ModelProto``; protobuf's ``DecodeError`` if it is not one."""
    model = messages().ModelProto()
    model.ParseFromString(raw)
    return model


def float_output(name: str) -> Any:
    """A graph output named ``name``: a float tensor of unknown shape (what
    ``onnx.helper.make_tensor_value_info(name, TensorProto.FLOAT, None)`` makes)."""
    pb = messages()
    value = pb.ValueInfoProto(name=name)
    value.type.tensor_type.elem_type = _FLOAT
    return value


def tensor_values(tensor: Any) -> list[Any]:
    """A tensor's values, flattened, as ``onnx.numpy_helper.to_array(t).reshape(-1)`` gives
    them for the element types a class list can have (strings, 32/64-bit ints, floats,
    doubles; ``[]`` for another): strings decoded, numbers as Python ints and floats."""
    kind = tensor.data_type
    if kind == _STRING:
        return [s.decode("utf-8", errors="replace") for s in tensor.string_data]
    if kind not in _RAW_FORMATS:
        return []
    if tensor.raw_data:
        return [v for (v,) in struct.iter_unpack("<" + _RAW_FORMATS[kind], tensor.raw_data)]
    typed = {_FLOAT: tensor.float_data, _INT32: tensor.int32_data, _INT64: tensor.int64_data,
             _DOUBLE: tensor.double_data}[kind]
    return list(typed)
