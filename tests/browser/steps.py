"""What an admin and a user do in the browser, step by step, shared by the browser tests."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import CLIENT_ID, CLIENT_SECRET, Site


def open_preset_form(page: Any, site: Site, preset_name: str) -> None:
    """Identity Providers → Add Identity Provider → the preset's card."""
    page.goto(site.url("/admin/identity-providers"))
    page.click("text=Add Identity Provider")
    page.wait_for_url("**/admin/identity-providers/new")
    page.click(f".preset-card:has(.preset-name:text-is('{preset_name}'))")
    page.wait_for_selector("#provider-form")


def fill_provider(
    page: Any,
    *,
    identifier: str,
    name: str,
    domain: str | None = None,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    auth_method: str = "client_secret_post",
) -> None:
    page.fill("#f-identifier", identifier)
    page.fill("#f-name", name)
    if domain is not None:
        page.fill("#f-domain", domain)
    page.fill("#f-client_id", client_id)
    page.fill("#f-client_secret", client_secret)
    page.check(f"#f-auth_method-{auth_method}")


def save_new_provider(page: Any, identifier: str) -> None:
    page.click("button.primary:has-text('Add Identity Provider')")
    page.wait_for_url(f"**/admin/identity-providers/{identifier}/edit?done=created")


def offer_providers(page: Any, site: Site, *identifiers: str) -> None:
    """Settings → Accounts: Federated Login on, these providers ticked (others left alone)."""
    page.goto(site.url("/admin/settings/accounts"))
    page.check("#f-federated_login_enabled")
    for identifier in identifiers:
        page.check(f"#offer-{identifier}")
    page.click("button:has-text('Save settings')")
    page.wait_for_url("**/admin/settings/accounts?done=saved")


def login_buttons(page: Any) -> list[str]:
    return [
        button.get_attribute("data-provider")
        for button in page.query_selector_all("button.provider-button")
    ]


def sign_in_at_op(page: Any, login: str) -> None:
    """oidc-provider's devInteractions: the login form, then the consent form."""
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    consent = page.wait_for_selector("form:has(input[name=prompt][value=consent]) button")
    consent.click()


#: Checks a person using a keyboard or a screen reader relies on, run in the page.
_ACCESSIBILITY = """() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push("the page has no lang");
  const headings = document.querySelectorAll("h1").length;
  if (headings !== 1) problems.push(headings + " h1 headings");
  const visible = (el) => !el.closest("[hidden], [aria-hidden=true]") && el.type !== "hidden";
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    if (!visible(el)) continue;
    const labelled = (el.labels && [...el.labels].some((l) => l.textContent.trim()))
      || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
      || (el.tagName === "BUTTON" && el.textContent.trim());
    if (!labelled) problems.push("no accessible name: " + el.outerHTML.slice(0, 120));
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("image without alt: " + img.src);
  }
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (twice.length) problems.push("ids used twice: " + [...new Set(twice)].join(", "));
  for (const link of document.querySelectorAll("a[href^='#']")) {
    const target = link.getAttribute("href").slice(1);
    if (target && !document.getElementById(target)) problems.push("link to missing #" + target);
  }
  return problems;
}"""


def accessibility_problems(page: Any) -> list[str]:
    problems: list[str] = page.evaluate(_ACCESSIBILITY)
    return problems
