"""A sign-in against a fake identity provider: respx routes and joserfc-signed tokens.

The relying party is the real one (an :class:`AppContext` on the shared ``db`` fixture, so
every test runs on SQLite and PostgreSQL); only the provider's HTTP side is simulated, so
that tests can check exactly what we send it and bend what it answers. DNS is faked:
``idp.example.com`` resolves to a public address and nothing leaves the process.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from fedlogin.accounts.provisioning import Provisioned
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings, address_guard
from fedlogin.plugins import Plugins
from fedlogin.signin import flow
from fedlogin.signin.errors import SignInRefused
from fedlogin.store.database import Database
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.settings import update_settings
from fedlogin.store.tables import BrowserSession, FederatedIdentity, SignInEvent, User
from fedlogin.web.context import AppContext
from joserfc import jws
from joserfc.jwk import RSAKey
from sqlmodel import Session, col, select

from tests.support.respx_outbound import OUTBOUND

ISSUER = "https://idp.example.com"
BASE_URL = "http://testserver"
HOST = "testserver"
BROWSER = "browser-cookie-value"
CLIENT_ID = "client-123"
CLIENT_SECRET = "s3cret with:colon+plus/slash"


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    async def resolve(host: str, port: int) -> list[address_guard.IPAddress]:
        assert host == "idp.example.com", host
        return [ipaddress.ip_address("93.184.215.14")]

    monkeypatch.setattr(address_guard, "resolve_host", resolve)


@pytest.fixture(scope="session")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


class FakeIdp:
    """The provider: it remembers the authorization request and answers the token request."""

    def __init__(self, router: respx.MockRouter, key: RSAKey) -> None:
        self.router = router
        self.key = key
        self.authorization: dict[str, str] = {}
        self.token_requests: list[httpx.Request] = []
        self.claims: dict[str, Any] = {
            "email": "ada@example.org",
            "email_verified": True,
            "preferred_username": "ada",
            "name": "Ada",
        }
        self.id_token_overrides: dict[str, Any] = {}
        self.userinfo_claims: dict[str, Any] | None = None
        self.token_response: httpx.Response | None = None
        self.discovery = router.get(ISSUER + "/.well-known/openid-configuration").respond(
            json={
                "issuer": ISSUER,
                "authorization_endpoint": ISSUER + "/authorize",
                "token_endpoint": ISSUER + "/token",
                "userinfo_endpoint": ISSUER + "/userinfo",
                "jwks_uri": ISSUER + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "authorization_response_iss_parameter_supported": True,
            }
        )
        router.get(ISSUER + "/jwks").respond(json={"keys": [key.as_dict(private=False)]})
        self.token = router.post(ISSUER + "/token").mock(side_effect=self._token)
        self.userinfo = router.get(ISSUER + "/userinfo").mock(side_effect=self._userinfo)

    def authorize(self, url: str, **params: str) -> dict[str, str]:
        """The callback parameters after the user signed in at the provider."""
        self.authorization = dict(parse_qsl(urlsplit(url).query))
        answer = {"code": "the-code", "state": self.authorization["state"], "iss": ISSUER}
        answer.update(params)
        return {k: v for k, v in answer.items() if v}

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append(request)
        if self.token_response is not None:
            return self.token_response
        body = dict(parse_qsl(request.content.decode()))
        digest = hashlib.sha256(body["code_verifier"].encode()).digest()
        if _b64(digest) != self.authorization["code_challenge"]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        access_token = "access-token-value"
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "user-42",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": self.authorization["nonce"],
            "at_hash": _b64(hashlib.sha256(access_token.encode()).digest()[:16]),
        }
        claims.update(self.id_token_overrides)
        header = {"alg": "RS256", "kid": self.key.kid}
        id_token = jws.serialize_compact(header, json.dumps(claims), self.key)
        return httpx.Response(
            200, json={"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
        )

    def _userinfo(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer access-token-value"
        claims = (
            self.userinfo_claims
            if self.userinfo_claims is not None
            else {"sub": "user-42", **self.claims}
        )
        return httpx.Response(200, json=claims)

    def token_form(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.token_requests[index].content.decode()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(using=OUTBOUND, assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def idp(router: respx.MockRouter, signing_key: RSAKey) -> FakeIdp:
    return FakeIdp(router, signing_key)


@pytest.fixture
async def context(tmp_path: Path, db: Database) -> AsyncIterator[AppContext]:
    config = Config(data_dir=tmp_path, secret_key=Fernet.generate_key().decode(), base_url=BASE_URL)
    ctx = AppContext.create(
        config, database=db, plugins=Plugins.load(disabled=()), outbound_settings=OutboundSettings()
    )
    yield ctx
    await ctx.close()


def add_provider(ctx: AppContext, offered: bool = True, **values: Any) -> None:
    data = {
        "identifier": "corp",
        "name": "Corp SSO",
        "preset": "generic-oidc",
        "domain": "idp.example.com",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "auth_method": "client_secret_post",
        **values,
    }
    with ctx.database.transaction() as session:
        IdentityProviders(session, ctx.plugins, ctx.secrets, actor="test").create(data)
        update_settings(
            session,
            {"federated_login_enabled": offered, "identity_providers": ["corp"]},
            actor="test",
        )


def remember_user(session: Session, provisioned: Provisioned) -> str:
    """``on_success``: what the web layer would turn into a session cookie."""
    return f"session-for-{provisioned.user.username}"


async def begin(
    ctx: AppContext,
    *,
    identifier: str = "corp",
    browser: str = BROWSER,
    host: str = HOST,
    next_url: str | None = None,
) -> str:
    """Press the button: the authorization URL."""
    return await flow.start(
        ctx, identifier=identifier, host=host, browser=browser, next_url=next_url
    )


async def complete(
    ctx: AppContext, params: dict[str, str], *, browser: str | None = BROWSER
) -> flow.SignInResult[str]:
    """Come back from the provider with ``params``."""
    return await flow.finish(
        ctx,
        identifier="corp",
        params=params,
        browser=browser,
        host=HOST,
        on_success=remember_user,
    )


async def sign_in(
    ctx: AppContext, idp: FakeIdp, *, browser: str = BROWSER, **callback: str
) -> flow.SignInResult[str]:
    url = await begin(ctx, browser=browser, next_url="/account")
    return await complete(ctx, idp.authorize(url, **callback), browser=browser)


def refused_cleanly(db: Database, refusal: SignInRefused) -> bool:
    """No user, identity link or browser session exists, and the last sign-in event records
    this refusal with its step and code."""
    with db.session() as session:
        created = any(
            session.exec(select(table)).first()
            for table in (User, FederatedIdentity, BrowserSession)
        )
    event = last_event(db)
    return (
        not created
        and event is not None
        and (event.outcome, event.step, event.code) == ("refused", refusal.step, refusal.code)
    )


def last_event(db: Database) -> SignInEvent | None:
    with db.session() as session:
        return session.exec(select(SignInEvent).order_by(col(SignInEvent.id).desc())).first()
