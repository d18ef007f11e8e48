"""Child processes for the stress checks that may crash or hang a model's runtime: the stress
folder's ``worker.py`` on one model (run by its path), asked one JSON line at a time."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..base import EvalContext

#: runs worker.py by its path as ``__main__`` (runpy leaves sys.path alone for a file, so the
#: stress folder's modules shadow nothing), its arguments after the path
_RUN_WORKER = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], " \
              "run_name='__main__')"


class Child:
    """``worker.py`` on one model in a child process, with the run's sys.path."""

    def __init__(self, mode: str, model_path: str, rows: Path, features: Path, trust: bool):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        worker = str(Path(__file__).with_name("worker.py"))
        cmd = [sys.executable, "-c", _RUN_WORKER, worker, mode, model_path, str(rows),
               str(features)] + (["--trust"] if trust else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def ask(self, line: str | None, timeout: float) -> dict[str, Any] | None:
        """Send ``line`` (if any) and read one JSON answer; ``None`` if the child died or
        did not answer in time (then it is killed)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            if line is not None:
                self.proc.stdin.write(line + "\n")
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sel.select(timeout=max(0.0, deadline - time.monotonic())):
                text = self.proc.stdout.readline()
                if not text:
                    return None
                try:
                    answer: dict[str, Any] = json.loads(text)
                    return answer
                except ValueError:
                    continue
        self.kill()
        return None

    def death(self) -> str:
        code = self.proc.wait(timeout=10) if self.proc.poll() is None else self.proc.returncode
        err = (self.proc.stderr.read() if self.proc.stderr else "") or ""
        tail = err.strip().splitlines()[-1][:200] if err.strip() else ""
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return f"the process died ({how}){': ' + tail if tail else ''}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._release()

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        self.sel.close()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def inputs(ctx: EvalContext, frame: pd.DataFrame, tmp: Path) -> tuple[Path, Path]:
    assert ctx.data is not None
    rows, feats = tmp / "rows.parquet", tmp / "features.json"
    frame.to_parquet(rows)
    feats.write_text(json.dumps(list(ctx.data.features)))
    return rows, feats


def path_of(model: Any) -> str | None:
    path = model.info.path
    return None if path.startswith("<") else path


def trust_applies(model: Any) -> bool:
    """Whether the child must load ``model`` with the trust flag: the parent already loaded
    it (so it was trusted, or needed no trust), and the child loads the same bytes."""
    from ...models.formats import by_name

    fmt = by_name(model.info.format)
    return fmt is not None and fmt.trust_applies
