"""Sign in end to end against the real node ``oidc-provider`` (issue 4, point 7).

The relying party is the whole app in-process (httpx over ASGI, one cookie jar as a browser
has); the provider is the OpenID Certified node server on 127.0.0.1, driven through its own
login and consent pages. Covered: each token-endpoint auth method, RS256/PS256/ES256, claims
only in UserInfo and in the ID token, a key rotation between two sign-ins, Auto Provision and
Match Only, allowed domains, and a sign-in started on one process and finished on another
sharing the database. Every refusal leaves no user, identity link or session, and a sign-in
event naming the step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.database import Database
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import User
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from sqlmodel import select

from tests.support.oidc_provider import (
    AuthMethod,
    OidcClient,
    OidcProvider,
    OidcProviderConfig,
    SigningAlg,
    oidc_provider_fixture,
)
from tests.support.op_login import complete_login
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome

pytestmark = pytest.mark.e2e

BASE_URL = "http://127.0.0.1:8765"
IDENTIFIER = "op"
CALLBACK = f"{BASE_URL}/auth/callback/{IDENTIFIER}"
SECRET = "e2e secret:with+specials/&="
METHODS: list[tuple[AuthMethod, SigningAlg]] = [
    ("client_secret_basic", "RS256"),
    ("client_secret_post", "PS256"),
    ("none", "ES256"),
]
ACCOUNTS = {
    "alice": {
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "locale": "en-GB",
    },
    "carol": {"email": "carol@corp.example", "email_verified": True, "preferred_username": "carol"},
    "dave": {"email": "dave@example.com", "email_verified": False, "preferred_username": "dave"},
}


def client_id(method: str, alg: str) -> str:
    return f"{method}-{alg}".lower()


def clients() -> list[OidcClient]:
    return [
        OidcClient(
            client_id(method, alg),
            [CALLBACK],
            client_secret=None if method == "none" else SECRET,
            token_endpoint_auth_method=method,
            id_token_signed_response_alg=alg,
        )
        for method, alg in METHODS
    ]


op = oidc_provider_fixture(OidcProviderConfig(clients=clients(), accounts=ACCOUNTS))


def make_context(tmp_path: Path, db: Database, key: str) -> AppContext:
    config = Config(
        data_dir=tmp_path, secret_key=key, base_url=BASE_URL, dev_insecure_loopback=True
    )
    return AppContext.create(
        config,
        database=db,
        plugins=Plugins.load(disabled=()),
        outbound_settings=OutboundSettings.from_config(config),
    )


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
async def context(tmp_path: Path, db: Database, secret_key: str) -> AsyncIterator[AppContext]:
    ctx = make_context(tmp_path, db, secret_key)
    yield ctx
    await ctx.close()


@pytest.fixture
async def browser(context: AppContext) -> AsyncIterator[Browser]:
    browser = Browser(create_app(context), BASE_URL)
    yield browser
    await browser.aclose()


@pytest.fixture
def op_browser() -> Iterator[httpx.Client]:
    """The browser's side at the provider (its own cookies: _session, _interaction...)."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


def configure(
    ctx: AppContext,
    provider: OidcProvider,
    method: AuthMethod = "client_secret_basic",
    alg: SigningAlg = "RS256",
    **fields: object,
) -> None:
    add_provider(
        ctx,
        identifier=IDENTIFIER,
        issuer=provider.issuer,
        client_id=client_id(method, alg),
        client_secret=None if method == "none" else SECRET,
        auth_method=method,
        **fields,
    )


async def sign_in(
    browser: Browser, op_browser: httpx.Client, login: str = "alice"
) -> httpx.Response:
    """Click the button, sign in at the provider, come back: the callback's response."""
    started = await browser.click(IDENTIFIER)
    assert started.status_code == 303, started.text
    callback = complete_login(op_browser, started.headers["location"], login=login)
    assert callback.startswith(CALLBACK + "?")
    return await browser.follow(callback)


def signed_out(op_browser: httpx.Client) -> None:
    # A new person at the provider: forget who signed in there.
    op_browser.cookies.clear()


@pytest.mark.parametrize(("method", "alg"), METHODS)
async def test_a_person_signs_in_signs_out_and_signs_in_again_as_the_same_user(
    context: AppContext,
    browser: Browser,
    op_browser: httpx.Client,
    op: OidcProvider,
    db: Database,
    method: AuthMethod,
    alg: SigningAlg,
) -> None:
    configure(context, op, method, alg)
    done = await sign_in(browser, op_browser)
    assert (done.status_code, done.headers["location"]) == (303, "/account")
    account = await browser.client.get("/account")
    assert "alice" in account.text and "alice@example.com" in account.text
    first = outcome(db)
    assert (first.users, first.identities, first.sessions) == (1, 1, 1)
    assert first.event is not None and first.event.outcome == "success"
    out = await browser.client.post("/logout", data={"csrf_token": csrf_token(account)})
    assert out.status_code == 303 and outcome(db).sessions == 0
    again = await sign_in(browser, op_browser)
    assert again.status_code == 303
    assert (outcome(db).users, outcome(db).identities) == (1, 1)


@pytest.mark.parametrize("conform", [True, False])
async def test_claims_are_used_from_userinfo_or_the_id_token(
    tmp_path: Path,
    db: Database,
    secret_key: str,
    op_browser: httpx.Client,
    oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider],
    conform: bool,
) -> None:
    provider = oidc_provider_factory(
        OidcProviderConfig(clients=clients(), accounts=ACCOUNTS, conform_id_token_claims=conform)
    )
    ctx = make_context(tmp_path, db, secret_key)
    browser = Browser(create_app(ctx), BASE_URL)
    try:
        configure(ctx, provider)
        done = await sign_in(browser, op_browser)
    finally:
        await browser.aclose()
        await ctx.close()
    assert done.status_code == 303
    with db.session() as session:
        user = session.exec(select(User)).one()
    # With conformIdTokenClaims the ID token carries only sub: these came from UserInfo.
    assert (user.username, user.email, user.email_verified) == ("alice", "alice@example.com", True)
    assert (user.name, user.location) == ("Alice Liddell", "en-GB")


async def test_a_key_rotation_between_two_sign_ins_is_followed(
    context: AppContext,
    browser: Browser,
    op_browser: httpx.Client,
    oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider],
    db: Database,
) -> None:
    provider = oidc_provider_factory(OidcProviderConfig(clients=clients(), accounts=ACCOUNTS))
    configure(context, provider)
    assert (await sign_in(browser, op_browser)).status_code == 303
    old = provider.state()["kids"]
    new = provider.rotate_keys()
    assert not set(old) & set(new)
    assert (await sign_in(browser, op_browser)).status_code == 303
    assert outcome(db).event is not None and outcome(db).event.outcome == "success"  # type: ignore[union-attr]


async def test_match_only_refuses_a_stranger_and_signs_in_an_existing_user(
    context: AppContext, browser: Browser, op_browser: httpx.Client, op: OidcProvider, db: Database
) -> None:
    configure(context, op, provisioning_mode="match_only")
    refused = await sign_in(browser, op_browser)
    assert refused.status_code == 403
    assert "Match Only" in refused.text and "match_only_no_account" in refused.text
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert (result.event.step, result.event.code) == ("provisioning", "match_only_no_account")
    assert result.event.claims and result.event.claims["email"] == "alice@example.com"

    with db.transaction() as session:
        session.add(User(username="alice-local", email="alice@example.com", email_verified=True))
    signed_out(op_browser)
    done = await sign_in(browser, op_browser)
    assert done.status_code == 303
    account = await browser.client.get("/account")
    assert "alice-local" in account.text
    assert (outcome(db).users, outcome(db).identities) == (1, 1)


async def test_an_email_the_provider_did_not_verify_creates_no_account_until_verified(
    context: AppContext, browser: Browser, op_browser: httpx.Client, op: OidcProvider, db: Database
) -> None:
    # The whole verification path is tests/e2e/test_accounts_e2e.py's.
    configure(context, op)
    waiting = await sign_in(browser, op_browser, login="dave")
    assert waiting.status_code == 303 and waiting.headers["location"].startswith("/verify-email/")
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert (result.event.outcome, result.event.step, result.event.code) == (
        "pending",
        "provisioning",
        "email_verification_sent",
    )


async def test_allowed_domains_admit_only_their_addresses(
    context: AppContext, browser: Browser, op_browser: httpx.Client, op: OidcProvider, db: Database
) -> None:
    configure(context, op, allowed_domains=["corp.example"])
    refused = await sign_in(browser, op_browser, login="alice")
    assert refused.status_code == 403
    assert "example.com" in refused.text and "domain_not_allowed" in refused.text
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert result.event.step == "domain"

    signed_out(op_browser)
    admitted = await sign_in(browser, op_browser, login="carol")
    assert admitted.status_code == 303
    assert outcome(db).users == 1


async def test_a_sign_in_started_on_one_process_finishes_on_another(
    tmp_path: Path,
    db: Database,
    secret_key: str,
    op_browser: httpx.Client,
    op: OidcProvider,
) -> None:
    # Two app contexts (two processes' worth of caches and clients) on one database.
    first = make_context(tmp_path / "a", db, secret_key)
    second = make_context(tmp_path / "b", db, secret_key)
    on_first = Browser(create_app(first), BASE_URL)
    on_second = Browser(create_app(second), BASE_URL)
    try:
        configure(first, op)
        started = await on_first.click(IDENTIFIER)
        callback = complete_login(op_browser, started.headers["location"])
        on_second.client.cookies = on_first.client.cookies  # the same browser, another process
        done = await on_second.follow(callback)
        assert done.status_code == 303 and done.headers["location"] == "/account"
        # The session made by the second process is good on the first.
        on_first.client.cookies = on_second.client.cookies
        assert (await on_first.client.get("/account")).status_code == 200
        # A provider disabled through one process is refused by the other at once.
        token = csrf_token(await on_second.login_page())
        with db.transaction() as session:
            IdentityProviders(session, first.plugins, first.secrets, actor="test").update(
                IDENTIFIER, {"enabled": False}
            )
        refused = await on_second.click(IDENTIFIER, csrf=token)
        assert refused.status_code == 403 and "provider_disabled" in refused.text
    finally:
        await on_first.aclose()
        await on_second.aclose()
        await first.close()
        await second.close()
