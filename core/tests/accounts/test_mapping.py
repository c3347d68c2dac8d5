"""P18: the attribute mapping fills profile fields and says what it could not map."""

from __future__ import annotations

from fedlogin.accounts.mapping import map_attributes


def test_the_default_mapping_reads_the_standard_claims() -> None:
    profile = map_attributes(
        {
            "preferred_username": "ada",
            "email": "ada@example.org",
            "name": "Ada Lovelace",
            "picture": "https://img.example.org/ada.png",
            "website": "https://ada.example.org",
            "organization": "Analytical Engines",
            "locale": "en-GB",
        },
        None,
    )
    assert dict(profile.values) == {
        "username": "ada",
        "email": "ada@example.org",
        "name": "Ada Lovelace",
        "picture": "https://img.example.org/ada.png",
        "website": "https://ada.example.org",
        "company": "Analytical Engines",
        "location": "en-GB",
    }
    assert dict(profile.unmapped) == {}


def test_namespaced_and_nested_claim_names_are_read() -> None:
    claims = {
        "https://example.com/company": "Namespaced Inc",
        "address": {"locality": "London"},
        "nickname": "ada",
    }
    mapping = {
        "username": "nickname",
        "company": "https://example.com/company",
        "location": "address.locality",
    }
    profile = map_attributes(claims, mapping)
    assert profile.get("company") == "Namespaced Inc"
    assert profile.get("location") == "London"
    assert profile.get("username") == "ada"


def test_fields_that_could_not_be_mapped_are_reported_with_the_reason() -> None:
    claims = {"name": {"first": "Ada"}, "picture": "javascript:alert(1)", "locale": True}
    profile = map_attributes(
        claims, {"name": "name", "picture": "picture", "location": "locale", "username": "upn"}
    )
    assert profile.values == {}
    assert dict(profile.unmapped) == {
        "username": "claim 'upn' was not sent",
        "name": "claim 'name' is not text",
        "picture": "claim 'picture' is not a web address",
        "location": "claim 'locale' is not text",
    }


def test_an_unmapped_field_is_left_alone_and_long_values_are_cut() -> None:
    profile = map_attributes(
        {"name": "x" * 400, "groups": ["a", "b"]}, {"name": "name", "company": "groups"}
    )
    assert profile.get("name") == "x" * 255
    assert profile.get("company") == "a"  # the first of a list
    assert profile.get("email") is None and "email" not in profile.unmapped
