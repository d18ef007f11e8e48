"""The model formats evalgate reads, as one table: the file suffixes of each, how it loads,
whether loading it can run code (and so needs trust), and the packages that judge it (recorded
in the verdict's provenance). The registry, the stress family's child processes and the
verdict read this table; adding a format is adding a row (and its adapter module).

=========  =======================  ============================  =====================
format     suffixes                 loads through                 trust
=========  =======================  ============================  =====================
onnx       .onnx                    onnxruntime                   never runs code
skops      .skops                   skops' trusted-type check     untrusted types only
                                                                  with trust
pickle     .pkl, .pickle            pickle                        only with trust
joblib     .joblib                  joblib                        only with trust
=========  =======================  ============================  =====================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelLoadError

if TYPE_CHECKING:
    from .base import Model

#: the message of a pickle refused for want of trust
UNTRUSTED_PICKLE = ("pickle and joblib files can run arbitrary code when loaded; save the model "
                    "with skops (.skops) or ONNX, or pass --evalgate-trust-pickle (evalgate "
                    "run: --trust-pickle) if you trust this file")


@dataclass(frozen=True)
class Format:
    name: str
    suffixes: tuple[str, ...]
    #: ``load(path, trusted, types)`` → the loaded model; ``trusted``: the user's trust flag,
    #: ``types``: the type names the user trusts (a skops file's)
    load: Callable[[Path, bool, tuple[str, ...]], Model]
    #: whether the trust flag changes how it loads (a pickle may run code; skops types)
    trust_applies: bool
    #: the distributions that read and run it, for the verdict's provenance
    packages: tuple[str, ...]


def _onnx(path: Path, trusted: bool, types: tuple[str, ...]) -> Model:
    from .onnx import OnnxModel

    return OnnxModel.load(path)


def _skops(path: Path, trusted: bool, types: tuple[str, ...]) -> Model:
    from .sklearn import SklearnModel

    return SklearnModel.load_skops(path, trust=trusted, types=types)


def _pickle(path: Path, trusted: bool, types: tuple[str, ...]) -> Model:
    from .sklearn import SklearnModel

    if not trusted:
        raise ModelLoadError(path, UNTRUSTED_PICKLE)
    return SklearnModel.load_pickle(path)


FORMATS: tuple[Format, ...] = (
    Format("onnx", (".onnx",), _onnx, False, ("onnxruntime", "onnx")),
    Format("skops", (".skops",), _skops, True, ("scikit-learn", "skops")),
    Format("pickle", (".pkl", ".pickle"), _pickle, True, ("scikit-learn",)),
    Format("joblib", (".joblib",), _pickle, True, ("scikit-learn", "joblib")),
)
SUFFIXES: tuple[str, ...] = tuple(s for f in FORMATS for s in f.suffixes)


def format_of(path: Path | str) -> Format | None:
    """The format of a model file, by its suffix (any letter case); ``None`` if unknown."""
    name = Path(path).name.lower()
    return next((f for f in FORMATS if name.endswith(f.suffixes)), None)


def by_name(name: str) -> Format | None:
    return next((f for f in FORMATS if f.name == name), None)
