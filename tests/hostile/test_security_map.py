"""docs/security-tests.md cannot rot: every test it names exists, every guard it names is in
the code, every certification row of SECURITY.md has a line, and every hostile test is named.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "security-tests.md"
SUITE = "tests/hostile"
BACKENDS = ("sqlite", "postgresql")

#: SECURITY.md, "OpenID Foundation RP certification", first column (the design folder is
#: outside the repository, so the list is kept here).
CERTIFICATION_ROWS = (
    "rp-response_type-code",
    "rp-id_token-issuer-mismatch",
    "rp-id_token-sub",
    "rp-id_token-aud",
    "rp-id_token-iat",
    "rp-id_token-kid-absent-single-jwks",
    "rp-id_token-kid-absent-multiple-jwks",
    "rp-id_token-sig-rs256",
    "rp-id_token-sig-ps256",
    "rp-id_token-sig-es256",
    "rp-id_token-sig-none",
    "rp-id_token-bad-sig-rs256",
    "rp-id_token-bad-sig-es256",
    "rp-id_token-bad-sig-hs256",
    "rp-nonce-invalid",
    "rp-userinfo-bad-sub-claim",
    "rp-userinfo-bearer-header",
    "rp-token_endpoint-client_secret_basic",
    "rp-scope-userinfo-claims",
    "rp-discovery-issuer-not-matching-config",
    "rp-discovery-jwks_uri-keys",
    "rp-key-rotation-op-sign-key(-native)",
    "at_hash",
)

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE = re.compile(r"`([^`]+)`")
_TEST_REF = re.compile(r"^test_\w+\.py::test_\w+(\[[^\]]+\])?$")
_GUARD = re.compile(r"^[\w.]+:[\w.]+$")


def _rows(section: str) -> list[tuple[str, list[str], list[str]]]:
    """(row, test references, guards) of the table under ``## {section}``."""
    text = MAP.read_text(encoding="utf-8")
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        if not line.startswith("| ") or line.startswith(("| Row ", "|---")):
            continue
        cells = [cell.strip() for cell in _CELL_SPLIT.split(line.strip().strip("|"))]
        tests = _CODE.findall(cells[1])
        guards = _CODE.findall(cells[2])
        rows.append((cells[0], tests, guards))
    return rows


def _all_rows() -> list[tuple[str, list[str], list[str]]]:
    return (
        _rows("OpenID Foundation RP certification")
        + _rows("Flow and token rules")
        + _rows("Accounts")
    )


@cache
def collected() -> frozenset[str]:
    """The suite's test ids as the map writes them: ``file::function[case]``, no backend."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", SUITE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    ids = set()
    for line in result.stdout.splitlines():
        if not line.startswith(f"{SUITE}/") or "::" not in line:
            continue
        node = line.removeprefix(f"{SUITE}/")
        match = re.fullmatch(r"(.+?)(?:\[(.*)\])?", node)
        assert match is not None
        name, params = match.group(1), match.group(2) or ""
        for backend in BACKENDS:
            if params == backend:
                params = ""
            params = params.removeprefix(f"{backend}-")
        ids.add(f"{name}[{params}]" if params else name)
    return frozenset(ids)


def test_every_certification_row_has_a_line() -> None:
    assert [row for row, _, _ in _rows("OpenID Foundation RP certification")] == list(
        CERTIFICATION_ROWS
    )


@pytest.mark.parametrize(
    ("row", "tests", "guards"), [pytest.param(*row, id=row[0]) for row in _all_rows()]
)
def test_each_row_names_tests_that_exist_and_guards_in_the_code(
    row: str, tests: list[str], guards: list[str]
) -> None:
    assert tests, f"{row}: no test"
    for ref in tests:
        assert _TEST_REF.match(ref), f"{row}: {ref!r} is not file::function[case]"
        assert ref in collected(), f"{row}: {ref} is not a test of {SUITE}"
    named = [guard for guard in guards if _GUARD.match(guard) or "/" in guard]
    assert named, f"{row}: no guard"
    for guard in named:
        if "/" in guard:
            assert (ROOT / "core/src/fedlogin" / guard).is_file(), guard
            continue
        module, _, attribute = guard.partition(":")
        target: object = importlib.import_module(f"fedlogin.{module}")
        for part in attribute.split("."):
            assert hasattr(target, part), f"{row}: fedlogin.{module} has no {attribute}"
            target = getattr(target, part)


def test_every_hostile_test_is_in_the_map() -> None:
    named = {ref for _, tests, _ in _all_rows() for ref in tests}
    own = Path(__file__).name
    missing = sorted(ref for ref in collected() if not ref.startswith(own) and ref not in named)
    assert missing == [], f"add these to {MAP.name}: {missing}"
