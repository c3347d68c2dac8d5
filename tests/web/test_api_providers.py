"""``/api/v1/identity-providers``: create from a preset, read, update with optimistic locking,
enable and disable, delete with the linked-users confirmation, logos; and the rules every API
route shares (admin token first, JSON errors with stable codes, nothing stored on a refusal).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import httpx
import pytest
from fedlogin.store.database import Database
from fedlogin.store.logos import MAX_LOGO_BYTES, PNG_SIGNATURE
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, User
from fedlogin.web import api
from sqlmodel import select

PROVIDERS = "/api/v1/identity-providers"
SECRET = "s3cret-value-for-provider-tests"


def okta(**overrides: Any) -> dict[str, Any]:
    return {
        "identifier": "okta-prod",
        "name": "Company SSO",
        "preset": "okta",
        "domain": "https://company.okta.com/",
        "client_id": "0oa123",
        "client_secret": SECRET,
        **overrides,
    }


async def create(admin: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    response = await admin.post(PROVIDERS, json=okta(**overrides))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()["error"]
    assert body["message"]
    return body


def png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00\x00\x00\xff")
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


# -- every route -------------------------------------------------------------------------------


def admin_operations() -> list[tuple[str, str]]:
    return [(op.method, op.path) for op in api.operations() if not op.public]


@pytest.mark.parametrize(("method", "path"), admin_operations())
async def test_every_admin_route_refuses_a_call_without_a_token_before_reading_anything(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    url = "/api/v1" + path.replace("{identifier}", "okta-prod").replace("{id}", "1")
    url = url.replace("{name}", "google")
    # A body that would be refused for itself (wrong type): the token must be checked first.
    response = await client.request(method, url, content=b"<x/>", headers={"content-type": "a/b"})
    assert error(response, 401)["code"] == "unauthenticated"


async def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.put(PROVIDERS, json={})
    assert error(response, 405)["code"] == "method_not_allowed"
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


async def test_an_unknown_api_address_is_a_json_404(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/api/v1/identity-provider")
    assert error(response, 404)["code"] == "not_found"


# -- create and read ---------------------------------------------------------------------------


async def test_create_fills_the_presets_defaults_and_never_returns_the_secret(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.post(PROVIDERS, json=okta())
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == "http://testserver/api/v1/identity-providers/okta-prod"
    assert response.headers["etag"] == '"1"'
    assert body["domain"] == "company.okta.com"  # the pasted URL, normalised
    assert body["scopes"] == ["openid", "profile", "email"]
    assert body["auth_method"] == "client_secret_post"
    assert body["provisioning_mode"] == "auto_provision"
    assert body["email_trust_mode"] == "verify_with_claim"
    assert body["button_text"] == "Login with Company SSO"
    assert body["attribute_mapping"]["username"] == "preferred_username"
    assert body["callback_url"] == "http://testserver/auth/callback/okta-prod"
    assert body["client_secret_set"] is True
    assert "client_secret" not in body
    assert SECRET not in response.text
    assert body["logo_url"] is None
    shown = await admin.get(
        body["callback_url"].replace("auth/callback", "api/v1/identity-providers")
    )
    assert shown.json() == body


async def test_each_brand_host_gets_its_own_callback_url_to_register(
    admin: httpx.AsyncClient,
) -> None:
    created = (await admin.post(PROVIDERS, json=okta())).json()
    assert created["brand_callback_urls"] == []
    brand = {"name": "Acme", "hosts": ["login.acme.example", "sso.acme.example:8443"]}
    assert (await admin.post("/api/v1/brands", json=brand)).status_code == 201

    shown = (await admin.get(f"{PROVIDERS}/okta-prod")).json()
    # P12: the platform's own URL, and the URL on each brand host with the platform's scheme.
    assert shown["callback_url"] == "http://testserver/auth/callback/okta-prod"
    assert shown["brand_callback_urls"] == [
        {
            "brand": "Acme",
            "host": "login.acme.example",
            "callback_url": "http://login.acme.example/auth/callback/okta-prod",
        },
        {
            "brand": "Acme",
            "host": "sso.acme.example:8443",
            "callback_url": "http://sso.acme.example:8443/auth/callback/okta-prod",
        },
    ]
    # Read-only: sending the view back unchanged is accepted, not an unknown field.
    patched = await admin.patch(f"{PROVIDERS}/okta-prod", json=shown)
    assert patched.status_code == 200, patched.text


async def test_create_with_preset_options_builds_the_domain(admin: httpx.AsyncClient) -> None:
    tenant = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    response = await admin.post(
        PROVIDERS,
        json={
            "identifier": "azure-ad",
            "name": "Microsoft",
            "preset": "azure-ad",
            "preset_options": {"tenant": tenant},
            "client_id": "app-1",
            "client_secret": SECRET,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["domain"] == f"login.microsoftonline.com/{tenant}/v2.0"
    assert body["preset_options"]["tenant"] == tenant


async def test_the_list_shows_every_provider_by_identifier(admin: httpx.AsyncClient) -> None:
    await create(admin, identifier="zeta")
    await create(admin, identifier="alpha", auth_method="none", client_secret="")
    listed = (await admin.get(PROVIDERS)).json()["identity_providers"]
    assert [p["identifier"] for p in listed] == ["alpha", "zeta"]
    assert [p["client_secret_set"] for p in listed] == [False, True]


async def test_invalid_fields_are_all_reported_and_nothing_is_stored(
    admin: httpx.AsyncClient, db: Database
) -> None:
    response = await admin.post(
        PROVIDERS,
        json=okta(identifier="Okta Prod", scopes="profile email", scope="x", enabled="yes"),
    )
    body = error(response, 422)
    assert body["field_codes"] == {
        "identifier": "invalid_identifier",
        "scopes": "openid_required",
        "scope": "unknown_field",
        "enabled": "invalid_type",
    }
    assert set(body["fields"]) == set(body["field_codes"])
    assert "4 fields" in body["message"]
    with db.transaction() as session:
        assert session.exec(select(IdentityProvider)).all() == []


async def test_a_taken_identifier_and_an_unknown_preset_are_field_errors(
    admin: httpx.AsyncClient,
) -> None:
    await create(admin)
    body = error(await admin.post(PROVIDERS, json=okta()), 422)
    assert body["field_codes"] == {"identifier": "identifier_taken"}
    body = error(await admin.post(PROVIDERS, json=okta(identifier="x", preset="nope")), 422)
    assert body["field_codes"] == {"preset": "unknown_preset"}


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b'{"identifier": ', "application/json", 400, "invalid_json"),
        (b'["a list"]', "application/json", 400, "invalid_json"),
        (b'{"name": NaN}', "application/json", 400, "invalid_json"),
        (b"identifier=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"{}", "", 415, "unsupported_media_type"),
        (b'{"d": "' + b"x" * (300 * 1024) + b'"}', "application/json", 413, "too_large"),
    ],
)
async def test_a_malformed_body_is_a_clear_4xx(
    admin: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await admin.post(PROVIDERS, content=content, headers=headers)
    assert error(response, status)["code"] == code


async def test_an_unknown_provider_is_a_404(admin: httpx.AsyncClient) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await admin.request(method, f"{PROVIDERS}/nobody", json={})
        assert error(response, 404)["code"] == "provider_not_found", method


# -- update ------------------------------------------------------------------------------------


async def test_patch_changes_only_the_fields_given_and_keeps_the_secret(
    admin: httpx.AsyncClient,
) -> None:
    created = await create(admin)
    response = await admin.patch(
        f"{PROVIDERS}/okta-prod", json={"name": "Okta", "scopes": "openid,groups"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Okta"
    assert body["button_text"] == "Login with Okta"  # a default text follows the name
    assert body["scopes"] == ["openid", "groups"]
    assert body["client_secret_set"] is True
    assert body["client_id"] == created["client_id"]
    assert body["version"] == created["version"] + 1
    assert response.headers["etag"] == f'"{body["version"]}"'


async def test_what_was_read_can_be_sent_back(admin: httpx.AsyncClient) -> None:
    created = await create(admin)
    response = await admin.patch(f"{PROVIDERS}/okta-prod", json={**created, "description": "x"})
    assert response.status_code == 200, response.text
    assert response.json()["description"] == "x"


async def test_a_stale_version_is_a_409_and_changes_nothing(admin: httpx.AsyncClient) -> None:
    created = await create(admin)
    first = await admin.patch(
        f"{PROVIDERS}/okta-prod", json={"name": "First", "version": created["version"]}
    )
    assert first.status_code == 200
    stale = await admin.patch(
        f"{PROVIDERS}/okta-prod", json={"name": "Second", "version": created["version"]}
    )
    assert error(stale, 409)["code"] == "version_conflict"
    by_header = await admin.patch(
        f"{PROVIDERS}/okta-prod", json={"name": "Third"}, headers={"If-Match": '"1"'}
    )
    assert error(by_header, 409)["code"] == "version_conflict"
    assert (await admin.get(f"{PROVIDERS}/okta-prod")).json()["name"] == "First"
    current = first.headers["etag"]
    fresh = await admin.patch(
        f"{PROVIDERS}/okta-prod", json={"name": "Fourth"}, headers={"If-Match": current}
    )
    assert fresh.status_code == 200 and fresh.json()["name"] == "Fourth"


async def test_a_malformed_or_contradictory_version_is_refused(admin: httpx.AsyncClient) -> None:
    await create(admin)
    url = f"{PROVIDERS}/okta-prod"
    body = error(await admin.patch(url, json={"version": "one"}), 422)
    assert body["field_codes"] == {"version": "invalid_type"}
    body = error(await admin.patch(url, json={"name": "x"}, headers={"If-Match": "abc"}), 422)
    assert body["field_codes"] == {"If-Match": "invalid_version"}
    contradictory = await admin.patch(url, json={"version": 1}, headers={"If-Match": '"2"'})
    assert error(contradictory, 400)["code"] == "invalid_version"


async def test_the_identifier_cannot_be_renamed(admin: httpx.AsyncClient) -> None:
    await create(admin)
    body = error(await admin.patch(f"{PROVIDERS}/okta-prod", json={"identifier": "okta"}), 422)
    assert body["field_codes"] == {"identifier": "identifier_immutable"}


async def test_enable_and_disable(admin: httpx.AsyncClient) -> None:
    await create(admin)
    disabled = await admin.post(f"{PROVIDERS}/okta-prod/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    enabled = await admin.post(f"{PROVIDERS}/okta-prod/enable")
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    stale = await admin.post(f"{PROVIDERS}/okta-prod/disable", headers={"If-Match": '"1"'})
    assert error(stale, 409)["code"] == "version_conflict"
    assert error(await admin.post(f"{PROVIDERS}/nobody/enable"), 404)["code"] == (
        "provider_not_found"
    )


# -- delete ------------------------------------------------------------------------------------


def link_users(db: Database, identifier: str, count: int) -> list[int]:
    with db.transaction() as session:
        provider = session.exec(
            select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        ).one()
        assert provider.id is not None
        users = [User(username=f"user{n}") for n in range(count)]
        session.add_all(users)
        session.flush()
        for user in users:
            assert user.id is not None
            session.add(
                FederatedIdentity(
                    user_id=user.id,
                    provider_id=provider.id,
                    issuer="https://company.okta.com",
                    subject=f"sub-{user.id}",
                )
            )
        return [user.id for user in users if user.id is not None]


async def test_delete_without_linked_users(admin: httpx.AsyncClient) -> None:
    await create(admin)
    response = await admin.delete(f"{PROVIDERS}/okta-prod")
    assert response.status_code == 200
    assert response.json() == {"deleted": "okta-prod", "unlinked_users": 0}
    assert error(await admin.get(f"{PROVIDERS}/okta-prod"), 404)["code"] == "provider_not_found"


async def test_delete_with_linked_users_needs_confirmation_and_keeps_the_users(
    admin: httpx.AsyncClient, db: Database
) -> None:
    await create(admin)
    user_ids = link_users(db, "okta-prod", 2)
    refused = error(await admin.delete(f"{PROVIDERS}/okta-prod"), 409)
    assert refused["code"] == "confirmation_required"
    assert refused["linked_users"] == 2
    assert "2 users" in refused["message"]
    assert (await admin.get(f"{PROVIDERS}/okta-prod")).status_code == 200
    not_confirmed = await admin.delete(f"{PROVIDERS}/okta-prod?confirm=false")
    assert error(not_confirmed, 409)["code"] == "confirmation_required"

    response = await admin.delete(f"{PROVIDERS}/okta-prod?confirm=true")
    assert response.status_code == 200
    assert response.json() == {"deleted": "okta-prod", "unlinked_users": 2}
    with db.transaction() as session:
        assert sorted(u.id for u in session.exec(select(User)).all()) == sorted(user_ids)
        assert session.exec(select(FederatedIdentity)).all() == []


@pytest.mark.parametrize(
    ("query", "code"),
    [("confirm=maybe", "invalid_parameter"), ("confrim=true", "unknown_parameter")],
)
async def test_a_bad_delete_parameter_is_refused_and_deletes_nothing(
    admin: httpx.AsyncClient, query: str, code: str
) -> None:
    await create(admin)
    assert error(await admin.delete(f"{PROVIDERS}/okta-prod?{query}"), 400)["code"] == code
    assert (await admin.get(f"{PROVIDERS}/okta-prod")).status_code == 200


async def test_delete_with_a_stale_version_is_refused(admin: httpx.AsyncClient) -> None:
    await create(admin)
    await admin.post(f"{PROVIDERS}/okta-prod/disable")
    stale = await admin.delete(f"{PROVIDERS}/okta-prod", headers={"If-Match": '"1"'})
    assert error(stale, 409)["code"] == "version_conflict"
    assert (await admin.get(f"{PROVIDERS}/okta-prod")).status_code == 200


# -- logo --------------------------------------------------------------------------------------


async def test_a_logo_is_uploaded_served_publicly_and_removed(
    admin: httpx.AsyncClient, admin_token: str
) -> None:
    await create(admin)
    logo_url = f"{PROVIDERS}/okta-prod/logo"
    response = await admin.put(logo_url, content=png(), headers={"content-type": "image/png"})
    assert response.status_code == 200, response.text
    assert response.json()["logo_url"] == "http://testserver" + logo_url
    assert response.json()["version"] == 2

    del admin.headers["Authorization"]  # the login page fetches it without a token
    served = await admin.get(logo_url)
    assert served.status_code == 200
    assert served.content == png()
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in served.headers["content-security-policy"]

    admin.headers["Authorization"] = f"Bearer {admin_token}"
    removed = await admin.delete(logo_url)
    assert removed.status_code == 200 and removed.json()["logo_url"] is None
    assert error(await admin.get(logo_url), 404)["code"] == "logo_not_found"


async def test_an_svg_logo_is_sanitised_and_cannot_run_script(admin: httpx.AsyncClient) -> None:
    await create(admin)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" onload="alert(1)">'
        b'<script>alert(2)</script><circle cx="32" cy="32" r="30" fill="#09f"/></svg>'
    )
    response = await admin.post(
        f"{PROVIDERS}/okta-prod/logo", content=svg, headers={"content-type": "image/svg+xml"}
    )
    assert response.status_code == 200, response.text
    served = await admin.get(f"{PROVIDERS}/okta-prod/logo")
    assert served.headers["content-type"].startswith("image/svg+xml")
    assert b"<circle" in served.content
    assert b"script" not in served.content and b"onload" not in served.content
    assert "sandbox" in served.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"GIF89a....", "image/png", 422, "logo_unsupported_type"),
        (PNG_SIGNATURE + b"broken", "image/png", 422, "logo_invalid"),
        (b"<html><body>hi</body></html>", "image/svg+xml", 422, "logo_invalid"),
        (png(), "text/plain", 415, "unsupported_media_type"),
        (png(), "", 415, "unsupported_media_type"),
        (b"\x89PNG" + b"\x00" * MAX_LOGO_BYTES, "image/png", 413, "logo_too_large"),
    ],
)
async def test_a_bad_logo_is_refused_and_the_old_one_kept(
    admin: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    await create(admin)
    logo_url = f"{PROVIDERS}/okta-prod/logo"
    await admin.put(logo_url, content=png(), headers={"content-type": "image/png"})
    headers = {"content-type": content_type} if content_type else {}
    response = await admin.put(logo_url, content=content, headers=headers)
    assert error(response, status)["code"] == code
    assert (await admin.get(logo_url)).content == png()


async def test_a_logo_for_an_unknown_provider_is_a_404(admin: httpx.AsyncClient) -> None:
    response = await admin.put(
        f"{PROVIDERS}/nobody/logo", content=png(), headers={"content-type": "image/png"}
    )
    assert error(response, 404)["code"] == "provider_not_found"
    assert error(await admin.get(f"{PROVIDERS}/nobody/logo"), 404)["code"] == "logo_not_found"
