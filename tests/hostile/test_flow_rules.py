"""SECURITY.md's flow rules through the real routes: state, PKCE, nonce, RFC 9207 and the
provider a callback belongs to, and the provider's own error shown escaped.

Everything here is refused before the code reaches the token endpoint: the provider records
no token request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fedlogin.oidc.client import s256_code_challenge
from fedlogin.store.database import Database
from fedlogin.store.tables import PendingFlow
from fedlogin.store.types import utcnow
from fedlogin.web.context import AppContext
from sqlalchemy import update
from starlette.applications import Starlette

from tests.hostile.helpers import (
    BASE_URL,
    IDENTIFIER,
    Refusal,
    assert_refused,
    assert_signed_in,
    attempt,
    callback_at,
    click,
    page_text,
    query,
    with_query,
)
from tests.hostile.provider import SuiteOP
from tests.support.hostile_op import Bend, HostileOP
from tests.support.sign_in import Browser, add_provider, outcome

ATTACKER = "https://attacker.example"
STATE_UNKNOWN = Refusal(400, "state", "state_unknown", "does not match a sign-in in progress")


# -- state ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param(
            {"state": None},
            Refusal(400, "state", "state_missing", "carries no state"),
            id="state-missing",
        ),
        pytest.param({"state": "forged-state"}, STATE_UNKNOWN, id="state-wrong"),
    ],
)
async def test_a_callback_without_its_state_is_refused_before_redemption(
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    changes: dict[str, str | None],
    expected: Refusal,
) -> None:
    callback = provider.follow_authorize(await click(browser))
    response = await browser.follow(with_query(callback, **changes))
    assert_refused(response, db, provider, expected, redeemed=False, browser=browser)


async def test_a_reused_state_is_refused_before_redemption(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """A state is spent by its first callback, even one refused before the code was used:
    the same redirect with a good code does not get a second chance."""
    callback = provider.follow_authorize(await click(browser))
    first = await browser.follow(with_query(callback, iss=ATTACKER))
    assert first.status_code == 400 and outcome(db).event.code == "iss_mismatch"  # type: ignore[union-attr]
    response = await browser.follow(callback)
    assert_refused(response, db, provider, STATE_UNKNOWN, redeemed=False, browser=browser)


async def test_an_expired_state_is_refused_before_redemption(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    callback = provider.follow_authorize(await click(browser))
    with db.transaction() as session:
        session.execute(update(PendingFlow).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await browser.follow(callback)
    expected = Refusal(400, "state", "state_expired", "took too long and expired")
    assert_refused(response, db, provider, expected, redeemed=False, browser=browser)


@pytest.mark.parametrize(
    ("has_cookie", "expected"),
    [
        pytest.param(
            True,
            Refusal(400, "state", "browser_mismatch", "started in another browser"),
            id="another-browser",
        ),
        pytest.param(
            False,
            Refusal(400, "state", "browser_cookie_missing", "did not send back the cookie"),
            id="no-browser-cookie",
        ),
    ],
)
async def test_a_state_is_refused_in_another_browser_before_redemption(
    app: Starlette,
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    has_cookie: bool,
    expected: Refusal,
) -> None:
    """The state travels in a URL anyone can be lured to open; the flow is bound to the
    browser that started it by a cookie."""
    callback = provider.follow_authorize(await click(browser))
    other = Browser(app, BASE_URL)
    try:
        if has_cookie:
            await other.login_page()
            assert other.cookie("fedlogin_browser")
        response = await other.follow(callback)
    finally:
        await other.aclose()
    assert_refused(response, db, provider, expected, redeemed=False, browser=other)
    # The flow is spent: the browser that started it cannot finish it either.
    assert (await browser.follow(callback)).status_code == 400
    assert provider.token_requests == []


async def test_states_nonces_and_verifiers_are_fresh_for_every_flow(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """A nonce from one flow is refused in another: each flow sends its own."""
    first = query(await click(browser))
    second_url = await click(browser)
    second = query(second_url)
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name], name
        assert len(first[name]) >= 43, name  # 256 bits, base64url
    provider.bend = Bend(nonce=first["nonce"])
    response = await browser.follow(provider.follow_authorize(second_url))
    expected = Refusal(400, "id_token", "id_token_nonce", "not the one this sign-in sent")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


# -- PKCE ---------------------------------------------------------------------------------------


@pytest.fixture
def public_op(hostile_op_factory: Callable[..., HostileOP]) -> HostileOP:
    return hostile_op_factory(client_secret=None)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "none"])
async def test_pkce_s256_is_sent_by_every_client(
    request: pytest.FixtureRequest,
    context: AppContext,
    browser: Browser,
    op: SuiteOP,
    db: Database,
    method: str,
) -> None:
    """Confidential clients too (SECURITY.md); the provider refuses a code without PKCE."""
    provider: HostileOP = request.getfixturevalue("public_op") if method == "none" else op
    add_provider(
        context,
        identifier=IDENTIFIER,
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        auth_method=method,
    )
    assert_signed_in(await attempt(browser, provider), db, browser)
    authorize = query(provider.authorize_requests[0].url)
    [token] = provider.token_requests
    verifier = token.form["code_verifier"]
    assert authorize["code_challenge_method"] == "S256"
    assert authorize["code_challenge"] == s256_code_challenge(verifier)
    assert 43 <= len(verifier) <= 128 and "code_verifier" not in authorize


# -- RFC 9207 and the provider a callback belongs to --------------------------------------------


@pytest.mark.parametrize(
    ("bend", "changes", "expected"),
    [
        pytest.param(
            Bend(),
            {"iss": ATTACKER},
            Refusal(400, "callback", "iss_mismatch", "names another issuer"),
            id="iss-wrong",
        ),
        pytest.param(
            Bend(),
            {"iss": "{issuer}/"},
            Refusal(400, "callback", "iss_mismatch", "names another issuer"),
            id="iss-not-exactly-equal",
        ),
        pytest.param(
            Bend(omit_callback_iss=True),
            {},
            Refusal(400, "callback", "iss_missing", "lacks the iss parameter it promises"),
            id="iss-absent-when-advertised",
        ),
    ],
)
async def test_a_callback_with_a_bent_iss_is_refused_before_redemption(
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    bend: Bend,
    changes: dict[str, str],
    expected: Refusal,
) -> None:
    """RFC 9207: the mix-up defence."""
    provider.bend = bend
    callback = provider.follow_authorize(await click(browser))
    values: dict[str, Any] = {k: v.format(issuer=provider.issuer) for k, v in changes.items()}
    response = await browser.follow(with_query(callback, **values))
    assert_refused(response, db, provider, expected, redeemed=False, browser=browser)


async def test_an_absent_iss_is_accepted_when_the_provider_does_not_advertise_it(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    provider.bend = Bend(advertise_iss_parameter=False, omit_callback_iss=True)
    assert_signed_in(await attempt(browser, provider), db, browser)


@pytest.fixture
def two_providers(context: AppContext, provider: SuiteOP) -> Iterator[SuiteOP]:
    """``hostile`` and ``other``, both offered, both at the same provider."""
    add_provider(
        context,
        identifier="other",
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        offered=[IDENTIFIER, "other"],
    )
    yield provider


async def test_a_callback_at_another_providers_url_is_refused_before_redemption(
    browser: Browser, two_providers: SuiteOP, db: Database
) -> None:
    """The provider handling a callback is the stored flow's; the URL must agree with it."""
    op = two_providers
    callback = op.follow_authorize(await click(browser))
    response = await browser.follow(callback_at(callback, "other"))
    expected = Refusal(
        400, "state", "provider_mismatch", "came back to another identity provider's callback URL"
    )
    assert_refused(response, db, op, expected, redeemed=False, browser=browser, identifier="other")


# -- the provider's own error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "description", "says"),
    [
        pytest.param(
            "access_denied",
            "<script>alert('x')</script> & <b>more</b>",
            "cancelled or denied at the identity provider",
            id="access-denied",
        ),
        pytest.param(
            "<img src=x onerror=alert(1)>",
            "<iframe src=//attacker.example>",
            "sent an error instead",
            id="markup-in-the-error-code",
        ),
    ],
)
async def test_the_providers_error_is_shown_escaped(
    browser: Browser, provider: SuiteOP, db: Database, error: str, description: str, says: str
) -> None:
    provider.bend = Bend(authorize_error=error, authorize_error_description=description)
    response = await attempt(browser, provider)
    expected = Refusal(400, "callback", "authorization_error", says)
    assert_refused(response, db, provider, expected, redeemed=False, browser=browser)
    for markup in (error, description):
        if "<" in markup:
            assert markup not in response.text
    shown = page_text(response)
    assert description in shown and error in shown  # there, as text
