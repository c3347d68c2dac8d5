"""Value objects plugins build: preset fields read from options, discovery targets' issuers."""

from __future__ import annotations

import re

import pytest
from fedlogin import DOMAIN_NAME_PATTERN, GUID_PATTERN, DiscoveryTarget, InvalidConfiguration
from fedlogin import PresetField as Field

REGION = Field(
    name="region", label="Region", help="Where it lives.", default="com", choices=("com", "eu")
)
SERVER = Field(name="server", label="Server", help="Which server.", pattern="default|aus[0-9a-z]+")


def test_value_in_trims_and_is_empty_when_absent() -> None:
    assert REGION.value_in({"region": " eu "}) == "eu"
    assert REGION.value_in({}) == ""
    assert SERVER.value_in({"server": ""}) == ""


@pytest.mark.parametrize(
    ("field", "value"), [(REGION, "de"), (SERVER, "oauth2/default"), (SERVER, "aus/../x")]
)
def test_value_in_refuses_a_value_breaking_the_fields_rules(field: Field, value: str) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        field.value_in({field.name: value})
    assert list(refused.value.fields) == [field.name]
    assert refused.value.message.startswith(field.label + " ")


@pytest.mark.parametrize(
    ("entered", "from_domain", "expected"),
    [
        ("eu", None, "eu"),  # the Domain names nothing: the field
        ("", None, "com"),  # ... or its default
        ("eu", "eu", "eu"),  # both agree
        ("", "eu", "eu"),  # the field is empty: the Domain
        ("com", "eu", "eu"),  # the field is at its default: the Domain
    ],
)
def test_reconcile_prefers_an_explicit_answer(
    entered: str, from_domain: str | None, expected: str
) -> None:
    assert REGION.reconcile(entered, from_domain) == expected


def test_reconcile_refuses_two_different_explicit_answers_on_both_fields() -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        SERVER.reconcile("aus1", "default")
    assert set(refused.value.fields) == {"domain", "server"}
    assert "aus1" in refused.value.message and "default" in refused.value.message


HOST = "https://login.example.com/"
PATTERN = re.escape(HOST) + GUID_PATTERN + re.escape("/v2.0")
GUID = "b7a1c2d3-0e4f-4a5b-8c6d-7e8f9a0b1c2d"


def pattern_target() -> DiscoveryTarget:
    return DiscoveryTarget(
        url=HOST + "contoso.com/v2.0/.well-known/openid-configuration",
        issuer=HOST + "{tenantid}/v2.0",
        domain="login.example.com/contoso.com/v2.0",
        issuer_pattern=PATTERN,
    )


def test_an_issuer_pattern_admits_issuers_matching_it_whole() -> None:
    target = pattern_target()
    assert target.accepts_issuer(f"{HOST}{GUID}/v2.0")
    assert target.accepts_issuer(f"{HOST}{GUID.upper()}/v2.0")


@pytest.mark.parametrize(
    "issuer",
    [
        f"{HOST}{GUID}/v2.0/",
        f"{HOST}{GUID}/v2.0.evil.example",
        f"https://login.example.com.evil.example/{GUID}/v2.0",
        f"http://login.example.com/{GUID}/v2.0",
        f"{HOST}contoso.com/v2.0",
        f"x{HOST}{GUID}/v2.0",
    ],
)
def test_an_issuer_pattern_admits_nothing_else(issuer: str) -> None:
    assert not pattern_target().accepts_issuer(issuer)


def test_without_a_pattern_only_the_issuer_and_its_aliases_are_accepted() -> None:
    target = DiscoveryTarget("https://op.example/x", "https://op.example", "op.example", ("a",))
    assert target.accepts_issuer("https://op.example")
    assert target.accepts_issuer("a")
    assert not target.accepts_issuer("")
    assert not target.accepts_issuer("https://op.example/")


@pytest.mark.parametrize("pattern", ["https://op.example/(", "https?://op\\.example", ".*"])
def test_an_issuer_pattern_must_compile_and_be_https(pattern: str) -> None:
    with pytest.raises((ValueError, re.error)):
        DiscoveryTarget("https://op.example/x", "https://op.example", "op.example", (), pattern)


@pytest.mark.parametrize("name", ["example.com", "contoso.onmicrosoft.com", "a-b.co.uk"])
def test_domain_name_pattern_takes_domain_names(name: str) -> None:
    assert re.fullmatch(DOMAIN_NAME_PATTERN, name)


@pytest.mark.parametrize("name", ["localhost", "https://example.com", "-a.com", "a.c0m", "a..com"])
def test_domain_name_pattern_refuses_anything_else(name: str) -> None:
    assert not re.fullmatch(DOMAIN_NAME_PATTERN, name)
