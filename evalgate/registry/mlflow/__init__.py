"""MLflow's model registry as the home of the champion (``pip install 'evalgate[mlflow]'``),
under the local registry's policy.

- ``mlflow:NAME@champion`` (or ``@3``) resolves through the registry MLflow is configured for
  (``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``; unset is refused, never a store in the
  current folder): the version's artifacts are downloaded into evalgate's cache
  (``$XDG_CACHE_HOME/evalgate/mlflow``), the model file among them is found (one
  ``.onnx``/``.skops`` file), and its sha256 must equal the version's ``evalgate.sha256`` tag
  (:mod:`.versions`). A server that does not answer is named and refused (:mod:`.client`).
- ``evalgate register MODEL --name mlflow:NAME`` logs the file and its lineage as a run of the
  ``evalgate`` experiment and creates a version tagged with its sha256 and author.
- ``evalgate promote CANDIDATE --to mlflow:NAME`` checks the verdict as the local registry
  does — complete, PROMOTE, these bytes, the current champion, a signature where required, the
  model's approval policy — then logs the verdict, summary, report and sign-off as artifacts of
  the version's run, the gate's numbers as run metrics, tags the version (``evalgate.decision``,
  ``.verdict_sha256``, ``.suite_sha256``, ``.dataset_sha256``, ``.signed_off_by`` …) and moves
  ``champion`` last (:mod:`.release`).
- ``rollback``, ``alias``, ``registry policy`` and ``history`` work on ``mlflow:NAME`` as on a
  local model; each change is a hash-chained registered-model tag, claimed once so that of two
  racing commands exactly one wins, and ``evalgate audit verify mlflow:NAME`` finds an alias
  moved outside evalgate (:mod:`.moves`, :mod:`.history`).
"""

from __future__ import annotations

from .client import SHA_TAG, cache_root, registry_uri
from .client import client as _client
from .history import MlflowVersion, history, verify
from .moves import MOVE_TAG
from .release import (
    DATASET_SHA_TAG,
    DECISION_TAG,
    SIGNED_OFF_TAG,
    SUITE_SHA_TAG,
    VERDICT_SHA_TAG,
    VERDICT_TAG,
    policy,
    promote,
    require_signed,
    rollback,
    run_metrics,
    set_alias,
    set_policy,
)
from .versions import AUTHOR_TAG, register, resolve

__all__ = ["AUTHOR_TAG", "DATASET_SHA_TAG", "DECISION_TAG", "MOVE_TAG", "SHA_TAG",
           "SIGNED_OFF_TAG", "SUITE_SHA_TAG", "VERDICT_SHA_TAG", "VERDICT_TAG", "MlflowVersion",
           "_client", "cache_root", "history", "policy", "promote", "register", "registry_uri",
           "require_signed", "resolve", "rollback", "run_metrics", "set_alias", "set_policy",
           "verify"]
