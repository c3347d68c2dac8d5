"""``/api/v1/presets`` and the rules every API route shares (authentication, error shape)."""

from __future__ import annotations

import httpx


async def test_the_api_refuses_a_call_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/presets")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "unauthenticated"
    assert "Bearer" in error["message"]
    # RFC 6750: the challenge names the scheme, and no error since no token was sent.
    assert response.headers["www-authenticate"] == 'Bearer realm="fedlogin"'


async def test_the_api_refuses_an_unknown_token(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v1/presets", headers={"Authorization": "Bearer fl_not-a-real-token"}
    )
    assert response.status_code == 401
    assert "not valid" in response.json()["error"]["message"]
    challenge = response.headers["www-authenticate"]
    assert challenge == 'Bearer realm="fedlogin", error="invalid_token"'


async def test_presets_lists_every_installed_plugin_preset(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/api/v1/presets")
    assert response.status_code == 200
    presets = {p["name"]: p for p in response.json()["presets"]}
    assert {"google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc"} <= set(presets)
    assert presets["google"]["plugin"] == "google"
    assert presets["google"]["display_name"] == "Google"


async def test_a_preset_shows_its_defaults_fields_and_setup_guide(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get("/api/v1/presets/azure-ad")
    assert response.status_code == 200
    body = response.json()
    assert body["defaults"]["scopes"] == ["openid", "profile", "email"]
    assert "tenant" in [field["name"] for field in body["fields"]]
    guide = body["setup_guide"]
    assert guide["steps"]
    assert guide["callback_url"] == "http://testserver/auth/callback/{identifier}"
    assert any("xms_edov" in note for note in guide["notes"])


async def test_an_unknown_preset_is_a_404_with_a_stable_code(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/api/v1/presets/no-such-preset")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_preset"


async def test_a_preset_logo_is_served_so_it_cannot_run_script(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/presets/google/logo")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in response.headers["content-security-policy"]
