"""evalgate: a release gate for machine-learning models.

Run ``pytest --evalgate candidate.onnx`` (or ``evalgate run candidate.onnx``): evalgate
evaluates the candidate and the current champion on the suites in ``suites/`` and exits 0
only when the candidate may be promoted.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
