"""Identity Providers in the console (issue 6, point 1): the preset picker, the form with the
preset's defaults and setup guide, field errors that keep what was typed, the masked secret,
the logo, version locking, enable/disable and delete — each change audited as the API's."""

from __future__ import annotations

import re
from datetime import UTC

import httpx
import pytest
from fedlogin.store import audit
from fedlogin.store.database import Database
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, StoredLogo, User
from fedlogin.web.context import AppContext
from markupsafe import escape
from sqlmodel import select

from tests.web.console.conftest import Console, field_error, field_value
from tests.web.test_api_providers import png

NEW = "/admin/identity-providers/new"
SECRET = "console-secret-value-7f3a"


def form(**fields: str) -> dict[str, str]:
    """A complete generic-oidc form, as the browser posts it (checkboxes: present = on)."""
    values = {
        "identifier": "corp",
        "name": "Corp SSO",
        "description": "",
        "type": "oidc",
        "enabled": "on",
        "domain": "sso.corp.example",
        "client_id": "corp-client",
        "client_secret": SECRET,
        "auth_method": "client_secret_post",
        "scopes": "openid profile email",
        "provisioning_mode": "auto_provision",
        "allowed_domains": "",
        "email_trust_mode": "verify_with_claim",
        "button_text": "",
        "attribute_mapping.username": "preferred_username",
        "attribute_mapping.email": "email",
        "attribute_mapping.name": "name",
        "attribute_mapping.picture": "picture",
        "attribute_mapping.website": "website",
        "attribute_mapping.company": "organization",
        "attribute_mapping.location": "locale",
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


def stored(db: Database, identifier: str = "corp") -> IdentityProvider:
    with db.session() as session:
        row = session.exec(
            select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        ).one()
        session.expunge(row)
        return row


def edit_form(page: httpx.Response) -> dict[str, str]:
    """The edit page's form as the browser would post it, unchanged."""
    names = set(re.findall(r'<(?:input|textarea|select)\b[^>]*\bname="([^"]+)"', page.text))
    values: dict[str, str] = {}
    for name in names - {"csrf_token", "action", "logo", "remove_logo", "back", "confirm"}:
        value = field_value(page, name)
        if value is not None:
            values[name] = value
    for name in ("auth_method", "provisioning_mode", "email_trust_mode"):
        checked = re.search(rf'name="{name}"[^>]*value="([^"]+)" checked', page.text)
        assert checked, name
        values[name] = checked.group(1)
    description = re.search(r'name="description"[^>]*>(.*?)</textarea>', page.text, re.S)
    values["description"] = description.group(1) if description else ""
    values["type"] = "oidc"
    if not re.search(r'name="enabled" value="on" checked', page.text):
        values.pop("enabled", None)
    values.pop("version", None)
    return values


async def create(console: Console, **fields: str) -> httpx.Response:
    await console.get(NEW + "?preset=generic-oidc")
    return await console.post(NEW + "?preset=generic-oidc", form(**fields))


# -- the picker and the new form --------------------------------------------------------------


async def test_the_picker_offers_every_installed_preset_with_logo_and_description(
    console: Console, context: AppContext
) -> None:
    page = await console.get(NEW)
    for preset in context.plugins.presets():
        assert f'data-preset="{preset.id}"' in page.text
        assert f'src="/api/v1/presets/{preset.id}/logo"' in page.text
        assert escape(preset.description) in page.text
    assert 'href="/admin/identity-providers/new?preset=azure-ad"' in page.text


async def test_the_form_starts_from_the_presets_defaults_and_shows_its_setup_guide(
    console: Console, context: AppContext
) -> None:
    page = await console.get(NEW + "?preset=azure-ad")
    for section in (
        "Basic Information",
        "OIDC Configuration",
        "User Provisioning",
        "Display Options",
        "Attribute Mapping",
    ):
        assert f"<legend>{section}</legend>" in page.text
    assert field_value(page, "identifier") == "azure-ad"
    assert field_value(page, "preset_options.tenant") == "common"
    assert field_value(page, "domain") == "login.microsoftonline.com/common/v2.0"
    assert field_value(page, "scopes") == "openid profile email"
    assert field_value(page, "attribute_mapping.company") == "organization"
    guide = context.plugins.setup_guide("azure-ad")
    assert all(escape(step) in page.text for step in guide.steps)
    assert "Setup guide: Microsoft" in page.text
    # The Callback URL: read-only, the platform's URL, with a copy button.
    assert re.search(
        r'<input id="callback-url" type="text" value="http://testserver/auth/callback/azure-ad"'
        r" readonly",
        page.text,
    )
    assert 'data-copy="callback-url"' in page.text
    assert 'name="client_secret" type="password" value=""' in page.text


async def test_an_unknown_preset_is_a_clear_page(console: Console) -> None:
    page = await console.get(NEW + "?preset=nope", status=404)
    assert "No installed and enabled plugin provides the preset" in page.text


# -- create -----------------------------------------------------------------------------------


async def test_adding_a_provider_stores_it_audited_with_the_secret_encrypted(
    console: Console, db: Database, context: AppContext
) -> None:
    response = await create(console, allowed_domains="corp.example, @sub.corp.example")
    assert response.status_code == 303
    assert response.headers["location"] == ("/admin/identity-providers/corp/edit?done=created")
    row = stored(db)
    assert (row.name, row.domain, row.client_id, row.preset) == (
        "Corp SSO",
        "sso.corp.example",
        "corp-client",
        "generic-oidc",
    )
    assert row.allowed_domains == ["corp.example", "sub.corp.example"]
    assert row.button_text == "Login with Corp SSO"
    assert SECRET not in (row.client_secret_encrypted or "")
    with db.session() as session:
        service = IdentityProviders(session, context.plugins, context.secrets, actor="t")
        secret = service.client_secret(service.get("corp"))
        assert secret is not None and secret.reveal() == SECRET
        (entry,) = [e for e in audit.entries(session) if e.action == "identity_provider.create"]
    assert entry.actor == "root" and entry.target_id == "corp"
    assert entry.after is not None and entry.after["client_secret"] == "set"
    page = await console.get(response.headers["location"])
    assert "The identity provider was added." in page.text
    assert SECRET not in page.text


async def test_a_refused_form_comes_back_with_every_value_typed_and_the_errors_beside_them(
    console: Console, db: Database
) -> None:
    response = await create(
        console,
        identifier="Not Valid",
        name="",
        scopes="profile email",
        allowed_domains="not a domain!",
        **{"attribute_mapping.email": "mail", "description": "kept notes"},
    )
    assert response.status_code == 422
    # Four fields, and the secret that must be typed again.
    assert "Nothing was saved: 5 fields need attention." in response.text
    assert field_error(
        response,
        "f-identifier",
    ).startswith("Identifier may contain only")
    assert field_error(response, "f-name") == "Name is required."
    assert field_error(response, "f-scopes") == "Scopes must include openid (required for OIDC)."
    assert "not valid" in (field_error(response, "f-allowed_domains") or "")
    assert 'id="f-identifier" name="identifier" type="text" value="Not Valid"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert field_value(response, "scopes") == "profile email"
    assert field_value(response, "attribute_mapping.email") == "mail"
    assert "kept notes" in response.text
    # The secret is never sent back into a page: the admin is told to type it again.
    assert SECRET not in response.text
    assert "type it again" in (field_error(response, "f-client_secret") or "")
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).first() is None


async def test_an_identifier_in_use_is_a_field_error(console: Console) -> None:
    assert (await create(console)).status_code == 303
    again = await create(console, name="Another")
    assert again.status_code == 422
    assert "already used by another identity provider" in (field_error(again, "f-identifier") or "")


async def test_a_new_azure_provider_takes_its_domain_from_the_tenant_field(
    console: Console, db: Database
) -> None:
    page = await console.get(NEW + "?preset=azure-ad")
    values = form(identifier="entra", name="Entra", domain=field_value(page, "domain") or "")
    values["preset_options.tenant"] = "contoso.onmicrosoft.com"
    values["preset_options.allowed_tenants"] = ""
    values["preset_options.domain_hint"] = ""
    response = await console.post(NEW + "?preset=azure-ad", values)
    assert response.status_code == 303, response.text[:3000]
    row = stored(db, "entra")
    assert row.domain == "login.microsoftonline.com/contoso.onmicrosoft.com/v2.0"


async def test_a_logo_uploaded_with_the_form_is_stored_and_shown(
    console: Console, db: Database, client: httpx.AsyncClient
) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    response = await console.post(
        NEW + "?preset=generic-oidc",
        form(),
        files={"logo": ("logo.png", png(), "image/png")},
    )
    assert response.status_code == 303
    row = stored(db)
    assert row.logo_id is not None
    page = await console.get("/admin/identity-providers/corp/edit")
    assert f'src="/api/v1/identity-providers/corp/logo?v={row.logo_id}"' in page.text
    served = await client.get("/api/v1/identity-providers/corp/logo")
    assert served.content == png()


async def test_a_bad_logo_saves_nothing_and_a_good_one_survives_a_refused_form(
    console: Console, db: Database
) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    bad = await console.post(
        NEW + "?preset=generic-oidc",
        form(),
        files={"logo": ("logo.png", b"GIF89a not a png", "image/png")},
    )
    assert bad.status_code == 422
    assert field_error(bad, "f-logo") == "The logo must be a PNG, JPEG or SVG image."
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).first() is None
    # A valid logo with another field wrong: kept (and previewed) for the next save.
    refused = await console.post(
        NEW + "?preset=generic-oidc",
        form(name=""),
        files={"logo": ("logo.png", png(), "image/png")},
    )
    assert refused.status_code == 422
    pending = field_value(refused, "logo_pending")
    assert pending
    assert 'src="data:image/png;base64,' in refused.text
    saved = await console.post(NEW + "?preset=generic-oidc", {**form(), "logo_pending": pending})
    assert saved.status_code == 303
    with db.session() as session:
        row = session.exec(select(IdentityProvider)).one()
        assert row.logo_id is not None
        logo = session.get(StoredLogo, row.logo_id)
        assert logo is not None and logo.data == png()


# -- edit -------------------------------------------------------------------------------------


async def test_editing_changes_only_what_was_changed_and_a_blank_secret_keeps_the_stored_one(
    console: Console, db: Database, context: AppContext
) -> None:
    await create(console)
    before = stored(db)
    page = await console.get("/admin/identity-providers/corp/edit")
    assert "A secret is stored (encrypted; it is never shown)" in page.text
    assert SECRET not in page.text
    values = {**edit_form(page), "name": "Corp Login", "client_secret": ""}
    response = await console.post(
        "/admin/identity-providers/corp/edit", {**values, "version": str(before.version)}
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("?done=saved")
    after = stored(db)
    assert after.name == "Corp Login"
    assert after.button_text == "Login with Corp Login"  # the default text follows the name
    assert after.client_secret_encrypted == before.client_secret_encrypted
    assert after.version == before.version + 1
    with db.session() as session:
        (entry,) = [e for e in audit.entries(session) if e.action == "identity_provider.update"]
    assert entry.actor == "root"
    assert entry.after == {"name": "Corp Login", "button_text": "Login with Corp Login"}


async def test_saving_an_unchanged_form_changes_nothing(console: Console, db: Database) -> None:
    await create(console)
    before = stored(db)
    page = await console.get("/admin/identity-providers/corp/edit")
    response = await console.post(
        "/admin/identity-providers/corp/edit",
        {**edit_form(page), "client_secret": "", "version": str(before.version)},
    )
    assert response.headers["location"].endswith("?done=unchanged")
    assert stored(db).version == before.version


async def test_a_change_made_meanwhile_is_not_overwritten(
    console: Console, db: Database, context: AppContext
) -> None:
    await create(console)
    page = await console.get("/admin/identity-providers/corp/edit")
    loaded = stored(db).version
    with db.transaction() as session:
        IdentityProviders(session, context.plugins, context.secrets, actor="other").update(
            "corp", {"description": "changed by another admin"}
        )
    response = await console.post(
        "/admin/identity-providers/corp/edit",
        {**edit_form(page), "name": "Mine", "client_secret": "", "version": str(loaded)},
    )
    assert response.status_code == 409
    assert "was changed by someone else" in response.text
    assert "Reload the current settings" in response.text
    assert field_value(response, "name") == "Mine"  # what was typed is still there
    row = stored(db)
    assert (row.name, row.description) == ("Corp SSO", "changed by another admin")


async def test_an_azure_tenant_edited_moves_the_domain_with_it(
    console: Console, db: Database
) -> None:
    page = await console.get(NEW + "?preset=azure-ad")
    values = form(identifier="entra", name="Entra", domain=field_value(page, "domain") or "")
    values.update(
        {
            "preset_options.tenant": "common",
            "preset_options.allowed_tenants": "",
            "preset_options.domain_hint": "",
        }
    )
    assert (await console.post(NEW + "?preset=azure-ad", values)).status_code == 303
    page = await console.get("/admin/identity-providers/entra/edit")
    edited = {**edit_form(page), "preset_options.tenant": "organizations", "client_secret": ""}
    response = await console.post(
        "/admin/identity-providers/entra/edit",
        {**edited, "version": str(stored(db, "entra").version)},
    )
    assert response.status_code == 303, response.text[:3000]
    assert stored(db, "entra").domain == "login.microsoftonline.com/organizations/v2.0"


async def test_the_uploaded_logo_can_be_removed(console: Console, db: Database) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    await console.post(
        NEW + "?preset=generic-oidc", form(), files={"logo": ("l.png", png(), "image/png")}
    )
    page = await console.get("/admin/identity-providers/corp/edit")
    assert 'name="remove_logo"' in page.text
    response = await console.post(
        "/admin/identity-providers/corp/edit",
        {
            **edit_form(page),
            "client_secret": "",
            "remove_logo": "on",
            "version": str(stored(db).version),
        },
    )
    assert response.status_code == 303
    assert stored(db).logo_id is None


# -- enable, disable, delete ------------------------------------------------------------------


async def test_disable_and_enable_from_the_list(console: Console, db: Database) -> None:
    await create(console)
    page = await console.get("/admin/identity-providers")
    assert 'action="/admin/identity-providers/corp/disable"' in page.text
    version = str(stored(db).version)
    response = await console.post("/admin/identity-providers/corp/disable", {"version": version})
    assert response.headers["location"] == "/admin/identity-providers?done=disabled"
    assert stored(db).enabled is False
    stale = await console.post("/admin/identity-providers/corp/enable", {"version": version})
    assert stale.status_code == 409
    assert "changed by someone else" in stale.text
    fresh = str(stored(db).version)
    await console.post("/admin/identity-providers/corp/enable", {"version": fresh})
    assert stored(db).enabled is True
    with db.session() as session:
        actions = [e.action for e in audit.entries(session) if e.actor == "root"]
    assert actions.count("identity_provider.update") == 2


async def test_deleting_a_provider_with_linked_users_needs_the_confirmation(
    console: Console, db: Database
) -> None:
    await create(console)
    row = stored(db)
    with db.transaction() as session:
        user = User(username="linked")
        session.add(user)
        session.flush()
        assert user.id is not None and row.id is not None
        session.add(
            FederatedIdentity(
                user_id=user.id, provider_id=row.id, issuer="https://sso.corp.example", subject="s"
            )
        )
    page = await console.get("/admin/identity-providers/corp/delete")
    assert "1 user is linked to it." in page.text
    assert 'name="confirm" value="true" required' in page.text
    unconfirmed = await console.post(
        "/admin/identity-providers/corp/delete", {"version": str(row.version)}
    )
    assert unconfirmed.status_code == 409
    assert "Confirm to delete it." in unconfirmed.text
    assert stored(db).id == row.id
    confirmed = await console.post(
        "/admin/identity-providers/corp/delete",
        {"version": str(row.version), "confirm": "true"},
    )
    assert confirmed.headers["location"] == "/admin/identity-providers?done=deleted"
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).first() is None
        assert session.exec(select(User)).one().username == "linked"
        (entry,) = [e for e in audit.entries(session) if e.action == "identity_provider.delete"]
    assert entry.actor == "root"
    assert entry.after is not None and entry.after["unlinked_users"] == 1


async def test_the_list_shows_each_providers_last_sign_ins(console: Console, db: Database) -> None:
    from datetime import datetime

    from fedlogin.signin import events

    await create(console)
    with db.transaction() as session:
        ok = events.record(session, provider_identifier="corp", outcome="success")
        ok.at = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
        bad = events.record(
            session,
            provider_identifier="corp",
            outcome="refused",
            step="token",
            code="invalid_client",
        )
        bad.at = datetime(2030, 1, 3, 5, 6, tzinfo=UTC)
    page = await console.get("/admin/identity-providers")
    row = re.search(r'<tr data-provider-row="corp">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert "2030-01-02 03:04 UTC" in row.group(1)
    assert "2030-01-03 05:06 UTC" in row.group(1)
    assert "Corp SSO" in row.group(1) and "OpenID Connect" in row.group(1)


async def test_trust_idp_on_microsoft_is_warned_about_and_brand_hosts_get_their_callback_urls(
    console: Console, db: Database
) -> None:
    from fedlogin.store.brands import create_brand

    with db.transaction() as session:
        create_brand(session, {"name": "Acme", "hosts": ["login.acme.example"]}, actor="t")
    page = await console.get(NEW + "?preset=azure-ad")
    assert 'data-warning="trust_idp_unverified_email"' not in page.text
    assert "http://login.acme.example/auth/callback/azure-ad" in page.text
    values = form(identifier="entra", name="Entra", email_trust_mode="trust_idp", domain="")
    values.update(
        {
            "preset_options.tenant": "common",
            "preset_options.allowed_tenants": "",
            "preset_options.domain_hint": "",
        }
    )
    assert (await console.post(NEW + "?preset=azure-ad", values)).status_code == 303
    page = await console.get("/admin/identity-providers/entra/edit")
    assert 'data-warning="trust_idp_unverified_email"' in page.text
    assert "nOAuth" in page.text


async def test_the_client_secret_is_in_no_console_page_and_no_log_line(
    console: Console, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    await create(console)
    page = await console.get("/admin/identity-providers/corp/edit")
    edited = {**edit_form(page), "client_secret": SECRET + "-2", "name": ""}  # refused
    refused = await console.post(
        "/admin/identity-providers/corp/edit", {**edited, "version": str(stored(db).version)}
    )
    assert refused.status_code == 422
    pages = [refused] + [
        await console.get(path)
        for path in (
            "/admin/identity-providers",
            "/admin/identity-providers/corp/edit",
            "/admin/identity-providers/corp/events",
            "/admin/identity-providers/corp/delete",
            "/admin/settings/accounts",
            "/admin/brands",
            "/admin/plugins",
        )
    ]
    for shown in pages:
        assert SECRET not in shown.text, shown.url
    assert SECRET not in caplog.text
