"""Third-party plugins installed as real distributions, exactly as someone would publish them.

`tests/third_party/gitlab` adds a preset with no change to the core; `tests/third_party/broken`
ships plugins that fail at import, raise inside a hook and implement a misspelt hook. Both are
installed into a folder put on the path of a `fedlogin` subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.third_party import install_sample_plugins


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_sample_plugins(tmp_path_factory.mktemp("site"))


def fedlogin(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("FEDLOGIN_DISABLED_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "fedlogin.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def rows(output: str) -> dict[str, list[str]]:
    lines = output.split("\n\n")[0].splitlines()[1:]
    return {line.split()[0]: line.split() for line in lines}


def test_the_sample_plugin_adds_a_preset_without_core_changes(site: Path) -> None:
    listed = fedlogin(site, "plugins", "list")
    assert listed.returncode == 0, listed.stderr
    gitlab = rows(listed.stdout)["gitlab"]
    assert gitlab[1:5] == ["fedlogin-gitlab", "1.0.0", "ok", "gitlab"]
    shown = fedlogin(site, "presets", "show", "gitlab")
    assert shown.returncode == 0, shown.stderr
    assert "GitLab (preset gitlab, plugin gitlab)" in shown.stdout
    assert "Add a new application with the scopes openid, profile and email." in shown.stdout


def test_broken_plugins_are_reported_by_name_and_the_rest_keeps_working(site: Path) -> None:
    listed = fedlogin(site, "plugins", "list")
    assert listed.returncode == 0, listed.stderr
    table = rows(listed.stdout)
    for name in ("broken-import", "broken-hook", "typo-hook"):
        assert table[name][3] == "broken"
    assert "broken-import: broken: failed to import: ImportError" in listed.stdout
    assert "broken-hook: broken: raised in fedlogin_presets: RuntimeError" in listed.stdout
    assert "typo-hook: broken: implements unknown hook(s): fedlogin_preset" in listed.stdout
    healthy = {"google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc", "gitlab"}
    assert all(table[name][3] == "ok" for name in healthy)
    assert "Traceback" not in listed.stderr


def test_disabled_plugins_env_blocks_a_plugin_install_wide(site: Path) -> None:
    env_site = site
    result = subprocess.run(
        [sys.executable, "-m", "fedlogin.cli", "presets", "show", "gitlab"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(env_site), "FEDLOGIN_DISABLED_PLUGINS": "gitlab"},
    )
    assert result.returncode == 2
    assert "No installed and enabled plugin provides the preset 'gitlab'" in result.stderr
