"""Accounts end to end (issue 5 "done when") against the real node ``oidc-provider`` and a real
SMTP server (aiosmtpd on 127.0.0.1).

* A person whose provider does not vouch for their address (``email_verified`` false) signs
  up: the verification email arrives at the SMTP server, the code typed on the waiting page
  creates the account, and later sign-ins go straight in.
* A person signs in with a password, connects two providers, sees both in Connected Accounts
  with the email each gave and when it was linked, disconnects one; a person without a
  password is refused when disconnecting their only provider.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.accounts import passwords
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.database import Database
from fedlogin.store.tables import FederatedIdentity, User
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from sqlmodel import col, select

from tests.support.oidc_provider import (
    OidcClient,
    OidcProvider,
    OidcProviderConfig,
    oidc_provider_fixture,
)
from tests.support.op_login import complete_login
from tests.support.passwords import fast_passwords
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome
from tests.support.smtp import SmtpSink, body_of, code_in, smtp_sink

__all__ = ["fast_passwords", "smtp_sink"]
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("fast_passwords")]

BASE_URL = "http://127.0.0.1:8766"
PAGE = "/account/security"
SECRET = "accounts e2e secret"
PASSWORD = "ada's long password"
ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True, "preferred_username": "alice"},
    "dave": {"email": "dave@example.com", "email_verified": False, "preferred_username": "dave"},
}


def callback(identifier: str) -> str:
    return f"{BASE_URL}/auth/callback/{identifier}"


op = oidc_provider_fixture(
    OidcProviderConfig(
        clients=[
            OidcClient(name, [callback(name)], SECRET, "client_secret_post")
            for name in ("work", "school")
        ],
        accounts=ACCOUNTS,
    )
)


@pytest.fixture
async def context(
    tmp_path: Path, db: Database, smtp_sink: SmtpSink, op: OidcProvider
) -> AsyncIterator[AppContext]:
    config = Config(
        data_dir=tmp_path,
        secret_key=Fernet.generate_key().decode(),
        base_url=BASE_URL,
        dev_insecure_loopback=True,
        smtp=smtp_sink.settings(),
    )
    ctx = AppContext.create(
        config,
        database=db,
        plugins=Plugins.load(disabled=()),
        outbound_settings=OutboundSettings.from_config(config),
    )
    # Two providers at the same OpenID provider (two clients): two identities to connect.
    offered: list[str] = []
    for name in ("work", "school"):
        offered.append(name)
        add_provider(
            ctx,
            identifier=name,
            issuer=op.issuer,
            client_id=name,
            client_secret=SECRET,
            offered=offered,
        )
    yield ctx
    await ctx.close()


@pytest.fixture
async def browser(context: AppContext) -> AsyncIterator[Browser]:
    browser = Browser(create_app(context), BASE_URL)
    yield browser
    await browser.aclose()


@pytest.fixture
def op_browser() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


async def sign_in(
    browser: Browser, op_browser: httpx.Client, identifier: str, login: str
) -> httpx.Response:
    started = await browser.click(identifier)
    assert started.status_code == 303, started.text
    return await browser.follow(
        complete_login(op_browser, started.headers["location"], login=login)
    )


async def connect(
    browser: Browser, op_browser: httpx.Client, identifier: str, login: str
) -> httpx.Response:
    page = await browser.client.get(PAGE)
    assert f'data-link-provider="{identifier}"' in page.text
    started = await browser.client.post(
        f"{PAGE}/link/{identifier}", data={"csrf_token": csrf_token(page)}
    )
    assert started.status_code == 303, started.text
    return await browser.follow(
        complete_login(op_browser, started.headers["location"], login=login)
    )


async def test_an_unverified_address_signs_up_with_the_code_from_the_email(
    browser: Browser, op_browser: httpx.Client, smtp_sink: SmtpSink, db: Database
) -> None:
    waiting = await sign_in(browser, op_browser, "work", "dave")
    assert waiting.status_code == 303 and waiting.headers["location"].startswith("/verify-email/")
    assert outcome(db).nothing_created
    page = await browser.client.get(waiting.headers["location"])
    assert "d***@example.com" in page.text
    mail = smtp_sink.last_to("dave@example.com")
    assert f"{BASE_URL}/verify-email/link/" in body_of(mail)
    done = await browser.client.post(
        waiting.headers["location"], data={"csrf_token": csrf_token(page), "code": code_in(mail)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    with db.session() as session:
        user = session.exec(select(User)).one()
    assert (user.username, user.email, user.email_verified) == ("dave", "dave@example.com", True)
    account = await browser.client.get("/account")
    assert account.status_code == 200 and "dave@example.com" in account.text

    # Signed out and back: the identity is linked, no second email.
    await browser.client.post("/logout", data={"csrf_token": csrf_token(account)})
    again = await sign_in(browser, op_browser, "work", "dave")
    assert again.status_code == 303 and again.headers["location"] == "/account"
    assert len(smtp_sink.to("dave@example.com")) == 1 and outcome(db).users == 1


async def test_a_person_connects_two_providers_sees_them_and_disconnects_one(
    browser: Browser, op_browser: httpx.Client, smtp_sink: SmtpSink, db: Database
) -> None:
    with db.transaction() as session:
        ada = User(
            username="ada",
            email="ada@example.org",
            email_verified=True,
            password_hash=passwords.hash_password(PASSWORD),
        )
        session.add(ada)
    login_page = await browser.login_page()
    signed_in = await browser.client.post(
        "/login", data={"csrf_token": csrf_token(login_page), "login": "ada", "password": PASSWORD}
    )
    assert signed_in.status_code == 303

    first = await connect(browser, op_browser, "work", "alice")
    assert first.headers["location"] == f"{PAGE}?connected=work"
    second = await connect(browser, op_browser, "school", "alice")
    assert second.headers["location"] == f"{PAGE}?connected=school"

    page = await browser.client.get(PAGE)
    with db.session() as session:
        linked = session.exec(select(FederatedIdentity).order_by(col(FederatedIdentity.id))).all()
    assert len(linked) == 2 and {identity.email for identity in linked} == {"alice@example.com"}
    for identity in linked:
        assert f'data-identity="{identity.id}"' in page.text
        assert identity.linked_at.strftime("%Y-%m-%d %H:%M") in page.text
    assert page.text.count("alice@example.com") >= 2
    subjects = [str(m["Subject"]) for m in smtp_sink.to("ada@example.org")]
    assert subjects == [
        "Work was connected to your account",
        "School was connected to your account",
    ]

    work = linked[0]
    done = await browser.client.post(
        f"{PAGE}/identities/{work.id}/unlink", data={"csrf_token": csrf_token(page)}
    )
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?disconnected=work"
    after = await browser.client.get(done.headers["location"])
    assert f'data-identity="{work.id}"' not in after.text
    assert 'data-link-provider="work"' in after.text  # it can be connected again
    assert "Work was disconnected" in str(smtp_sink.messages[-1]["Subject"])


async def test_the_only_provider_of_a_person_without_a_password_stays_connected(
    browser: Browser, op_browser: httpx.Client, db: Database
) -> None:
    done = await sign_in(browser, op_browser, "work", "alice")
    assert done.status_code == 303
    page = await browser.client.get(PAGE)
    found = re.search(r'data-identity="(\d+)"', page.text)
    assert found is not None
    refused = await browser.client.post(
        f"{PAGE}/identities/{found.group(1)}/unlink", data={"csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 409
    assert "Set a password or connect another provider first" in refused.text
    assert (outcome(db).users, outcome(db).identities) == (1, 1)
