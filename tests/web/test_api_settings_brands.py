"""``/api/v1/settings/accounts`` (S1) and ``/api/v1/brands`` (S2) through the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fedlogin.store.brands import effective_login_config
from fedlogin.store.database import Database

SETTINGS = "/api/v1/settings/accounts"
BRANDS = "/api/v1/brands"


async def provider(admin: httpx.AsyncClient, identifier: str) -> None:
    response = await admin.post(
        "/api/v1/identity-providers",
        json={
            "identifier": identifier,
            "name": identifier.title(),
            "domain": f"{identifier}.example.com",
            "client_id": "app",
            "auth_method": "none",
        },
    )
    assert response.status_code == 201, response.text


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


# -- settings ----------------------------------------------------------------------------------


async def test_the_settings_start_off_and_empty(admin: httpx.AsyncClient) -> None:
    response = await admin.get(SETTINGS)
    assert response.status_code == 200
    body = response.json()
    assert body["federated_login_enabled"] is False
    assert body["identity_providers"] == []
    assert response.headers["etag"] == f'"{body["version"]}"'


async def test_put_enables_federated_login_with_providers_in_order(
    admin: httpx.AsyncClient, db: Database
) -> None:
    await provider(admin, "alpha")
    await provider(admin, "beta")
    response = await admin.put(
        SETTINGS, json={"federated_login_enabled": True, "identity_providers": ["beta", "alpha"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["identity_providers"] == ["beta", "alpha"]
    assert (await admin.get(SETTINGS)).json()["identity_providers"] == ["beta", "alpha"]
    with db.transaction() as session:  # what the login page will offer
        config = effective_login_config(session, "login.example.com")
    assert config.federated_login_enabled
    assert config.identity_providers == ("beta", "alpha")


async def test_patch_changes_only_what_is_given(admin: httpx.AsyncClient) -> None:
    await provider(admin, "alpha")
    await admin.put(SETTINGS, json={"federated_login_enabled": True, "identity_providers": []})
    response = await admin.patch(SETTINGS, json={"identity_providers": ["alpha"]})
    assert response.status_code == 200
    assert response.json()["federated_login_enabled"] is True
    assert response.json()["identity_providers"] == ["alpha"]


@pytest.mark.parametrize(
    ("method", "body", "field_codes"),
    [
        (
            "PATCH",
            {"identity_providers": ["alpha", "ghost"]},
            {"identity_providers": "unknown_provider"},
        ),
        ("PATCH", {"identity_providers": ["alpha", "alpha"]}, {"identity_providers": "duplicate"}),
        ("PATCH", {"identity_providers": "alpha"}, {"identity_providers": "invalid_type"}),
        ("PATCH", {"federated_login_enabled": "on"}, {"federated_login_enabled": "invalid_type"}),
        ("PATCH", {"federated_login": True}, {"federated_login": "unknown_field"}),
        ("PUT", {"federated_login_enabled": True}, {"identity_providers": "field_required"}),
    ],
)
async def test_invalid_settings_are_field_errors_and_change_nothing(
    admin: httpx.AsyncClient, method: str, body: dict[str, Any], field_codes: dict[str, str]
) -> None:
    await provider(admin, "alpha")
    before = (await admin.get(SETTINGS)).json()
    response = await admin.request(method, SETTINGS, json=body)
    assert error(response, 422)["field_codes"] == field_codes
    assert (await admin.get(SETTINGS)).json() == before


async def test_a_stale_settings_version_is_a_409(admin: httpx.AsyncClient) -> None:
    version = (await admin.get(SETTINGS)).json()["version"]
    first = await admin.patch(SETTINGS, json={"federated_login_enabled": True, "version": version})
    assert first.status_code == 200
    stale = await admin.patch(
        SETTINGS, json={"federated_login_enabled": False}, headers={"If-Match": f'"{version}"'}
    )
    assert error(stale, 409)["code"] == "version_conflict"
    assert (await admin.get(SETTINGS)).json()["federated_login_enabled"] is True


async def test_deleting_a_provider_removes_it_from_the_settings(admin: httpx.AsyncClient) -> None:
    await provider(admin, "alpha")
    await provider(admin, "beta")
    await admin.put(
        SETTINGS, json={"federated_login_enabled": True, "identity_providers": ["alpha", "beta"]}
    )
    assert (await admin.delete("/api/v1/identity-providers/alpha")).status_code == 200
    assert (await admin.get(SETTINGS)).json()["identity_providers"] == ["beta"]


# -- brands ------------------------------------------------------------------------------------


def brand(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Acme",
        "hosts": ["login.acme.example", "https://SSO.acme.example/"],
        **overrides,
    }


async def test_a_brand_is_created_read_listed_and_deleted(admin: httpx.AsyncClient) -> None:
    created = await admin.post(BRANDS, json=brand())
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["hosts"] == ["login.acme.example", "sso.acme.example"]
    assert body["inherit"] is True
    assert created.headers["location"] == f"http://testserver{BRANDS}/{body['id']}"
    assert (await admin.get(f"{BRANDS}/{body['id']}")).json() == body

    listed = (await admin.get(BRANDS)).json()
    assert listed["brands"] == [body]
    plugins = {p["name"]: p for p in listed["plugins"]}
    assert {"google", "azure-ad", "okta"} <= set(plugins)
    assert plugins["google"]["presets"] == ["google"]

    deleted = await admin.delete(f"{BRANDS}/{body['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": body["id"]}
    assert error(await admin.get(f"{BRANDS}/{body['id']}"), 404)["code"] == "brand_not_found"


async def test_a_brand_with_its_own_providers_and_switched_off_plugins(
    admin: httpx.AsyncClient, db: Database
) -> None:
    await provider(admin, "alpha")
    await provider(admin, "beta")
    created = await admin.post(
        BRANDS,
        json=brand(
            inherit=False,
            federated_login_enabled=True,
            identity_providers=["beta"],
            disabled_plugins=["google"],
        ),
    )
    assert created.status_code == 201, created.text
    with db.transaction() as session:
        config = effective_login_config(session, "sso.acme.example")
    assert config.brand == "Acme"
    assert config.identity_providers == ("beta",)
    assert config.disabled_plugins == ("google",)

    brand_id = created.json()["id"]
    patched = await admin.patch(f"{BRANDS}/{brand_id}", json={"inherit": True})
    assert patched.status_code == 200
    assert patched.json()["identity_providers"] == ["beta"]  # kept for when it stops inheriting
    assert patched.json()["version"] == created.json()["version"] + 1


@pytest.mark.parametrize(
    ("body", "field_codes"),
    [
        (brand(disabled_plugins=["no-such-plugin"]), {"disabled_plugins": "unknown_plugin"}),
        (brand(identity_providers=["ghost"]), {"identity_providers": "unknown_provider"}),
        (brand(hosts=[]), {"hosts": "hosts_required"}),
        (brand(hosts=["not a host"]), {"hosts": "invalid_host"}),
        (brand(name=""), {"name": "name_required"}),
        (brand(inherit="yes"), {"inherit": "invalid_type"}),
        (brand(colour="red"), {"colour": "unknown_field"}),
    ],
)
async def test_invalid_brands_are_field_errors(
    admin: httpx.AsyncClient, body: dict[str, Any], field_codes: dict[str, str]
) -> None:
    assert error(await admin.post(BRANDS, json=body), 422)["field_codes"] == field_codes
    assert (await admin.get(BRANDS)).json()["brands"] == []


async def test_a_host_belongs_to_one_brand_only(admin: httpx.AsyncClient) -> None:
    assert (await admin.post(BRANDS, json=brand())).status_code == 201
    taken = await admin.post(BRANDS, json=brand(name="Other", hosts=["login.acme.example"]))
    assert error(taken, 422)["field_codes"] == {"hosts": "host_taken"}


async def test_a_stale_brand_version_is_a_409(admin: httpx.AsyncClient) -> None:
    created = (await admin.post(BRANDS, json=brand())).json()
    url = f"{BRANDS}/{created['id']}"
    assert (await admin.patch(url, json={"name": "Acme 2", "version": 1})).status_code == 200
    stale = await admin.patch(url, json={"name": "Acme 3", "version": 1})
    assert error(stale, 409)["code"] == "version_conflict"
    stale_delete = await admin.delete(url, headers={"If-Match": '"1"'})
    assert error(stale_delete, 409)["code"] == "version_conflict"
    assert (await admin.get(url)).json()["name"] == "Acme 2"


@pytest.mark.parametrize("brand_id", ["999", "abc", "1.5", "-1"])
async def test_an_unknown_brand_is_a_404(admin: httpx.AsyncClient, brand_id: str) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await admin.request(method, f"{BRANDS}/{brand_id}", json={})
        assert error(response, 404)["code"] == "brand_not_found", method
