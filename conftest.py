"""Shared by every suite in the workspace (core, plugins and tests/).

The pytest configuration uses ``--import-mode=importlib``, which puts no test folder on
``sys.path``; the repository root goes there so that suites share helpers with
``from tests.support import ...``. The database fixtures (SQLite and PostgreSQL) are
registered here so core and cross-cutting suites use the same ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

pytest_plugins = ["tests.support.databases"]
