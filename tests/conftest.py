"""Make the repository root importable so tests share helpers: ``from tests.support import ...``.

The root pytest configuration uses ``--import-mode=importlib``, which does not put test folders on
``sys.path``. The shared fixtures below are then available to every test under ``tests/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.hostile_op import hostile_op, hostile_op_factory  # noqa: E402
from tests.support.oidc_provider import oidc_provider_factory  # noqa: E402

__all__ = ["hostile_op", "hostile_op_factory", "oidc_provider_factory"]
