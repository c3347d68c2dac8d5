"""The Domain field (P6): pasted forms are normalised, nonsense is refused with a field error."""

from __future__ import annotations

import pytest
from fedlogin.domains import DomainError, base_url, discovery_url, normalize_domain


@pytest.mark.parametrize(
    "pasted",
    [
        "accounts.google.com",
        "https://accounts.google.com",
        "https://accounts.google.com/",
        "ACCOUNTS.google.com/",
        "https://accounts.google.com/.well-known/openid-configuration",
        "  https://accounts.google.com:443/  ",
    ],
)
def test_pasted_forms_of_one_domain_normalise_to_the_same_value(pasted: str) -> None:
    assert normalize_domain(pasted) == "accounts.google.com"


def test_a_path_is_kept_and_its_case_preserved() -> None:
    assert (
        normalize_domain("https://auth.pingone.com/ABC-123/as/.well-known/openid-configuration")
        == "auth.pingone.com/ABC-123/as"
    )


def test_http_is_kept_visibly_and_yields_http_urls() -> None:
    domain = normalize_domain("http://127.0.0.1:3000/")
    assert domain == "http://127.0.0.1:3000"
    assert base_url(domain) == "http://127.0.0.1:3000"
    assert (
        discovery_url("example.com/x") == "https://example.com/x/.well-known/openid-configuration"
    )


@pytest.mark.parametrize(
    ("pasted", "fragment"),
    [
        ("", "required"),
        ("ftp://example.com", "https"),
        ("exa mple.com", "spaces"),
        ("https://user:pw@example.com", "user name"),
        ("-bad-.example.com", "not a valid host"),
        ("example.com/../etc", "not allowed"),
        ("example.com:99999", "port"),
    ],
)
def test_nonsense_is_refused_with_a_domain_field_error(pasted: str, fragment: str) -> None:
    with pytest.raises(DomainError) as error:
        normalize_domain(pasted)
    assert fragment in error.value.fields["domain"]
    assert error.value.code == "invalid_domain"
