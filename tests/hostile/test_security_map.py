"""docs/security-tests.md cannot rot: every test it names exists, every guard it names is in
the code, every row of SECURITY.md's certification table, "Accounts" and "Inputs from admins
and the network" has a line, and every hostile test is named.

The certification and flow sections name tests of ``tests/hostile`` as ``file::function[case]``;
the accounts and inputs sections name tests anywhere as node ids from the repository root
(``tests/web/test_linking.py::test_x[case]``, ``core/tests/...``, ``plugins/x/tests/...``),
with or without the case (without: every case of the function). The database backend is
left out of the case everywhere. Only the files named are collected.
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

#: SECURITY.md, "Accounts", one line per rule (compound rules split), in order.
ACCOUNT_ROWS = (
    "nOAuth: Azure AD's email is verified only with xms_edov",
    "Trust IdP chosen knowingly, with a warning in the console",
    "an existing account is never signed into or linked through an untrusted email",
    "a local account whose own email is unverified is never merged",
    "linking starts only by POST with the CSRF token of a signed-in session",
    "a link is bound to the user who started it",
    "a sign-in flow never becomes a link",
    "a link flow never becomes a sign-in",
    "unlink refused when it would leave no way to sign in (U4)",
    "new session id at sign-in",
    "new session id at link",
    "session cookie HttpOnly, SameSite=Lax, Secure on https",
    "sessions server-side and revocable",
    "sign-out ends the session",
)

#: SECURITY.md, "Inputs from admins and the network", one line per rule, in order.
INPUT_ROWS = (
    "discovery and JWKS fetches: https only",
    "plain http only to loopback, when the operator allows it",
    "timeouts",
    "response size cap",
    "no redirects",
    "private, loopback, link-local and metadata addresses refused unless allow-listed (SSRF)",
    "malformed JSON is a clear error",
    "missing required members are a clear error",
    "the discovered issuer must match the configured one",
    "Azure AD: the {tenantid} issuer template",
    "Auth0: the trailing slash",
    "Google: the bare accounts.google.com",
    "logo: only real PNG, JPEG or SVG, checked by its bytes",
    "logo: size cap",
    "SVG logo can never run script",
    "next after sign-in: same-origin relative paths only",
    "CSRF on every form",
    "CSRF on state-changing API calls (bearer tokens excepted)",
    "admin routes require an admin",
    "client secret never in a response",
    "client secret never in a page",
    "client secret never in a log line",
    "client secret never in an audit entry",
    "IdP error_description escaped before it is shown",
)
#: The sections whose tests are named by node ids from the repository root.
NODE_ID_SECTIONS = ("Accounts", "Inputs from admins and the network")
_TEST_ROOTS = ("tests/", "core/tests/", "plugins/")

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CODE = re.compile(r"`([^`]+)`")
_TEST_REF = re.compile(r"^test_\w+\.py::test_\w+(\[[^\]]+\])?$")
_NODE_REF = re.compile(r"^[\w/]+/test_\w+\.py::test_\w+(\[[^\]]+\])?$")
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


def _hostile_rows() -> list[tuple[str, list[str], list[str]]]:
    return _rows("OpenID Foundation RP certification") + _rows("Flow and token rules")


def _node_id_rows() -> list[tuple[str, list[str], list[str]]]:
    return [row for section in NODE_ID_SECTIONS for row in _rows(section)]


def _all_rows() -> list[tuple[str, list[str], list[str]]]:
    return _hostile_rows() + _node_id_rows()


def _without_backend(params: str) -> str:
    """A case id without the database backend's part (``sqlite-x`` -> ``x``)."""
    return "-".join(part for part in params.split("-") if part not in BACKENDS)


def _collect(*paths: str) -> list[tuple[str, str]]:
    """(``path::function``, case without the backend) of every test collected in ``paths``."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    found = []
    for line in result.stdout.splitlines():
        if "::" not in line or not line.startswith(paths):
            continue
        match = re.fullmatch(r"(.+?)(?:\[(.*)\])?", line)
        assert match is not None
        found.append((match.group(1), _without_backend(match.group(2) or "")))
    return found


@cache
def collected() -> frozenset[str]:
    """The suite's test ids as the map writes them: ``file::function[case]``, no backend."""
    return frozenset(
        f"{name.removeprefix(SUITE + '/')}[{case}]" if case else name.removeprefix(SUITE + "/")
        for name, case in _collect(SUITE)
    )


@cache
def collected_nodes() -> frozenset[str]:
    """Node ids of the files the node-id sections name, each with its case and without."""
    files = sorted({ref.split("::", 1)[0] for _, tests, _ in _node_id_rows() for ref in tests})
    missing = [path for path in files if not (ROOT / path).is_file()]
    assert missing == [], f"no such test files: {missing}"
    ids = set()
    for name, case in _collect(*files):
        ids.add(name)
        if case:
            ids.add(f"{name}[{case}]")
    return frozenset(ids)


def test_every_certification_row_has_a_line() -> None:
    assert [row for row, _, _ in _rows("OpenID Foundation RP certification")] == list(
        CERTIFICATION_ROWS
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [("Accounts", ACCOUNT_ROWS), ("Inputs from admins and the network", INPUT_ROWS)],
)
def test_every_accounts_and_inputs_row_has_a_line(section: str, expected: tuple[str, ...]) -> None:
    assert [row for row, _, _ in _rows(section)] == list(expected)


@pytest.mark.parametrize(
    ("row", "tests", "guards"), [pytest.param(*row, id=row[0]) for row in _all_rows()]
)
def test_each_row_names_tests_that_exist_and_guards_in_the_code(
    row: str, tests: list[str], guards: list[str]
) -> None:
    assert tests, f"{row}: no test"
    node_ids = row in {name for name, _, _ in _node_id_rows()}
    for ref in tests:
        if node_ids:
            assert _NODE_REF.match(ref) and ref.startswith(_TEST_ROOTS), (
                f"{row}: {ref!r} is not path/test_file.py::function[case] from the root"
            )
            assert ref in collected_nodes(), f"{row}: {ref} is not a collected test"
            continue
        assert _TEST_REF.match(ref), f"{row}: {ref!r} is not file::function[case]"
        assert ref in collected(), f"{row}: {ref} is not a test of {SUITE}"
    named = [guard for guard in guards if _GUARD.match(guard) or "/" in guard]
    assert named, f"{row}: no guard"
    for guard in named:
        if "/" in guard:
            assert (ROOT / "core/src/fedlogin" / guard).is_file(), guard
            continue
        module, _, attribute = guard.partition(":")
        # A plugin's own package (fedlogin_azure_ad...) is named as it is imported.
        name = module if module.startswith("fedlogin_") else f"fedlogin.{module}"
        target: object = importlib.import_module(name)
        for part in attribute.split("."):
            assert hasattr(target, part), f"{row}: {name} has no {attribute}"
            target = getattr(target, part)


def test_every_hostile_test_is_in_the_map() -> None:
    named = {ref for _, tests, _ in _hostile_rows() for ref in tests}
    named |= {
        ref.removeprefix(SUITE + "/")
        for _, tests, _ in _node_id_rows()
        for ref in tests
        if ref.startswith(SUITE + "/")
    }
    own = Path(__file__).name
    missing = sorted(
        ref
        for ref in collected()
        if not ref.startswith(own) and ref not in named and ref.split("[", 1)[0] not in named
    )
    assert missing == [], f"add these to {MAP.name}: {missing}"
