"""Drive node ``oidc-provider``'s devInteractions (login and consent pages) like a browser would.

``complete_login(client, authorization_url, login="alice")`` follows the provider's redirects,
submits the login form (``prompt=login``, ``login``, ``password``) and the consent form
(``prompt=consent``) when they are shown, and returns the URL the provider finally redirects to:
the relying party's callback with ``code``, ``state`` and ``iss``. That URL is not fetched, so
the test decides what to do with it (e.g. ``app_client.get(url)``).

Use one ``httpx.Client`` (one cookie jar) for the whole flow and one host spelling (127.0.0.1):
oidc-provider keeps the flow in its ``_interaction``/``_interaction_resume``/``_session`` cookies.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

MAX_STEPS = 20
# devInteractions accepts any password.
ANY_PASSWORD = "any-password"

_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]*)\"[^>]*>(.*?)</form>", re.S | re.I)
_PROMPT = re.compile(r"<input\b[^>]*\bname=\"prompt\"[^>]*\bvalue=\"([^\"]*)\"", re.I)
_CANCEL = re.compile(r"<a\b[^>]*\bhref=\"([^\"]*)\"[^>]*>\s*\[ Cancel \]", re.I)
_TAGS = re.compile(r"<[^>]+>")


class OpLoginError(AssertionError):
    """The provider did not lead back to the relying party (an error page, or an unknown page)."""


@dataclass
class OpLoginResult:
    """Where the provider sent the browser, and which devInteractions prompts it showed."""

    callback_url: str
    prompts: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        return callback_params(self.callback_url)


def callback_params(url: str) -> dict[str, str]:
    """The query parameters of a callback URL, one value each (``code``, ``state``, ``iss``...)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def complete_login(
    client: httpx.Client,
    authorization_url: str,
    *,
    login: str = "alice",
    password: str = ANY_PASSWORD,
    provider_origin: str | None = None,
) -> str:
    """Sign in at the provider and return the redirect back to the relying party's callback."""
    return drive_login(
        client, authorization_url, login=login, password=password, provider_origin=provider_origin
    ).callback_url


def drive_login(
    client: httpx.Client,
    authorization_url: str,
    *,
    login: str = "alice",
    password: str = ANY_PASSWORD,
    provider_origin: str | None = None,
    consent: bool = True,
) -> OpLoginResult:
    """Like :func:`complete_login`, also telling which prompts were shown.

    ``provider_origin`` defaults to the origin of ``authorization_url``; give it when the URL is
    the relying party's own sign-in URL that redirects to the provider. The first redirect that
    leaves the provider's origin (after having reached it) is the result. With ``consent=False``
    the consent page is aborted instead (the provider then redirects with
    ``error=access_denied``).
    """
    origin = provider_origin or _origin(authorization_url)
    prompts: list[str] = []
    at_provider = _origin(authorization_url) == origin
    response = client.get(authorization_url, follow_redirects=False)
    for _ in range(MAX_STEPS):
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers["location"])
            if at_provider and _origin(target) != origin:
                return OpLoginResult(target, prompts)
            at_provider = at_provider or _origin(target) == origin
            response = client.get(target, follow_redirects=False)
            continue
        if response.status_code != 200 or not at_provider:
            raise OpLoginError(_describe(response))
        action, prompt = _interaction_form(response)
        prompts.append(prompt)
        if prompt == "login":
            data = {"prompt": "login", "login": login, "password": password}
        elif prompt == "consent" and consent:
            data = {"prompt": "consent"}
        elif prompt == "consent":
            response = client.get(_abort_url(response), follow_redirects=False)
            continue
        else:
            raise OpLoginError(f"unknown devInteractions prompt {prompt!r}: {_describe(response)}")
        response = client.post(
            urljoin(str(response.url), action), data=data, follow_redirects=False
        )
    raise OpLoginError(f"no redirect back to the relying party after {MAX_STEPS} steps")


def _interaction_form(response: httpx.Response) -> tuple[str, str]:
    for match in _FORM.finditer(response.text):
        prompt = _PROMPT.search(match.group(2))
        if prompt:
            return html.unescape(match.group(1)), prompt.group(1)
    raise OpLoginError(f"no devInteractions form on the page: {_describe(response)}")


def _abort_url(response: httpx.Response) -> str:
    match = _CANCEL.search(response.text)
    if match is None:
        raise OpLoginError(f"no Cancel link on the page: {_describe(response)}")
    return urljoin(str(response.url), html.unescape(match.group(1)))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _describe(response: httpx.Response) -> str:
    text = " ".join(html.unescape(_TAGS.sub(" ", response.text)).split())
    return f"{response.request.method} {response.url} -> {response.status_code}: {text[:500]}"
