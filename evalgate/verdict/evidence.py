"""What makes a verdict evidence an auditor can reproduce: the suite as the gate resolved it
(every default explicit), every file it read with its sha256, the project's git commit and
whether its work tree was dirty, and the environment — Python, OS, CPU, every installed
distribution (a list and its sha256), onnxruntime's version, providers and threads.

Each is recorded in verdict.json (DESIGN.md §4, docs/design.md "Evidence") and read back by
``evalgate rerun``, which refuses to re-run a gate whose files changed and says which."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import platform
import subprocess
import sys
from collections.abc import Mapping
from enum import Enum
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from .._io import sha256_files

#: fields of the parsed suite that say where in the file a value was written, not what
#: the gate does: left out of the resolved configuration
_WHERE = frozenset({"line", "lines"})
#: how long a git command may take before the commit is recorded as unknown
GIT_TIMEOUT_S = 10.0


def resolved(suite: Any) -> dict[str, Any]:
    """The suite as the gate read it: the top level, the data section and each family's
    section with every default made explicit (thresholds, methods' parameters, bins,
    ``n_resamples``, confidence), paths relative to the suite's folder."""
    base = suite.path.parent
    out = {"suite": suite.name, "description": suite.description, "task": suite.task,
           "confidence": suite.confidence,
           "seed": suite.seed, "n_resamples": suite.n_resamples,
           "value_thresholds": suite.value_thresholds, "champion": suite.champion,
           "data": _plain(suite.data, base),
           "checks": {name: _plain(spec, base) for name, spec in suite.families.items()}}
    if getattr(suite, "primary", None) is not None:
        out["primary"] = suite.primary
    return out


def _plain(value: Any, base: Path) -> Any:
    """``value`` as JSON: dataclasses as objects (without where-in-the-file fields), paths
    relative to ``base``, tuples as lists, keys as text, a number
    that is not finite as its name (``"inf"``)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), base) for f in dataclasses.fields(value)
                if f.name not in _WHERE and not f.name.endswith("_line")}
    if isinstance(value, Path):
        return _relative(value, base)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_plain(v, base) for v in items]
    if isinstance(value, Enum):
        return _plain(value.value, base)
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _relative(path: Path, base: Path) -> str:
    """``path`` as the suite would write it: relative to its folder (``../data/x.csv``),
    so that the record names no machine's folders; absolute only across drives."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return str(path)


def suite_files(suite: Any, dataset: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every file the suite reads besides its models, with its sha256: the suite file, the
    data (from the dataset's own fingerprint) and each file a family names (a drift
    reference, …), found as the paths in the parsed sections."""
    out = [{"role": "suite", "path": str(suite.path), "sha256": suite.sha256}]
    if dataset is not None:
        out += _dataset_files("data", dataset)
        if dataset.get("labelled") is not None:
            out += _dataset_files("labelled data", dataset["labelled"])
    seen = {f["path"] for f in out}
    for family, spec in suite.families.items():
        for where, path in _paths(spec, family):
            if str(path) in seen or not path.is_file():
                continue
            seen.add(str(path))
            out.append({"role": where, "path": str(path),
                        "sha256": sha256_files([path])[0]})
    return out


def _dataset_files(role: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    if entry.get("files"):
        return [{"role": role, "path": f["path"], "sha256": f["sha256"]} for f in entry["files"]]
    return [{"role": role, "path": entry["path"], "sha256": entry["sha256"]}]


def _paths(value: Any, where: str) -> list[tuple[str, Path]]:
    """The paths inside a parsed section, each with where it was found (``drift.reference``)."""
    if isinstance(value, Path):
        return [(where, value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = []
        for f in dataclasses.fields(value):
            # a glob's or folder's files are listed with it: record the files, not the folder
            inner = f"{where}.{f.name}" if f.name not in ("files", "path") else where
            found += _paths(getattr(value, f.name), inner)
        return found
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in _paths(v, f"{where}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths(v, where)]
    return []


def git_state(folder: Path) -> dict[str, Any] | None:
    """The git commit of the repository holding ``folder``, its branch, whether tracked
    files differ from the commit (``dirty``) and how many files git does not track and does
    not ignore (``untracked``); ``None`` outside a repository or without git."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                  text=True, timeout=GIT_TIMEOUT_S, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None
    changed = git("status", "--porcelain", "--untracked-files=no")
    untracked = git("ls-files", "--others", "--exclude-standard")
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    return {"commit": commit.strip(),
            "branch": None if branch is None or branch.strip() == "HEAD" else branch.strip(),
            "dirty": None if changed is None else bool(changed.strip()),
            "untracked": None if untracked is None else len(untracked.splitlines())}


@cache
def environment() -> dict[str, Any]:
    """Where the gate ran: Python, OS, CPU, every installed distribution (``name==version``,
    sorted, and the sha256 of that list: two environments with the same lock hash hold the
    same versions) and onnxruntime's version, providers and threads."""
    dists = sorted({f"{name}=={version}" for d in metadata.distributions()
                    for name, version in [name_version(d)] if name}, key=str.lower)
    return {"python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "os": f"{platform.system()} {platform.release()}",
            "machine": platform.machine(), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
            "lock_sha256": hashlib.sha256("\n".join(dists).encode()).hexdigest(),
            "distributions": dists, "onnxruntime": _onnxruntime()}


def name_version(dist: Any) -> tuple[str | None, str | None]:
    """A distribution's ``Name`` and ``Version`` from the head of its METADATA — what
    ``dist.metadata`` gives, without parsing the whole file as an e-mail (a tenth of the
    time, for every installed distribution); the parser where the head holds neither."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line:  # the headers end at the first empty line
            break
        if name is None and line.startswith("Name:"):
            name = line[5:].strip()
        elif version is None and line.startswith("Version:"):
            version = line[8:].strip()
    if name is None or version is None:
        return dist.metadata["Name"], dist.version
    return name, version


def _cpu_name() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _onnxruntime() -> dict[str, Any] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    return {"version": ort.__version__, "provider": "CPUExecutionProvider",
            "available_providers": list(ort.get_available_providers()),
            # predictions: onnxruntime's default intra-op threads (one per core); the latency
            # and stress families pin their own, recorded in their checks' details
            "intra_op_threads": "default (one per core)"}
