"""P15 over HTTP: an address the provider did not verify gets a code by email (a real SMTP
server, aiosmtpd) and no account until it is proven, in the browser that started the
sign-in: the code typed on the waiting page, or the email's link opened there. Wrong codes,
other browsers, expiry, resends and the per-address mail limit each refuse clearly."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.accounts import verification
from fedlogin.accounts.provisioning import ProvisioningRefused
from fedlogin.config import Config
from fedlogin.mail import outbox
from fedlogin.mail.message import MailMessage
from fedlogin.store.database import Database
from fedlogin.store.tables import EmailVerification, FederatedIdentity, User
from fedlogin.store.types import utcnow
from fedlogin.web.context import AppContext
from sqlalchemy import update
from sqlmodel import select
from starlette.applications import Starlette

from tests.support.hostile_op import HostileOP
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome
from tests.support.smtp import SmtpSink, code_in, link_in, smtp_sink

__all__ = ["smtp_sink"]

BASE_URL = "http://testserver"
EMAIL = "hostile.user@example.com"


@pytest.fixture
def config(tmp_path: Path, smtp_sink: SmtpSink) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
        base_url=BASE_URL,
        dev_insecure_loopback=True,
        smtp=smtp_sink.settings(),
    )


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> HostileOP:
    """A provider that does not vouch for its users' addresses."""
    hostile_op.claims["email_verified"] = False
    configure(context, hostile_op)
    return hostile_op


def configure(context: AppContext, op: HostileOP, **fields: Any) -> None:
    add_provider(
        context,
        identifier="hostile",
        issuer=op.issuer,
        client_id=op.client_id,
        client_secret=op.client_secret,
        **fields,
    )


@pytest.fixture
async def browsers(app: Starlette, context: AppContext) -> AsyncIterator[list[Browser]]:
    """The person's browser, and another one (someone else's, or a mail scanner)."""
    opened = [Browser(app, BASE_URL), Browser(app, BASE_URL)]
    yield opened
    for browser in opened:
        await browser.aclose()
    await context.close()


async def sign_in(browser: Browser, op: HostileOP, next_url: str | None = None) -> httpx.Response:
    started = await browser.click("hostile", next_url=next_url)
    assert started.status_code == 303, started.text
    return await browser.follow(op.follow_authorize(started.headers["location"]))


async def start_waiting(browser: Browser, op: HostileOP, next_url: str | None = None) -> str:
    """Sign in up to the waiting page; its URL."""
    back = await sign_in(browser, op, next_url)
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith("/verify-email/")
    return location


async def submit(browser: Browser, waiting: str, code: str) -> httpx.Response:
    page = await browser.client.get(waiting)
    return await browser.client.post(waiting, data={"csrf_token": csrf_token(page), "code": code})


def pending(db: Database) -> list[EmailVerification]:
    with db.session() as session:
        return list(session.exec(select(EmailVerification)).all())


def change_pending(db: Database, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(EmailVerification).values(**values))


def the_user(db: Database) -> User:
    with db.session() as session:
        return session.exec(select(User)).one()


# -- the path a person takes ---------------------------------------------------------------------


async def test_the_code_from_the_email_finishes_the_sign_in_and_creates_the_account(
    browsers: list[Browser],
    provider: HostileOP,
    smtp_sink: SmtpSink,
    db: Database,
    admin: httpx.AsyncClient,
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider, next_url="/account?tab=security")
    assert outcome(db).nothing_created  # no account until the address is proven
    event = outcome(db).event
    assert event is not None and (event.outcome, event.step, event.code) == (
        "pending",  # neither signed in nor refused: waiting on the person
        "provisioning",
        "email_verification_sent",
    )
    listed = await admin.get("/api/v1/sign-in-events", params={"outcome": "pending"})
    assert [e["code"] for e in listed.json()["events"]] == ["email_verification_sent"]
    refused = await admin.get("/api/v1/sign-in-events", params={"outcome": "refused"})
    assert refused.json()["events"] == []
    page = await browser.client.get(waiting)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "h***@example.com" in page.text and EMAIL not in page.text
    assert "Send a new code" in page.text and "UTC" in page.text
    mail = smtp_sink.last_to(EMAIL)
    assert "verification code" in str(mail["Subject"])
    done = await browser.client.post(
        waiting, data={"csrf_token": csrf_token(page), "code": code_in(mail)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/account?tab=security"
    user = the_user(db)
    assert (user.username, user.email, user.email_verified) == ("hostile.user", EMAIL, True)
    assert (outcome(db).users, outcome(db).identities, outcome(db).sessions) == (1, 1, 1)
    assert pending(db) == []
    event = outcome(db).event
    assert event is not None and event.outcome == "success" and event.user_id == user.id
    assert (await browser.client.get("/account")).status_code == 200
    # The same code again: the verification is gone.
    again = await browser.client.post(waiting, data={"csrf_token": "x", "code": code_in(mail)})
    assert again.status_code in (403, 404)


async def test_the_link_in_the_email_opened_in_the_same_browser_signs_in(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    await start_waiting(browser, provider)
    link = link_in(smtp_sink.last_to(EMAIL))
    assert link.startswith(BASE_URL + "/verify-email/link/")
    done = await browser.follow(link)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert the_user(db).email_verified and outcome(db).sessions == 1


async def test_the_link_opened_in_another_browser_changes_nothing(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    mine, other = browsers
    waiting = await start_waiting(mine, provider)
    await other.login_page()  # a browser with a cookie of its own
    mail = smtp_sink.last_to(EMAIL)
    refused = await other.follow(link_in(mail))
    assert refused.status_code == 403
    assert "verification_other_browser" in refused.text and "browser" in refused.text
    assert outcome(db).users == 0 and len(pending(db)) == 1
    other.client.cookies.clear()  # a mail scanner following links keeps no cookie
    cookieless = await other.follow(link_in(mail))
    assert cookieless.status_code == 403 and len(pending(db)) == 1
    # The person can still finish where they started.
    done = await submit(mine, waiting, code_in(mail))
    assert done.status_code == 303 and outcome(db).users == 1


async def test_the_waiting_page_and_the_code_are_refused_in_another_browser(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    mine, other = browsers
    waiting = await start_waiting(mine, provider)
    page = await other.client.get(waiting)
    assert page.status_code == 403 and "verification_other_browser" in page.text
    token = csrf_token(await other.login_page())
    code = code_in(smtp_sink.last_to(EMAIL))
    stolen = await other.client.post(waiting, data={"csrf_token": token, "code": code})
    assert stolen.status_code == 403
    assert outcome(db).nothing_created and pending(db)[0].attempts == 0


async def test_wrong_codes_are_counted_and_the_last_one_ends_the_verification(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    right = code_in(smtp_sink.last_to(EMAIL))
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    malformed = await submit(browser, waiting, "12ab56")
    assert malformed.status_code == 400 and "6 digits" in malformed.text
    assert pending(db)[0].attempts == 0  # a typo is not a guess
    for left in range(verification.MAX_ATTEMPTS - 1, 0, -1):
        answer = await submit(browser, waiting, wrong)
        assert answer.status_code == 400 and f"{left} more" in answer.text
    last = await submit(browser, waiting, wrong)
    assert last.status_code == 429 and "verification_attempts_exhausted" in last.text
    assert pending(db) == [] and outcome(db).nothing_created
    event = outcome(db).event
    assert event is not None and event.code == "verification_attempts_exhausted"
    gone = await browser.client.post(waiting, data={"csrf_token": "x", "code": right})
    assert gone.status_code in (403, 404) and outcome(db).users == 0


async def test_a_code_with_spaces_or_dashes_is_accepted(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    code = code_in(smtp_sink.last_to(EMAIL))
    done = await submit(browser, waiting, f" {code[:3]}-{code[3:]} ")
    assert done.status_code == 303 and outcome(db).users == 1


async def test_the_code_form_needs_the_csrf_token(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    code = code_in(smtp_sink.last_to(EMAIL))
    forged = await browser.client.post(waiting, data={"csrf_token": "forged", "code": code})
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    assert outcome(db).users == 0 and pending(db)[0].attempts == 0


async def test_resend_waits_a_minute_then_sends_a_new_code_that_replaces_the_old(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    first = code_in(smtp_sink.last_to(EMAIL))
    page = await browser.client.get(waiting)
    too_soon = await browser.client.post(waiting + "/resend", data={"csrf_token": csrf_token(page)})
    assert too_soon.status_code == 429 and "seconds" in too_soon.text
    assert len(smtp_sink.to(EMAIL)) == 1
    change_pending(db, last_sent_at=utcnow() - verification.RESEND_INTERVAL)
    sent = await browser.client.post(waiting + "/resend", data={"csrf_token": csrf_token(page)})
    assert sent.status_code == 200 and "A new code is on its way" in sent.text
    assert len(smtp_sink.to(EMAIL)) == 2
    second = code_in(smtp_sink.last_to(EMAIL))
    if second != first:  # one chance in a million that they are equal
        stale = await submit(browser, waiting, first)
        assert stale.status_code == 400 and outcome(db).users == 0
    done = await submit(browser, waiting, second)
    assert done.status_code == 303 and outcome(db).users == 1


async def test_resend_stops_after_the_limit(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    change_pending(db, sends=verification.MAX_SENDS)
    page = await browser.client.get(waiting)
    refused = await browser.client.post(waiting + "/resend", data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 429 and "already sent" in refused.text
    assert len(smtp_sink.to(EMAIL)) == 1


async def test_an_expired_verification_says_so_and_creates_nothing(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    page = await browser.client.get(waiting)
    change_pending(db, expires_at=utcnow() - timedelta(seconds=1))
    expired = await browser.client.get(waiting)
    assert expired.status_code == 410 and "verification_expired" in expired.text
    code = code_in(smtp_sink.last_to(EMAIL))
    late = await browser.client.post(waiting, data={"csrf_token": csrf_token(page), "code": code})
    assert late.status_code == 410 and outcome(db).nothing_created
    link = await browser.follow(link_in(smtp_sink.last_to(EMAIL)))
    assert link.status_code == 410


async def test_an_address_gets_a_limited_number_of_verification_emails(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    with db.transaction() as session:
        for _ in range(verification.MAILS_PER_ADDRESS):
            message = MailMessage("verification", EMAIL, "Code", "Your verification code is")
            outbox.enqueue(session, message, now=utcnow())
    refused = await sign_in(browsers[0], provider)
    assert refused.status_code == 429 and "verification_mail_limit" in refused.text
    assert "h***@example.com" in refused.text
    assert outcome(db).nothing_created and pending(db) == []
    assert smtp_sink.to(EMAIL) == []


async def test_an_account_that_took_the_address_meanwhile_is_not_joined(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    waiting = await start_waiting(browser, provider)
    with db.transaction() as session:
        session.add(User(username="early-bird", email=EMAIL, email_verified=True))
    refused = await submit(browser, waiting, code_in(smtp_sink.last_to(EMAIL)))
    assert refused.status_code == 403 and "account_exists" in refused.text
    assert "Account → Security" in refused.text
    with db.session() as session:
        assert session.exec(select(FederatedIdentity)).first() is None
    assert outcome(db).sessions == 0


async def finished_elsewhere_meanwhile(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink
) -> tuple[str, str]:
    """The first browser waits with its code; the same person finishes in the second one
    (the identity is linked to a new user): the first's waiting page and code."""
    waiting = await start_waiting(browsers[0], provider)
    code = code_in(smtp_sink.last_to(EMAIL))
    elsewhere = await start_waiting(browsers[1], provider)
    done = await submit(browsers[1], elsewhere, code_in(smtp_sink.last_to(EMAIL)))
    assert done.status_code == 303
    return waiting, code


async def test_finishing_after_the_identity_was_linked_meanwhile_signs_into_its_user(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    waiting, code = await finished_elsewhere_meanwhile(browsers, provider, smtp_sink)
    done = await submit(browsers[0], waiting, code)
    assert done.status_code == 303
    assert (outcome(db).users, outcome(db).identities, outcome(db).sessions) == (1, 1, 2)


async def test_a_user_disabled_between_the_mail_and_the_click_is_refused(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    waiting, code = await finished_elsewhere_meanwhile(browsers, provider, smtp_sink)
    with db.transaction() as session:
        session.execute(update(User).values(disabled=True))
    refused = await submit(browsers[0], waiting, code)
    assert refused.status_code == 403 and "user_disabled" in refused.text
    assert outcome(db).sessions == 1  # only the one made before the user was disabled


async def test_finishing_waits_for_a_disabling_under_way_and_then_refuses(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    # The admin's transaction holds the user's row while the click is finished: without the
    # row lock, PostgreSQL would let the click read the user as still enabled and sign in.
    await finished_elsewhere_meanwhile(browsers, provider, smtp_sink)
    [row] = pending(db)
    result: list[object] = []

    def click() -> None:
        try:
            with db.transaction() as session:
                found = session.get(EmailVerification, row.id)
                assert found is not None
                result.append(verification.finish(session, found, utcnow()))
        except ProvisioningRefused as refused:
            result.append(refused.code)

    with db.transaction() as admin:
        admin.execute(update(User).values(disabled=True))
        admin.flush()
        clicked = threading.Thread(target=click)
        clicked.start()
        clicked.join(timeout=0.5)
        assert clicked.is_alive() and result == []  # waiting for the admin's commit
    clicked.join(timeout=10)
    assert result == ["user_disabled"]
    assert len(pending(db)) == 1  # refused: rolled back, nothing used up


async def test_a_second_attempt_from_the_same_browser_replaces_the_first(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    browser = browsers[0]
    first = await start_waiting(browser, provider)
    second = await start_waiting(browser, provider)
    assert first != second and len(pending(db)) == 1
    assert (await browser.client.get(first)).status_code == 404
    done = await submit(browser, second, code_in(smtp_sink.last_to(EMAIL)))
    assert done.status_code == 303


# -- the email trust modes (P15) -----------------------------------------------------------------


async def test_always_verify_sends_a_code_even_for_a_verified_address(
    browsers: list[Browser], context: AppContext, hostile_op: HostileOP, smtp_sink: SmtpSink
) -> None:
    configure(context, hostile_op, email_trust_mode="always_verify")
    assert hostile_op.claims["email_verified"] is True
    await start_waiting(browsers[0], hostile_op)
    assert len(smtp_sink.to(EMAIL)) == 1


async def test_trust_idp_signs_in_an_unverified_address_without_a_code(
    browsers: list[Browser],
    context: AppContext,
    hostile_op: HostileOP,
    smtp_sink: SmtpSink,
    db: Database,
) -> None:
    hostile_op.claims["email_verified"] = False
    configure(context, hostile_op, email_trust_mode="trust_idp")
    done = await sign_in(browsers[0], hostile_op)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert the_user(db).email_verified and smtp_sink.messages == []


async def test_verify_with_claim_signs_in_a_verified_address_without_a_code(
    browsers: list[Browser],
    context: AppContext,
    hostile_op: HostileOP,
    smtp_sink: SmtpSink,
    db: Database,
) -> None:
    configure(context, hostile_op)
    done = await sign_in(browsers[0], hostile_op)
    assert done.headers["location"] == "/account" and the_user(db).email_verified
    assert smtp_sink.messages == []
