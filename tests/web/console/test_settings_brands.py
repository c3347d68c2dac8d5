"""Settings → Accounts, Brands and Plugins in the console (S1, S2, S3): the switch, the
providers offered in order (up and down without JavaScript), brand overrides and plugin
switches with a preview of the login buttons, and broken plugins with their reasons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin import hookimpl
from fedlogin.config import Config
from fedlogin.plugins import Plugins
from fedlogin.store import audit
from fedlogin.store.brands import list_brands
from fedlogin.store.database import Database
from fedlogin.store.settings import get_settings
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext

from tests.support.sign_in import add_provider
from tests.web.console.conftest import Console, field_error

SETTINGS = "/admin/settings/accounts"


def providers(ctx: AppContext, *identifiers: str, offered: Sequence[str] = ()) -> None:
    for identifier in identifiers:
        add_provider(
            ctx,
            identifier=identifier,
            issuer="https://idp.example",
            client_id="c",
            client_secret="s",
            offered=list(offered),
        )


def order_on(page: httpx.Response) -> list[str]:
    return re.findall(r'<input type="hidden" name="order" value="([^"]+)">', page.text)


def preview(page: httpx.Response) -> list[str]:
    return re.findall(r'data-preview-provider="([^"]+)"', page.text)


def version(page: httpx.Response) -> str:
    found = re.search(r'name="version" value="(\d+)"', page.text)
    assert found
    return found.group(1)


# -- Settings → Accounts ----------------------------------------------------------------------


async def test_switching_federated_login_on_and_offering_providers_in_order(
    console: Console, context: AppContext, db: Database, client: httpx.AsyncClient
) -> None:
    providers(context, "alpha", "beta", "gamma")
    with db.transaction() as session:
        from fedlogin.store.settings import update_settings

        update_settings(session, {"federated_login_enabled": False}, actor="t")
    page = await console.get(SETTINGS)
    assert order_on(page) == ["alpha", "beta", "gamma"]
    assert "Federated login is off here" in page.text
    form = {
        "federated_login_enabled": "on",
        "order": ["alpha", "beta", "gamma"],
        "offered": ["gamma", "alpha"],
        "version": version(page),
    }
    # Down on alpha: the page comes back with the new order, nothing saved yet.
    moved = await console.post(SETTINGS, {**form, "move": "down:alpha"})
    assert moved.status_code == 200
    assert order_on(moved) == ["beta", "alpha", "gamma"]
    assert "Save to apply it" in moved.text
    with db.session() as session:
        assert get_settings(session).federated_login_enabled is False
    moved = await console.post(SETTINGS, {**form, "order": order_on(moved), "move": "up:gamma"})
    assert order_on(moved) == ["beta", "gamma", "alpha"]
    saved = await console.post(SETTINGS, {**form, "order": order_on(moved)})
    assert saved.headers["location"] == SETTINGS + "?done=saved"
    with db.session() as session:
        stored = get_settings(session)
        (entry,) = [
            e for e in audit.entries(session) if e.actor == "root" and e.action == "settings.update"
        ]
    assert stored.federated_login_enabled is True
    assert stored.identity_providers == ["gamma", "alpha"]
    assert entry.after == {
        "federated_login_enabled": True,
        "identity_providers": ["gamma", "alpha"],
    }
    page = await console.get(SETTINGS + "?done=saved")
    assert "Your settings were saved." in page.text
    assert order_on(page) == ["gamma", "alpha", "beta"]  # offered first, in order
    assert preview(page) == ["gamma", "alpha"]
    login = await client.get("/login")
    assert re.findall(r'data-provider="([^"]+)"', login.text) == ["gamma", "alpha"]


async def test_settings_changed_meanwhile_are_not_overwritten(
    console: Console, context: AppContext, db: Database
) -> None:
    providers(context, "alpha", offered=["alpha"])
    page = await console.get(SETTINGS)
    with db.transaction() as session:
        from fedlogin.store.settings import update_settings

        update_settings(session, {"identity_providers": []}, actor="other")
    response = await console.post(
        SETTINGS, {"order": ["alpha"], "offered": ["alpha"], "version": version(page)}
    )
    assert response.status_code == 409
    assert "changed by someone else" in response.text
    with db.session() as session:
        stored = get_settings(session)
    assert (stored.federated_login_enabled, stored.identity_providers) == (True, [])


async def test_an_unknown_provider_is_refused_with_its_name(
    console: Console, context: AppContext
) -> None:
    providers(context, "alpha")
    page = await console.get(SETTINGS)
    response = await console.post(
        SETTINGS,
        {"order": ["alpha", "ghost"], "offered": ["alpha", "ghost"], "version": version(page)},
    )
    assert response.status_code == 422
    assert "No identity provider is named &#39;ghost&#39;." in response.text


# -- Brands -----------------------------------------------------------------------------------


async def test_a_brand_switching_a_plugin_off_hides_its_providers_in_the_preview_and_login(
    console: Console, context: AppContext, db: Database, client: httpx.AsyncClient
) -> None:
    providers(context, "corp", offered=["corp"])
    with db.transaction() as session:
        from fedlogin.store.providers import IdentityProviders

        IdentityProviders(session, context.plugins, context.secrets, actor="t").create(
            {
                "identifier": "goog",
                "name": "Google",
                "preset": "google",
                "client_id": "g",
                "client_secret": "s",
            }
        )
        from fedlogin.store.settings import update_settings

        update_settings(session, {"identity_providers": ["goog", "corp"]}, actor="t")
    page = await console.get("/admin/brands/new")
    assert 'name="disabled_plugins" value="google"' in page.text
    response = await console.post(
        "/admin/brands/new",
        {
            "name": "Acme",
            "hosts": "login.acme.example\nACME.example:8443",
            "mode": "inherit",
            "order": ["goog", "corp"],
            "disabled_plugins": ["google"],
        },
    )
    assert response.status_code == 303
    with db.session() as session:
        (brand,) = list_brands(session)
        (entry,) = [e for e in audit.entries(session) if e.action == "brand.create"]
    assert brand.hosts == ["login.acme.example", "acme.example:8443"]
    assert (brand.inherit, brand.disabled_plugins) == (True, ["google"])
    assert entry.actor == "root"
    page = await console.get(response.headers["location"])
    assert "The brand was added." in page.text
    assert preview(page) == ["corp"]
    listed = await console.get("/admin/brands")
    assert "Login with Corp" in listed.text and "google" in listed.text
    platform = await client.get("/login")
    assert re.findall(r'data-provider="([^"]+)"', platform.text) == ["goog", "corp"]
    acme = await client.get("/login", headers={"host": "login.acme.example"})
    assert re.findall(r'data-provider="([^"]+)"', acme.text) == ["corp"]


async def test_a_brand_overriding_offers_its_own_providers(
    console: Console, context: AppContext, db: Database
) -> None:
    providers(context, "corp", "partner", offered=["corp"])
    response = await console.post(
        "/admin/brands/new",
        {
            "name": "Partner",
            "hosts": "partner.example",
            "mode": "override",
            "federated_login_enabled": "on",
            "order": ["partner", "corp"],
            "offered": ["partner"],
        },
    )
    assert response.status_code == 303
    page = await console.get(response.headers["location"])
    assert preview(page) == ["partner"]
    with db.session() as session:
        (brand,) = list_brands(session)
    assert (brand.inherit, brand.identity_providers) == (False, ["partner"])


async def test_a_refused_brand_keeps_what_was_typed(console: Console, db: Database) -> None:
    response = await console.post(
        "/admin/brands/new", {"name": "", "hosts": "not a host!", "mode": "override"}
    )
    assert response.status_code == 422
    assert field_error(response, "f-name") == "Name is required."
    assert "is not a host name" in (field_error(response, "f-hosts") or "")
    assert ">not a host!</textarea>" in response.text
    assert 'id="mode-override" value="override" checked' in response.text
    with db.session() as session:
        assert list_brands(session) == []


async def test_editing_and_deleting_a_brand_with_version_locking(
    console: Console, db: Database
) -> None:
    created = await console.post("/admin/brands/new", {"name": "Acme", "hosts": "acme.example"})
    path = created.headers["location"].split("?")[0]
    page = await console.get(path)
    loaded = version(page)
    saved = await console.post(
        path, {"name": "Acme Corp", "hosts": "acme.example", "version": loaded}
    )
    assert saved.headers["location"] == path + "?done=saved"
    stale = await console.post(path, {"name": "Stale", "hosts": "acme.example", "version": loaded})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    unconfirmed = await console.post(
        path + "/delete", {"version": version(await console.get(path))}
    )
    assert unconfirmed.status_code == 409
    assert "Tick the box" in unconfirmed.text
    deleted = await console.post(
        path + "/delete", {"version": version(await console.get(path)), "confirm": "true"}
    )
    assert deleted.headers["location"] == "/admin/brands?done=deleted"
    with db.session() as session:
        assert list_brands(session) == []
        actions = [e.action for e in audit.entries(session, target_type="brand")]
    assert actions == ["brand.delete", "brand.update", "brand.create"]


# -- Plugins ----------------------------------------------------------------------------------


class _BrokenPlugin:
    """A plugin whose presets hook raises: left out and reported."""

    @hookimpl
    def fedlogin_presets(self) -> list[object]:
        raise RuntimeError("cannot reach the catalogue")


@pytest.fixture
def broken_context(tmp_path: Path, db: Database) -> AppContext:
    plugin = _BrokenPlugin()
    config = Config(
        data_dir=tmp_path, secret_key=Fernet.generate_key().decode(), base_url="http://testserver"
    )
    return AppContext.create(
        config, database=db, plugins=Plugins.load(disabled=("okta",), extra={"shaky": plugin})
    )


async def test_the_plugins_page_lists_versions_presets_and_broken_plugins(
    broken_context: AppContext, admin_token: str
) -> None:
    transport = httpx.ASGITransport(app=create_app(broken_context))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        console = Console(client)
        assert (await console.sign_in()).status_code == 303
        page = await console.get("/admin/plugins")
    await broken_context.close()
    row = re.search(r'<tr data-plugin="shaky" data-status="broken">(.*?)</tr>', page.text, re.S)
    assert row and "raised in fedlogin_presets: RuntimeError: cannot reach the catalogue" in row[1]
    assert "1 plugin is broken and left out" in page.text
    assert re.search(r'<tr data-plugin="okta" data-status="disabled">', page.text)
    google = re.search(r'<tr data-plugin="google" data-status="ok">(.*?)</tr>', page.text, re.S)
    assert google and "fedlogin-google" in google[1] and "<code>google</code>" in google[1]
