"""Account matching without takeover (issue 5 point 3, SECURITY.md "Accounts", X2).

An existing account is joined by email only when the provider's trust mode trusts the
address *and* the account's own address is verified; otherwise the person is told to sign
in and link from Account → Security, and nothing is linked, created or mailed. A join ends
the account's other sessions. Azure AD's email is trusted only with ``xms_edov`` (nOAuth):
Microsoft is simulated with respx (there is no Microsoft here), the rest of the app is real.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import respx
from fedlogin.oidc import address_guard
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, FederatedIdentity, OutboxMessage, User
from fedlogin.web import sessions
from fedlogin.web.context import AppContext
from joserfc import jws
from joserfc.jwk import RSAKey
from sqlmodel import col, select
from starlette.applications import Starlette

from tests.support.hostile_op import HostileOP
from tests.support.respx_outbound import OUTBOUND
from tests.support.sign_in import Browser, add_provider, outcome

BASE_URL = "http://testserver"
VICTIM = "victim@contoso.example"


@pytest.fixture
async def browser(app: Starlette, context: AppContext) -> AsyncIterator[Browser]:
    browser = Browser(app, BASE_URL)
    yield browser
    await browser.aclose()
    await context.close()


def add_victim(db: Database, *, verified: bool = True) -> int:
    with db.transaction() as session:
        user = User(username="victim", email=VICTIM, email_verified=verified)
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


def identities(db: Database) -> list[FederatedIdentity]:
    with db.session() as session:
        return list(session.exec(select(FederatedIdentity)).all())


def outbox_rows(db: Database) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.exec(select(OutboxMessage)).all())


def sessions_of(db: Database, user_id: int) -> list[BrowserSession]:
    with db.session() as session:
        query = select(BrowserSession).where(col(BrowserSession.user_id) == user_id)
        return list(session.exec(query).all())


# -- a generic provider (the hostile test provider, well-behaved) -------------------------------


def hostile(context: AppContext, op: HostileOP, *, email_verified: bool, **fields: Any) -> None:
    op.claims.update({"email": VICTIM, "email_verified": email_verified})
    add_provider(
        context,
        identifier="hostile",
        issuer=op.issuer,
        client_id=op.client_id,
        client_secret=op.client_secret,
        **fields,
    )


async def sign_in(browser: Browser, op: HostileOP) -> httpx.Response:
    started = await browser.click("hostile")
    return await browser.follow(op.follow_authorize(started.headers["location"]))


async def test_an_unverified_address_is_told_to_sign_in_and_link_instead(
    browser: Browser, context: AppContext, hostile_op: HostileOP, db: Database
) -> None:
    add_victim(db)
    hostile(context, hostile_op, email_verified=False)
    refused = await sign_in(browser, hostile_op)
    assert refused.status_code == 403 and "email_not_trusted" in refused.text
    assert "Account → Security" in refused.text
    assert identities(db) == [] and outcome(db).sessions == 0
    # Not even a verification email: the account exists, proving the address would not
    # make the provider's account the owner's.
    assert outbox_rows(db) == []


@pytest.mark.parametrize("mode", ["verify_with_claim", "trust_idp"])
async def test_an_account_whose_own_address_is_unverified_is_never_joined(
    browser: Browser, context: AppContext, hostile_op: HostileOP, db: Database, mode: str
) -> None:
    # Pre-hijacking: someone registered the victim's address first and never proved it.
    squatter = add_victim(db, verified=False)
    hostile(context, hostile_op, email_verified=True, email_trust_mode=mode)
    refused = await sign_in(browser, hostile_op)
    assert refused.status_code == 403 and "account_email_unverified" in refused.text
    assert identities(db) == [] and sessions_of(db, squatter) == []
    assert outcome(db).users == 1


async def test_a_trusted_address_joins_the_verified_account_and_ends_its_other_sessions(
    browser: Browser, context: AppContext, hostile_op: HostileOP, db: Database
) -> None:
    victim = add_victim(db)
    with db.transaction() as session:
        sessions.create_session(session, user_id=victim)  # signed in on another device
    [elsewhere] = sessions_of(db, victim)
    hostile(context, hostile_op, email_verified=True)
    done = await sign_in(browser, hostile_op)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    [linked] = identities(db)
    assert linked.user_id == victim
    [now] = sessions_of(db, victim)
    # The other device was signed out; this browser is in (SQLite may reuse the row id).
    assert now.token_hash != elsewhere.token_hash and str(now.user_agent).startswith("python-httpx")
    event = outcome(db).event
    assert event is not None and "matched by its verified email" in (event.message or "")


# -- Azure AD (nOAuth) ---------------------------------------------------------------------------

TENANT = "6f3a9a1e-1b7d-4b8e-9c61-0d2f3e4a5b6c"
OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}/v2.0"
CLIENT_ID = "azure-client"


class Microsoft:
    """Microsoft's endpoints for one tenant, answered by respx; ID tokens signed with joserfc."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "azure-1"})
        self.claims: dict[str, Any] = {}
        self.nonce = ""
        host = "https://login.microsoftonline.com"
        router.get(f"{AUTHORITY}/.well-known/openid-configuration").respond(
            json={
                "issuer": AUTHORITY,
                "authorization_endpoint": f"{host}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": f"{host}/{TENANT}/oauth2/v2.0/token",
                "jwks_uri": f"{host}/{TENANT}/discovery/v2.0/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )
        router.get(f"{host}/{TENANT}/discovery/v2.0/keys").respond(
            json={"keys": [self.key.as_dict(private=False)]}
        )
        router.post(f"{host}/{TENANT}/oauth2/v2.0/token").mock(side_effect=self._token)

    def _token(self, request: httpx.Request) -> httpx.Response:
        access_token = "azure-access-token"
        now = int(time.time())
        claims = {
            "iss": AUTHORITY,
            "aud": CLIENT_ID,
            "sub": "pairwise-sub",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            "tid": OTHER_TENANT,
            "oid": "11111111-2222-4333-8444-555555555555",
            "at_hash": _half_hash(access_token),
            **self.claims,
        }
        header = {"alg": "RS256", "kid": "azure-1"}
        token = jws.serialize_compact(header, json.dumps(claims), self.key)
        return httpx.Response(
            200, json={"access_token": access_token, "token_type": "Bearer", "id_token": token}
        )


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def microsoft(monkeypatch: pytest.MonkeyPatch) -> Iterator[Microsoft]:
    async def resolve(host: str, port: int) -> list[address_guard.IPAddress]:
        assert host == "login.microsoftonline.com", host
        return [ipaddress.ip_address("20.190.160.1")]

    monkeypatch.setattr(address_guard, "resolve_host", resolve)
    with respx.mock(using=OUTBOUND, assert_all_mocked=True, assert_all_called=False) as router:
        yield Microsoft(router)


def add_azure(context: AppContext, **fields: Any) -> None:
    add_provider(
        context,
        identifier="azure",
        issuer=f"login.microsoftonline.com/{TENANT}/v2.0",
        client_id=CLIENT_ID,
        client_secret="azure secret",
        preset="azure-ad",
        preset_options={"tenant": TENANT},
        **fields,
    )


async def sign_in_with_azure(browser: Browser, microsoft: Microsoft) -> httpx.Response:
    started = await browser.click("azure")
    assert started.status_code == 303, started.text
    authorization = dict(parse_qsl(urlsplit(started.headers["location"]).query))
    microsoft.nonce = authorization["nonce"]
    query = urlencode({"code": "azure-code", "state": authorization["state"]})
    return await browser.client.get(f"/auth/callback/azure?{query}")


async def test_azure_email_without_xms_edov_never_reaches_an_existing_account(
    browser: Browser, context: AppContext, microsoft: Microsoft, db: Database
) -> None:
    # nOAuth: an admin of another tenant set a user's email to the victim's address.
    victim = add_victim(db)
    add_azure(context)
    microsoft.claims = {"email": VICTIM, "email_verified": True}  # Microsoft's word: no
    refused = await sign_in_with_azure(browser, microsoft)
    assert refused.status_code == 403 and "email_not_trusted" in refused.text
    assert identities(db) == [] and sessions_of(db, victim) == []
    assert outbox_rows(db) == []
    event = outcome(db).event
    assert event is not None and (event.step, event.code) == ("provisioning", "email_not_trusted")


async def test_azure_email_with_xms_edov_joins_the_verified_account(
    browser: Browser, context: AppContext, microsoft: Microsoft, db: Database
) -> None:
    victim = add_victim(db)
    add_azure(context)
    microsoft.claims = {"email": VICTIM, "xms_edov": True}
    done = await sign_in_with_azure(browser, microsoft)
    assert done.status_code == 303, done.text
    [linked] = identities(db)
    assert linked.user_id == victim
    assert linked.subject == f"{OTHER_TENANT}:11111111-2222-4333-8444-555555555555"


async def test_azure_email_without_xms_edov_and_no_account_must_be_proven_first(
    browser: Browser, context: AppContext, microsoft: Microsoft, db: Database
) -> None:
    add_azure(context)
    microsoft.claims = {"email": "newcomer@contoso.example"}
    waiting = await sign_in_with_azure(browser, microsoft)
    assert waiting.status_code == 303
    assert waiting.headers["location"].startswith("/verify-email/")
    assert outcome(db).nothing_created
    [mail] = outbox_rows(db)
    assert mail.to_address == "newcomer@contoso.example"


async def test_the_api_warns_about_trust_idp_on_azure_only(
    admin: httpx.AsyncClient, context: AppContext, hostile_op: HostileOP
) -> None:
    add_azure(context, email_trust_mode="trust_idp")
    azure = (await admin.get("/api/v1/identity-providers/azure")).json()
    [warning] = azure["warnings"]
    assert warning["code"] == "trust_idp_unverified_email" and "xms_edov" in warning["message"]
    # Sending back what was read keeps working: warnings are read-only.
    changed = await admin.patch(
        "/api/v1/identity-providers/azure", json={**azure, "email_trust_mode": "verify_with_claim"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["warnings"] == []
    add_provider(
        context,
        identifier="corp",
        issuer=hostile_op.issuer,
        client_id="corp",
        client_secret="corp secret",
        email_trust_mode="trust_idp",
    )
    assert (await admin.get("/api/v1/identity-providers/corp")).json()["warnings"] == []
