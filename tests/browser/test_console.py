"""Issue 6, point 7: the admin console and the login page in real Chromium.

An admin signs in to the console, adds a provider from a preset pointing at the real node
``oidc-provider``, tests the connection (the OP's own endpoints and keys show), offers it in
Settings → Accounts, and a user then signs in with its button; the preset picker shows the
third-party GitLab plugin; a brand that switches that plugin off hides its provider on the
brand's host. Each main page is saved as a screenshot (see ``conftest.py``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.browser.conftest import CLIENT_SECRET, Screenshots, Site, sign_in_to_console
from tests.browser.steps import (
    accessibility_problems,
    fill_provider,
    login_buttons,
    offer_providers,
    open_preset_form,
    save_new_provider,
    sign_in_at_op,
)
from tests.support.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PARTNER_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    b'<circle cx="32" cy="32" r="28" fill="#2a7d4f"/></svg>'
)


def test_admin_adds_a_provider_tests_it_offers_it_and_a_user_signs_in_with_it(
    site: Site, op: OidcProvider, admin: Any, new_page: Any, screenshots: Screenshots
) -> None:
    open_preset_form(admin, site, "OpenID Connect")
    fill_provider(admin, identifier="company-sso", name="Company SSO", domain=op.issuer)
    # The Callback URL follows the identifier typed.
    assert admin.input_value("#callback-url") == site.url("/auth/callback/company-sso")
    admin.context.grant_permissions(["clipboard-read", "clipboard-write"])
    admin.click("button[data-copy=callback-url]")
    admin.wait_for_selector("button[data-copy=callback-url]:text-is('Copied')")
    copied = admin.evaluate("navigator.clipboard.readText()")
    assert copied == site.url("/auth/callback/company-sso")

    admin.click("#test-connection")
    result = admin.wait_for_selector("#connection-result[data-ok=true]")
    discovery = httpx.get(op.discovery_url, trust_env=False).json()
    keys = httpx.get(discovery["jwks_uri"], trust_env=False).json()["keys"]
    assert admin.url.endswith("/admin/identity-providers/new?preset=generic-oidc")  # same page
    shown = {
        name: admin.inner_text(f"#connection-result [data-report={name}]")
        for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    }
    assert shown == {name: discovery[name] for name in shown}
    assert admin.inner_text("[data-report=jwks_key_count]") == str(len(keys))
    algorithms = admin.inner_text("[data-report=signing_algorithms]").split(", ")
    assert algorithms == discovery["id_token_signing_alg_values_supported"]
    assert result.is_visible()
    screenshots.take(admin, "provider-form-test-connection")

    save_new_provider(admin, "company-sso")
    assert "The identity provider was added." in admin.inner_text(".notice")
    assert CLIENT_SECRET not in admin.content()

    offer_providers(admin, site, "company-sso")
    preview = admin.inner_text(".login-preview")
    assert "Login with Company SSO" in preview

    user = new_page()
    user.goto(site.url("/login"))
    assert "company-sso" in login_buttons(user)
    screenshots.take(user, "login")
    user.click("button[data-provider=company-sso]")
    sign_in_at_op(user, "alice")
    user.wait_for_url(site.url("/account") + "**")
    assert "alice" in user.inner_text("main")

    admin.goto(site.url("/admin/identity-providers/company-sso/events"))
    event = admin.wait_for_selector(".event.success")
    assert "alice@example.com" in event.inner_text()
    assert admin.inner_text("table.mapped tr[data-field=email] td:last-child") == (
        "alice@example.com"
    )
    screenshots.take(admin, "sign-in-events")

    admin.goto(site.url("/admin/identity-providers"))
    row = admin.wait_for_selector("tr[data-provider-row=company-sso]")
    assert "UTC" in row.inner_text()  # the last successful sign-in
    # Every cell of the row starts at the row's top: the actions cell once took the refusal
    # pages' flex ".actions" style and sat below its row, its border off the others'.
    tops = admin.evaluate(
        "[...document.querySelector('tr[data-provider-row=company-sso]').cells]"
        ".map(cell => Math.round(cell.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, tops

    # The user the sign-in created, found in Users by part of the address, with the provider
    # connected on their page.
    admin.click("nav >> text=Users")
    admin.wait_for_selector("tr[data-user=alice]")
    admin.fill("#user-search", "alice@example")
    admin.click("form[role=search] button")
    admin.wait_for_url("**/admin/users?q=alice%40example")
    assert [r.get_attribute("data-user") for r in admin.query_selector_all("tr[data-user]")] == [
        "alice"
    ]
    screenshots.take(admin, "users")
    admin.click("tr[data-user=alice] a")
    identity = admin.wait_for_selector("li[data-identity=company-sso]")
    assert "Company SSO" in identity.inner_text() and "alice@example.com" in identity.inner_text()
    screenshots.take(admin, "user")


def test_the_preset_picker_shows_third_party_presets_and_the_plugins_page_broken_plugins(
    site: Site, admin: Any, screenshots: Screenshots
) -> None:
    admin.goto(site.url("/admin/identity-providers/new"))
    card = admin.wait_for_selector(".preset-card[data-preset=gitlab]")
    text = card.inner_text()
    assert "GitLab" in text and "self-managed GitLab instance" in text and "gitlab" in text
    names = [c.get_attribute("data-preset") for c in admin.query_selector_all(".preset-card")]
    for built_in in ("google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc"):
        assert built_in in names
    screenshots.take(admin, "preset-picker")

    admin.goto(site.url("/admin/plugins"))
    gitlab = admin.inner_text("tr[data-plugin=gitlab]")
    assert "fedlogin-gitlab" in gitlab and "1.0.0" in gitlab and "OK" in gitlab
    broken = admin.inner_text("tr[data-plugin=broken-import]")
    assert "Broken" in broken and "failed to import" in broken
    screenshots.take(admin, "plugins")


def test_a_brand_with_a_plugin_switched_off_hides_that_provider_on_its_host(
    site: Site, op: OidcProvider, admin: Any, new_page: Any, screenshots: Screenshots
) -> None:
    open_preset_form(admin, site, "GitLab")
    fill_provider(admin, identifier="gitlab", name="GitLab")
    save_new_provider(admin, "gitlab")
    open_preset_form(admin, site, "OpenID Connect")
    fill_provider(admin, identifier="partner-sso", name="Partner SSO", domain=op.issuer)
    logo = {"name": "partner.svg", "mimeType": "image/svg+xml", "buffer": PARTNER_LOGO}
    admin.set_input_files("#f-logo", files=[logo])
    admin.wait_for_selector("#logo-preview[src^='data:image/svg+xml']")
    save_new_provider(admin, "partner-sso")
    assert "/api/v1/identity-providers/partner-sso/logo" in (
        admin.get_attribute("#logo-preview", "src") or ""
    )
    offer_providers(admin, site, "gitlab", "partner-sso")
    screenshots.take(admin, "settings-accounts")
    # Without saving, the arrows reorder the list; Save puts the login page in that order.
    admin.click("button[aria-label='Move Partner SSO up']")
    admin.wait_for_selector(".notice:has-text('Save to apply it')")
    admin.click("button:has-text('Save settings')")
    admin.wait_for_url("**/admin/settings/accounts?done=saved")
    order = [
        item.get_attribute("data-preview-provider")
        for item in admin.query_selector_all(".login-preview [data-preview-provider]")
    ]
    assert order.index("partner-sso") < order.index("gitlab")
    admin.goto(site.url("/admin/identity-providers"))
    assert "GitLab" in admin.inner_text("tr[data-provider-row=gitlab]")
    screenshots.take(admin, "identity-providers")

    brand_host = f"localhost:{site.port}"
    admin.goto(site.url("/admin/brands"))
    admin.click("text=Add brand")
    admin.fill("#f-name", "Partner")
    admin.fill("#f-hosts", brand_host)
    admin.check("#plugin-off-gitlab")
    admin.click("button:has-text('Add brand')")
    admin.wait_for_url("**/admin/brands/*?done=created")
    preview = admin.query_selector_all(".login-preview [data-preview-provider]")
    shown = [item.get_attribute("data-preview-provider") for item in preview]
    assert "partner-sso" in shown and "gitlab" not in shown
    screenshots.take(admin, "brand")
    admin.goto(site.url("/admin/brands"))
    assert "localhost" in admin.inner_text("tr[data-brand=Partner]")
    screenshots.take(admin, "brands")

    platform = new_page()
    platform.goto(site.url("/login"))
    assert {"gitlab", "partner-sso"} <= set(login_buttons(platform))
    partner_logo = platform.get_attribute("[data-provider=partner-sso] img", "src") or ""
    assert partner_logo.startswith("/api/v1/identity-providers/partner-sso/logo")
    brand = new_page()
    brand.goto(site.url("/login", host="localhost"))
    assert "partner-sso" in login_buttons(brand)
    assert "gitlab" not in login_buttons(brand)


def test_test_connection_works_without_javascript(
    site: Site, op: OidcProvider, first_admin: str, new_page: Any
) -> None:
    page = new_page(java_script_enabled=False)
    sign_in_to_console(page, site)
    open_preset_form(page, site, "OpenID Connect")
    fill_provider(page, identifier="nojs-sso", name="No Script SSO", domain=op.issuer)
    page.click("#test-connection")
    page.wait_for_selector("#connection-result[data-ok=true]")
    # The whole page came back with the report and everything typed, except the secret.
    assert page.input_value("#f-identifier") == "nojs-sso"
    assert page.input_value("#f-domain") == op.issuer
    assert page.input_value("#f-client_secret") == ""


def test_pages_fit_a_phone_screen(
    site: Site, first_admin: str, new_page: Any, screenshots: Screenshots
) -> None:
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in_to_console(phone, site)
    for path in (
        "/admin/identity-providers",
        "/admin/identity-providers/new?preset=azure-ad",
        "/admin/settings/accounts",
        "/admin/brands",
        "/admin/plugins",
    ):
        phone.goto(site.url(path))
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px on a phone"
    phone.goto(site.url("/admin/identity-providers/new?preset=azure-ad"))
    screenshots.take(phone, "phone-provider-form", full_page=False)
    phone.goto(site.url("/admin/identity-providers"))
    screenshots.take(phone, "phone-identity-providers", full_page=False)


CONSOLE_PAGES = (
    "/admin/identity-providers",
    "/admin/identity-providers/new",
    *(
        f"/admin/identity-providers/new?preset={p}"
        for p in ("azure-ad", "okta", "pingone", "gitlab")
    ),
    "/admin/settings/accounts",
    "/admin/brands",
    "/admin/brands/new",
    "/admin/plugins",
)


def test_pages_have_labels_headings_and_work_from_the_keyboard(
    site: Site, op: OidcProvider, first_admin: str, new_page: Any, screenshots: Screenshots
) -> None:
    visitor = new_page()
    for path in ("/admin/login", "/login"):
        visitor.goto(site.url(path))
        assert accessibility_problems(visitor) == [], path
    # The first Tab reaches the skip link, which moves the keyboard to the content.
    visitor.goto(site.url("/admin/login"))
    visitor.keyboard.press("Tab")
    assert visitor.evaluate("document.activeElement.className") == "skip-link"
    visitor.keyboard.press("Enter")
    assert visitor.evaluate("document.activeElement.id") == "main"

    admin = new_page()
    sign_in_to_console(admin, site)
    for path in CONSOLE_PAGES:
        admin.goto(site.url(path))
        assert accessibility_problems(admin) == [], path

    # Test Connection from the keyboard; a refused form moves the keyboard to its summary.
    admin.goto(site.url("/admin/identity-providers/new?preset=generic-oidc"))
    admin.fill("#f-domain", op.issuer)
    admin.focus("#test-connection")
    admin.keyboard.press("Enter")
    admin.wait_for_selector("#connection-result[data-ok=true]")
    assert admin.evaluate("document.activeElement.id") == "connection-result"
    admin.fill("#f-identifier", "Bad Identifier")
    admin.focus("#f-name")
    admin.keyboard.press("Enter")  # implicit submission: Save, not Test Connection
    admin.wait_for_selector("#error-summary")
    assert admin.evaluate("document.activeElement.id") == "error-summary"
    assert accessibility_problems(admin) == []
    screenshots.take(admin, "provider-form-errors", full_page=False)
