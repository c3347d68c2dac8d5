"""Run ``python -m fedlogin.cli`` as a subprocess, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import attrs
from fedlogin.config import Config
from fedlogin.store.database import Database


@attrs.frozen
class Cli:
    env: dict[str, str]
    cwd: Path
    #: The database the environment names, for in-process checks (None: none named).
    database: Database | None = None

    @property
    def config(self) -> Config:
        return Config.from_env(self.env, cwd=self.cwd)

    def __call__(
        self, *args: str, stdin: str = "", env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "fedlogin.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            timeout=60,
        )


def clean_environment() -> dict[str, str]:
    """This process's environment without any FEDLOGIN_ setting of the developer's."""
    return {key: value for key, value in os.environ.items() if not key.startswith("FEDLOGIN_")}


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    """One readable line on stderr, a non-zero status, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fedlogin: ")
    for phrase in phrases:
        assert phrase in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
