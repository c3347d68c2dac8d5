"""Issue 6, points 4, 5 and 7: the pages a user sees, in real Chromium.

Against the real ``fedlogin serve`` and the real node ``oidc-provider`` with two providers
configured (two client registrations at the one OpenID provider, "Work SSO" and "School ID"):

* a user created through the admin API with a password signs in with it, connects both
  providers from Account → Security (signing in at the provider), sees them in Connected
  Accounts with the email each gave and when it was linked, and disconnects one;
* a person without a password, signed up through a provider, is told on the page that their
  only provider cannot be disconnected, and a stale page that tries anyway gets a refusal
  saying why;
* a provider that does not vouch for the email sends the person to the waiting page; the code
  is read from the outbox API and typed, and the person lands signed in;
* a sign-in cancelled at the provider ends on a refusal page that says what happened and
  what to do.

Every page is checked for labels, one h1, alt texts, unique ids and keyboard use, and the
browser console must stay clean (``new_page``: a CSP violation fails the test).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.browser.conftest import Screenshots, Site
from tests.browser.steps import accessibility_problems, login_buttons, sign_in_at_op
from tests.support.oidc_provider import OidcClient, OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SECRET = "user-pages-client-secret-7f1e"
PASSWORD = "ada's long browser password"
#: identifier -> (name, logo): two providers, each its own client at the one OpenID provider.
PROVIDERS = {
    "work": (
        "Work SSO",
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        b'<rect x="6" y="6" width="52" height="52" rx="12" fill="#1f5fbf"/>'
        b'<path d="M18 22h28v24H18z" fill="#fff"/><path d="M26 16h12v8H26z" fill="#fff"/></svg>',
    ),
    "school": (
        "School ID",
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        b'<circle cx="32" cy="32" r="28" fill="#b8541a"/>'
        b'<path d="M12 28l20-10 20 10-20 10z" fill="#fff"/><path d="M22 34v8l10 5 10-5v-8" '
        b'fill="#fff"/></svg>',
    ),
}
#: What the OpenID provider says of the people the tests sign in as (others: verified).
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice Example"},
    "dave": {
        "email": "dave@example.com",
        "email_verified": False,
        "name": "Dave Example",
        "preferred_username": "dave",
    },
}
_CODE = re.compile(r"verification code is: (\d{6})")
#: The user pages are narrow: a shorter window keeps their screenshots free of empty space.
WINDOW = {"width": 1100, "height": 640}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def providers(site: Site, op: OidcProvider, admin_api: httpx.Client) -> dict[str, str]:
    """Work SSO and School ID with their logos, offered on the login page in that order."""
    op.add_clients(
        *(
            OidcClient(
                identifier, [site.url(f"/auth/callback/{identifier}")], SECRET, "client_secret_post"
            )
            for identifier in PROVIDERS
        )
    )
    op.set_accounts(ACCOUNTS)
    for identifier, (name, logo) in PROVIDERS.items():
        created = admin_api.post(
            "/api/v1/identity-providers",
            json={
                "identifier": identifier,
                "name": name,
                "preset": "generic-oidc",
                "domain": op.issuer,
                "client_id": identifier,
                "client_secret": SECRET,
                "auth_method": "client_secret_post",
            },
        )
        assert created.status_code == 201, created.text
        uploaded = admin_api.put(
            f"/api/v1/identity-providers/{identifier}/logo",
            content=logo,
            headers={"Content-Type": "image/svg+xml"},
        )
        assert uploaded.status_code == 200, uploaded.text
    offered = admin_api.patch(
        "/api/v1/settings/accounts",
        json={"federated_login_enabled": True, "identity_providers": list(PROVIDERS)},
    )
    assert offered.status_code == 200, offered.text
    return {identifier: name for identifier, (name, _) in PROVIDERS.items()}


def no_problems(page: Any) -> None:
    problems = accessibility_problems(page)
    assert problems == [], f"{page.url}: {problems}"


def connected(page: Any) -> dict[str, str]:
    """Connected Accounts as shown: provider identifier -> the item's text."""
    return {
        item.get_attribute("data-provider"): " ".join(item.inner_text().split())
        for item in page.query_selector_all("ul.connected > li")
    }


def fits_a_phone(page: Any) -> None:
    page.set_viewport_size(PHONE)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"
    page.set_viewport_size(WINDOW)


def consent_at_op(page: Any) -> None:
    """Already signed in at the provider: only this client's consent is asked."""
    page.click("form:has(input[name=prompt][value=consent]) button")


def utc_minute(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")


def test_a_password_user_connects_two_providers_sees_them_and_disconnects_one(
    site: Site,
    providers: dict[str, str],
    admin_api: httpx.Client,
    new_page: Any,
    screenshots: Screenshots,
) -> None:
    created = admin_api.post(
        "/api/v1/users",
        json={
            "username": "ada",
            "email": "ada@example.org",
            "email_verified": True,
            "name": "Ada Lovelace",
            "password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    ada = created.json()["id"]

    page = new_page(viewport=WINDOW)
    page.goto(site.url("/login"))
    assert login_buttons(page) == ["work", "school"]
    for identifier in providers:
        logo = page.get_attribute(f"[data-provider={identifier}] img", "src") or ""
        assert logo.startswith(f"/api/v1/identity-providers/{identifier}/logo")
    assert page.inner_text(".federated h2").strip().lower() == "or continue with"
    no_problems(page)
    screenshots.take(page, "user-login")
    fits_a_phone(page)

    # A wrong password first: the message sits above the form, the name typed stays.
    page.fill("#login-name", "ada")
    page.fill("#login-password", "not the password")
    page.click("form.password-sign-in button[type=submit]")
    page.wait_for_selector("#password-error")
    assert page.input_value("#login-name") == "ada"
    assert page.get_attribute("#login-name", "aria-describedby") == "password-error"
    no_problems(page)
    page.fill("#login-password", PASSWORD)
    page.press("#login-password", "Enter")
    page.wait_for_url(site.url("/account"))
    assert page.inner_text("h1") == "Security"
    assert "ada" in page.inner_text(".user-nav + .signout")
    assert page.get_attribute(".user-nav a", "aria-current") == "page"
    assert "No identity provider is connected" in page.inner_text("#connected-accounts")
    no_problems(page)

    page.click("[data-link-provider=work]")
    sign_in_at_op(page, "alice")
    page.wait_for_url(site.url("/account/security?connected=work"))
    assert "Work SSO is now connected" in page.inner_text("#connected-accounts .notice")
    page.click("[data-link-provider=school]")
    consent_at_op(page)  # the provider remembers alice
    page.wait_for_url(site.url("/account/security?connected=school"))

    shown = connected(page)
    assert list(shown) == ["work", "school"]
    identities = admin_api.get(f"/api/v1/users/{ada}/identities").json()["identities"]
    assert {identity["provider"] for identity in identities} == {"work", "school"}
    for identity in identities:
        text = shown[identity["provider"]]
        assert providers[identity["provider"]] in text and "alice@example.com" in text
        assert f"Linked {utc_minute(identity['linked_at'])} UTC" in text
    # Nothing left to connect, and a password: either can go, and the page says so.
    assert page.query_selector("[data-link-provider]") is None
    assert "any of them can be disconnected" in page.inner_text("#connected-accounts")
    assert page.query_selector(".last-way-in") is None
    no_problems(page)
    screenshots.take(page, "user-account-security")
    fits_a_phone(page)

    # Disconnect Work SSO from the keyboard.
    page.focus("li[data-provider=work] form.unlink button")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url("/account/security?disconnected=work"))
    assert "Work SSO was disconnected" in page.inner_text(".notice")
    assert list(connected(page)) == ["school"]
    assert page.query_selector("[data-link-provider=work]") is not None  # connectable again
    left = admin_api.get(f"/api/v1/users/{ada}/identities").json()["identities"]
    assert [identity["provider"] for identity in left] == ["school"]

    # Signed in, the login page says so and offers the way back; Sign out in the top bar.
    page.goto(site.url("/login"))
    assert "You are signed in as ada" in page.inner_text(".login .notice")
    no_problems(page)
    page.click(".signout button")
    page.wait_for_url(site.url("/login"))
    assert page.query_selector(".signout") is None


def test_the_last_way_in_cannot_be_disconnected_and_the_page_says_why(
    site: Site, providers: dict[str, str], new_page: Any, screenshots: Screenshots
) -> None:
    page = new_page(viewport=WINDOW)
    page.goto(site.url("/login"))
    page.click("button[data-provider=work]")
    sign_in_at_op(page, "bob")
    page.wait_for_url(site.url("/account"))
    assert list(connected(page)) == ["work"]
    # Said before trying: no Disconnect button, and why, with the ways out.
    work = page.wait_for_selector("li[data-provider=work]")
    assert work.query_selector("form.unlink") is None
    why = page.inner_text("li[data-provider=work] .last-way-in")
    assert "Your only way to sign in" in why and "set a password" in why
    assert "connect another provider" in why
    assert page.query_selector("#set-password") is not None  # a fresh sign-in may set one
    no_problems(page)
    screenshots.take(page, "user-last-way-in")
    fits_a_phone(page)

    # With a second provider either may go, but not both: a page opened before the first
    # one went still offers the other, and the server refuses it with the reason.
    page.click("li[data-provider=work] .last-way-in a[href='#connect-providers']")
    assert page.evaluate("location.hash") == "#connect-providers"
    page.click("[data-link-provider=school]")
    consent_at_op(page)
    page.wait_for_url(site.url("/account/security?connected=school"))
    assert "one of them must stay connected" in page.inner_text("#connected-accounts")
    stale = page.context.new_page()
    stale.goto(site.url("/account/security"))
    page.click("li[data-provider=work] form.unlink button")
    page.wait_for_url(site.url("/account/security?disconnected=work"))
    assert page.query_selector("li[data-provider=school] .last-way-in") is not None
    stale.click("li[data-provider=school] form.unlink button")
    stale.wait_for_selector(".refusal")
    assert stale.inner_text("h1") == "Nothing was disconnected"
    text = stale.inner_text("main")
    assert "School ID is the only way you can sign in" in text
    assert "Set a password or connect another provider first" in text
    assert "last_sign_in_method" in text
    no_problems(stale)
    screenshots.take(stale, "user-unlink-refused")
    stale.click("text=Back to Account → Security")
    stale.wait_for_url(site.url("/account/security"))
    assert list(connected(stale)) == ["school"]


def test_an_unverified_email_signs_up_with_the_code_from_the_outbox(
    site: Site,
    providers: dict[str, str],
    admin_api: httpx.Client,
    new_page: Any,
    screenshots: Screenshots,
) -> None:
    page = new_page(viewport=WINDOW)
    page.goto(site.url("/login"))
    page.click("button[data-provider=work]")
    sign_in_at_op(page, "dave")
    page.wait_for_url("**/verify-email/**")
    assert page.inner_text("h1") == "Check your email"
    assert page.inner_text(".masked-email") == "d***@example.com"
    assert "dave@example.com" not in page.content()
    assert "outbox" in page.inner_text(".warning-box")  # no mail server on this site
    assert "UTC" in page.inner_text("#code-expiry")
    assert page.evaluate("document.activeElement.id") == "code"  # ready to type
    no_problems(page)
    screenshots.take(page, "user-verify-email")
    fits_a_phone(page)

    # A wrong code: said at the field, which is marked invalid.
    page.fill("#code", "000000")
    page.press("#code", "Enter")
    page.wait_for_selector("#code-error")
    assert "That code is not right" in page.inner_text("#code-error")
    assert page.get_attribute("#code", "aria-invalid") == "true"
    assert "code-error" in (page.get_attribute("#code", "aria-describedby") or "")
    no_problems(page)

    mails = admin_api.get("/api/v1/outbox", params={"to": "dave@example.com"}).json()
    [mail] = [m for m in mails["messages"] if m["kind"] == "verification"]
    code = _CODE.search(mail["body"])
    assert code is not None, mail["body"]
    page.fill("#code", code.group(1))
    page.press("#code", "Enter")
    page.wait_for_url(site.url("/account"))
    assert "dave" in page.inner_text(".signout")
    assert "dave@example.com" in page.inner_text(".account-head")
    assert list(connected(page)) == ["work"]


def test_a_sign_in_cancelled_at_the_provider_says_what_happened_and_what_to_do(
    site: Site, providers: dict[str, str], new_page: Any, screenshots: Screenshots
) -> None:
    page = new_page(viewport=WINDOW)
    page.goto(site.url("/login"))
    page.click("button[data-provider=school]")
    page.fill("input[name=login]", "erin")
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    page.click("text=[ Cancel ]")  # at the provider's consent page
    page.wait_for_selector(".refusal")
    assert page.url.startswith(site.url("/auth/callback/school"))
    assert page.inner_text("h1") == "The identity provider did not sign you in"
    assert "cancelled or denied" in page.inner_text(".what-happened")
    assert page.inner_text(".what-to-do h2") == "What to do"
    assert "access_denied" in page.inner_text(".provider-error")
    assert "Error code: authorization_error (step: callback)" in page.inner_text(".code")
    no_problems(page)
    screenshots.take(page, "user-sign-in-refused")
    fits_a_phone(page)
    page.click("text=Back to sign-in")
    page.wait_for_url(site.url("/login"))
    assert login_buttons(page) == ["work", "school"]


def test_an_offered_provider_tests_its_connection_from_its_edit_page(
    site: Site, op: OidcProvider, providers: dict[str, str], admin: Any, screenshots: Screenshots
) -> None:
    """Test Connection on a saved provider (the secret field blank: the stored one is kept)."""
    admin.goto(site.url("/admin/identity-providers/work/edit"))
    assert admin.input_value("#f-client_secret") == ""
    admin.click("#test-connection")
    admin.wait_for_selector("#connection-result[data-ok=true]")
    assert admin.inner_text("#connection-result [data-report=issuer]") == op.issuer
    assert admin.input_value("#callback-url") == site.url("/auth/callback/work")
    # For the README: the OIDC Configuration section with the report in it.
    path = screenshots.folder / "provider-test-connection.png"
    section = admin.locator("fieldset.section:has(legend:text-is('OIDC Configuration'))")
    section.screenshot(path=str(path), animations="disabled")
    screenshots.saved.append(path)
