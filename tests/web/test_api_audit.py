"""``/api/v1/audit-log`` (X6): every admin change through the API, who made it, newest first,
paged by id, filtered by target; secrets never in it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

AUDIT = "/api/v1/audit-log"
PROVIDERS = "/api/v1/identity-providers"
SECRET = "audit-test-client-secret-1"
ACTOR = "root (token tests)"


async def make_provider(admin: httpx.AsyncClient, identifier: str) -> None:
    response = await admin.post(
        PROVIDERS,
        json={
            "identifier": identifier,
            "name": identifier,
            "domain": "idp.example.com",
            "client_id": "app",
            "client_secret": SECRET,
        },
    )
    assert response.status_code == 201, response.text


async def entries(admin: httpx.AsyncClient, query: str = "") -> dict[str, Any]:
    response = await admin.get(f"{AUDIT}?{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_provider_changes_are_audited_with_who_what_and_before_after(
    admin: httpx.AsyncClient,
) -> None:
    await make_provider(admin, "corp")
    await admin.patch(f"{PROVIDERS}/corp", json={"name": "Corp", "client_secret": "new-" + SECRET})
    await admin.post(f"{PROVIDERS}/corp/disable")
    await admin.delete(f"{PROVIDERS}/corp")

    page = await entries(admin, "target_type=identity_provider")
    actions = [e["action"] for e in page["entries"]]
    assert actions == [
        "identity_provider.delete",
        "identity_provider.update",
        "identity_provider.update",
        "identity_provider.create",
    ]
    assert {e["actor"] for e in page["entries"]} == {ACTOR}
    assert {e["target_id"] for e in page["entries"]} == {"corp"}
    disable, rename = page["entries"][1], page["entries"][2]
    assert disable["before"] == {"enabled": True} and disable["after"] == {"enabled": False}
    assert rename["before"]["name"] == "corp" and rename["after"]["name"] == "Corp"
    assert rename["after"]["client_secret"] == "changed"
    assert page["entries"][3]["after"]["client_secret"] == "set"
    assert page["next_before"] is None
    assert SECRET not in str(page)


async def test_settings_and_brand_changes_are_audited(admin: httpx.AsyncClient) -> None:
    await admin.patch("/api/v1/settings/accounts", json={"federated_login_enabled": True})
    await admin.post("/api/v1/brands", json={"name": "Acme", "hosts": ["acme.example"]})
    page = await entries(admin, "limit=2")
    assert [e["action"] for e in page["entries"]] == ["brand.create", "settings.update"]
    settings = page["entries"][1]
    assert settings["before"] == {"federated_login_enabled": False}
    assert settings["after"] == {"federated_login_enabled": True}


async def test_pages_follow_next_before_without_gaps_or_repeats(admin: httpx.AsyncClient) -> None:
    for n in range(5):
        await make_provider(admin, f"p{n}")
    everything = await entries(admin, "target_type=identity_provider&limit=500")
    assert len(everything["entries"]) == 5

    seen: list[int] = []
    query = "target_type=identity_provider&limit=2"
    while True:
        page = await entries(admin, query)
        assert len(page["entries"]) <= 2
        seen += [e["id"] for e in page["entries"]]
        if page["next_before"] is None:
            break
        query = f"target_type=identity_provider&limit=2&before={page['next_before']}"
    assert seen == [e["id"] for e in everything["entries"]]
    assert seen == sorted(seen, reverse=True)


async def test_entries_are_filtered_by_target(admin: httpx.AsyncClient) -> None:
    await make_provider(admin, "one")
    await make_provider(admin, "two")
    page = await entries(admin, "target_type=identity_provider&target_id=two")
    assert [(e["action"], e["target_id"]) for e in page["entries"]] == [
        ("identity_provider.create", "two")
    ]
    assert (await entries(admin, "target_type=brand"))["entries"] == []


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("limit=0", "invalid_parameter", "limit"),
        ("limit=501", "invalid_parameter", "limit"),
        ("limit=ten", "invalid_parameter", "limit"),
        ("before=-3", "invalid_parameter", "before"),
        ("limit=1&limit=2", "invalid_parameter", "limit"),
        ("offset=10", "unknown_parameter", "offset"),
    ],
)
async def test_bad_parameters_are_refused(
    admin: httpx.AsyncClient, query: str, code: str, field: str
) -> None:
    response = await admin.get(f"{AUDIT}?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert list(error["fields"]) == [field]
