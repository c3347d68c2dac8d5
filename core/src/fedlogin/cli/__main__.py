"""``python -m fedlogin.cli``: the same as the ``fedlogin`` command."""

from __future__ import annotations

from fedlogin.cli import main

raise SystemExit(main())
