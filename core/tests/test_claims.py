"""The claim helpers plugins share (``fedlogin.claims``, exported from ``fedlogin``)."""

from __future__ import annotations

from typing import Any

import pytest
from fedlogin import claim_is_true, is_guid, normalize_email, standard_claims
from fedlogin.plugins import enforce_claim_invariants

GUID = "9188040d-6c67-4c5b-b112-36a304b66dad"


@pytest.mark.parametrize("value", [GUID, GUID.upper()])
def test_is_guid_accepts_either_case(value: str) -> None:
    assert is_guid(value)


@pytest.mark.parametrize(
    "value",
    [None, 42, "", "contoso.com", "{" + GUID + "}", GUID + "/../evil", " " + GUID, GUID[:-1]],
)
def test_is_guid_refuses_anything_but_exactly_one_guid(value: object) -> None:
    assert not is_guid(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        ("true", True),
        (" TRUE ", True),
        (False, False),
        ("false", False),
        ("1", False),  # not one of the default true strings
        (1, False),  # a number is never an assertion
        (None, False),
        ("yes", False),
    ],
)
def test_claim_is_true_takes_the_boolean_or_the_string_true(value: object, expected: bool) -> None:
    assert claim_is_true(value) is expected


def test_claim_is_true_takes_the_strings_a_provider_names() -> None:
    assert claim_is_true("1", ("true", "1"))
    assert claim_is_true("True", ("TRUE", "1"))
    assert not claim_is_true(1, ("true", "1"))
    assert claim_is_true(True, ())  # the JSON boolean needs no spelling


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("jane", None),
        ("@example.com", None),
        ("jane@localhost", None),
        ("jane@example.com.", None),
        ("ja ne@example.com", None),
        ("a" * 310 + "@example.com", None),
        (["jane@example.com"], None),
    ],
)
def test_normalize_email_keeps_only_addresses(value: object, expected: str | None) -> None:
    assert normalize_email(value) == expected


def test_standard_claims_read_sub_email_and_a_boolean_email_verified() -> None:
    sent = {"sub": "u1", "email": "Jane@Example.com", "email_verified": True, "name": "Jane"}
    claims = standard_claims(sent)
    assert (claims.subject, claims.email, claims.email_verified) == ("u1", "Jane@Example.com", True)
    assert dict(claims.claims) == sent


@pytest.mark.parametrize(
    "sent",
    [
        {"sub": "u1", "email": "a@example.com", "email_verified": "true"},
        {"sub": "u1", "email": "a@example.com"},
        {"sub": "u1", "email": ["a@example.com"], "email_verified": True},
    ],
)
def test_standard_claims_trust_nothing_but_a_json_true(sent: dict[str, Any]) -> None:
    assert enforce_claim_invariants(standard_claims(sent)).email_verified is False


def test_standard_claims_take_the_presets_decision_and_mapped_claims() -> None:
    sent = {"sub": "u1", "email": "a@example.com", "email_verified": "true", "groups": "x"}
    claims = standard_claims(sent, email_verified=True, mapped={**sent, "groups": ["x"]})
    assert claims.email_verified is True
    assert claims.claims["groups"] == ["x"]


@pytest.mark.parametrize("sub", [None, 42, ["u1"]])
def test_a_subject_that_is_not_a_string_is_left_empty_for_the_core_to_refuse(sub: object) -> None:
    assert standard_claims({"sub": sub}).subject == ""
