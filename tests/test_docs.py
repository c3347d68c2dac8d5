"""Meta-tests: every hook is documented for plugin authors and exercised by a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from fedlogin import hookspecs
from fedlogin.plugins import HOOK_NAMES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
TEST_SOURCES = [
    path.read_text(encoding="utf-8")
    for folder in ("core/tests", "plugins", "tests")
    for path in (ROOT / folder).rglob("test_*.py")
    if path.name != Path(__file__).name
]


def test_there_are_hooks() -> None:
    assert len(HOOK_NAMES) >= 7


@pytest.mark.parametrize("hook", sorted(HOOK_NAMES))
def test_hook_states_its_contract_in_its_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert re.search(r"\*(firstresult|Collecting)\*", doc), f"{hook} does not say its contract"
    assert "Called" in doc, f"{hook} does not say when it is called"


@pytest.mark.parametrize("hook", sorted(HOOK_NAMES))
def test_hook_has_a_section_in_the_plugin_guide(hook: str) -> None:
    assert f"### {hook}\n" in GUIDE


@pytest.mark.parametrize("hook", sorted(HOOK_NAMES))
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    # A hook counts as tested when a test implements it or calls it through the facade.
    facade_call = hook.removeprefix("fedlogin_")
    assert any(
        f"def {hook}" in source or f".{facade_call}(" in source for source in TEST_SOURCES
    ), f"no test implements or calls {hook}"
