"""The MLflow client evalgate talks through, and what it refuses before a request is made.

- The client is imported here only, inside functions, and only when an ``mlflow:`` reference
  is used (``pip install 'evalgate[mlflow]'``).
- No MLflow tracking URI configured (neither ``MLFLOW_TRACKING_URI`` nor
  ``mlflow.set_tracking_uri``): refused. MLflow would fall back to a store in the current
  folder, and a champion resolved or promoted there is not the team's.
- An ``http(s)://`` tracking or registry server that does not accept a connection within
  :data:`CONNECT_TIMEOUT_S`: refused at once, naming the URI, instead of MLflow's minutes of
  retries. A server that answers with an error is named the same way (:func:`failed`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ...errors import RegistryError
from ..references import Reference

SHA_TAG = "evalgate.sha256"
MISSING = ("mlflow: references need the MLflow client: pip install 'evalgate[mlflow]' "
           "(or mlflow-skinny)")
UNSET = ("no MLflow tracking server is configured (MLFLOW_TRACKING_URI is not set); evalgate "
         "does not fall back to an MLflow store in the current folder — set MLFLOW_TRACKING_URI "
         "to your team's server (or, for a store of your own, sqlite:///mlflow.db)")
#: seconds a tracking server has to accept a connection
CONNECT_TIMEOUT_S = 5.0


def client() -> Any:
    """An ``MlflowClient`` for the configured tracking and registry URIs, once both are set
    and their servers accept connections."""
    try:
        from mlflow.tracking import MlflowClient
        from mlflow.tracking._tracking_service.utils import is_tracking_uri_set
    except ImportError:
        raise RegistryError(MISSING) from None
    if not is_tracking_uri_set():  # type: ignore[no-untyped-call]
        raise RegistryError(UNSET)
    import mlflow

    for uri in dict.fromkeys((mlflow.get_tracking_uri(), mlflow.get_registry_uri())):
        _reachable(uri)
    return MlflowClient()


def _reachable(uri: str) -> None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise RegistryError(f"the MLflow server at {uri} does not answer ({why}); the gate "
                            "blocks rather than use another registry — start it, or point "
                            "MLFLOW_TRACKING_URI at the server your team uses") from None


def tracking_uri() -> str:
    import mlflow

    return str(mlflow.get_tracking_uri())


def registry_uri() -> str:
    """The MLflow model registry evalgate talks to (for messages)."""
    client()
    import mlflow

    return str(mlflow.get_registry_uri())


def mlflow_error() -> type[Exception]:
    from mlflow.exceptions import MlflowException

    error: type[Exception] = MlflowException
    return error


def code_of(exc: BaseException) -> str:
    return str(getattr(exc, "error_code", "") or "")


def failed(where: str, exc: BaseException) -> NoReturn:
    """Re-raise an MLflow error as a :class:`RegistryError` naming ``where`` and the server."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise RegistryError(f"{where} (MLflow at {tracking_uri()}): {text[:500]}") from None


def cache_root() -> Path:
    """Where downloaded MLflow versions are kept (``$XDG_CACHE_HOME/evalgate/mlflow``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "evalgate" / "mlflow"


def version_by_alias(c: Any, name: str, alias: str) -> Any | None:
    """The version ``alias`` names, or None when the model or the alias does not exist."""
    error = mlflow_error()
    try:
        model = c.get_registered_model(name)
    except error as exc:
        if code_of(exc) == "RESOURCE_DOES_NOT_EXIST":
            return None
        failed(f"mlflow:{name}", exc)
    number = dict(getattr(model, "aliases", {}) or {}).get(alias)
    if number is None:
        return None
    return c.get_model_version(name, str(number))


def version_of(c: Any, ref: Reference) -> Any:
    """The version ``ref`` names (by number or alias)."""
    error = mlflow_error()
    try:
        if ref.version is not None:
            return c.get_model_version(ref.name, str(ref.version))
        assert ref.alias is not None
        found = version_by_alias(c, ref.name, ref.alias)
    except error as exc:
        failed(str(ref), exc)
    if found is None:
        raise RegistryError(f"{ref}: MLflow has no model {ref.name!r} with alias "
                            f"{ref.alias!r}")
    return found


def model_version(c: Any, name: str, number: int) -> Any:
    """Version ``number`` of ``name``; :class:`RegistryError` listing the versions if none."""
    error = mlflow_error()
    try:
        return c.get_model_version(name, str(number))
    except error as exc:
        if code_of(exc) != "RESOURCE_DOES_NOT_EXIST":
            raise
    have = sorted(int(mv.version) for mv in c.search_model_versions(f"name='{name}'"))
    raise RegistryError(f"mlflow:{name} has no version {number} (versions: "
                        f"{', '.join(map(str, have)) or 'none'})")
