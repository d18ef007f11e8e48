"""A real ``mlflow server`` for the tests: a free port on 127.0.0.1, a sqlite backend store and
an artifact folder under the given folder, artifacts served through the server (as a remote
team server does); started in its own process group, stopped with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

#: set by .ci/run: the MLflow tests must run there, so a missing extra fails instead of skipping
REQUIRED = os.environ.get("EVALGATE_REQUIRE_MLFLOW") == "1"
START_TIMEOUT_S = 90.0


def need_server() -> None:
    """Skip (fail under EVALGATE_REQUIRE_MLFLOW=1) where the server cannot run."""
    missing = []
    for module in ("mlflow", "flask", "flask_cors", "aiohttp", "sqlalchemy", "alembic"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        why = f"the MLflow server needs {', '.join(missing)} (pip install -e '.[test]')"
        if REQUIRED:
            pytest.fail(why)
        pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """An MLflow tracking server with its store in ``folder``; yields its URL."""
    need_server()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = Path(sys.executable).parent / "mlflow"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(url, proc, folder)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _wait(url: str, proc: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (folder / "server.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"mlflow server exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    pytest.fail(f"mlflow server at {url} did not answer within {START_TIMEOUT_S:.0f} s")
