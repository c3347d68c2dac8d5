"""The sign-in flow against a fake provider: what we send, and how each refusal ends."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import unquote_plus

import httpx
import pytest
from fedlogin.signin import flow
from fedlogin.signin.errors import SignInRefused
from fedlogin.store import brands
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.tables import EmailVerification, PendingFlow, User
from fedlogin.store.types import utcnow
from fedlogin.web.context import AppContext
from sqlalchemy import update
from sqlmodel import select

from .conftest import (
    BROWSER,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeIdp,
    add_provider,
    begin,
    complete,
    last_event,
    refused_cleanly,
    remember_user,
    sign_in,
)


async def refused(ctx: AppContext, idp: FakeIdp, **callback: str) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        await sign_in(ctx, idp, **callback)
    return caught.value


# -- what we send ------------------------------------------------------------------------


async def test_the_authorization_request_carries_state_nonce_and_pkce_s256(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    url = await begin(context)
    params = idp.authorize(url)
    assert idp.authorization["redirect_uri"] == "http://testserver/auth/callback/corp"
    assert idp.authorization["code_challenge_method"] == "S256"
    assert idp.authorization["scope"] == "openid profile email"
    assert len(idp.authorization["state"]) >= 43 and len(idp.authorization["nonce"]) >= 43
    with context.database.session() as session:
        stored = session.exec(select(PendingFlow)).one()
    # Only hashes of the state and the browser cookie are stored.
    assert params["state"] not in stored.state_hash
    assert stored.browser_hash != BROWSER


async def test_client_secret_post_sends_the_credentials_in_the_body(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context, auth_method="client_secret_post")
    await sign_in(context, idp)
    form = idp.token_form()
    assert (form["client_id"], form["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)
    assert "authorization" not in idp.token_requests[0].headers
    verifier_hash = hashlib.sha256(form["code_verifier"].encode()).digest()
    challenge = base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode()
    assert challenge == idp.authorization["code_challenge"]
    assert form["redirect_uri"] == idp.authorization["redirect_uri"]


async def test_client_secret_basic_sends_form_url_encoded_credentials_in_the_header(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context, auth_method="client_secret_basic")
    await sign_in(context, idp)
    form = idp.token_form()
    assert "client_secret" not in form and "client_id" not in form
    scheme, _, encoded = idp.token_requests[0].headers["authorization"].partition(" ")
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic"
    assert "%3A" in password and "+" in password  # ':' and ' ' form-url-encoded (RFC 6749 2.3.1)
    assert (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, CLIENT_SECRET)


async def test_a_public_client_sends_only_its_id_and_the_pkce_verifier(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context, auth_method="none", client_secret=None)
    await sign_in(context, idp)
    form = idp.token_form()
    assert form["client_id"] == CLIENT_ID and "client_secret" not in form
    assert "authorization" not in idp.token_requests[0].headers
    assert len(form["code_verifier"]) >= 43


# -- a completed sign-in -------------------------------------------------------------------


async def test_a_sign_in_creates_the_user_and_records_the_claims(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    result = await sign_in(context, idp)
    assert (result.username, result.created_user) == ("ada", True)
    assert (result.next_url, result.value) == ("/account", "session-for-ada")
    assert idp.userinfo.call_count == 1
    event = last_event(context.database)
    assert (event.outcome, event.step, event.user_id) == ("success", None, result.user_id)
    assert event.claims is not None
    assert event.claims["email"] == "ada@example.org"
    assert "nonce" not in event.claims and "at_hash" not in event.claims
    assert "the-code" not in str(event.claims) and "access-token-value" not in str(event.claims)
    assert "company (claim 'organization' was not sent)" in (event.message or "")


async def test_a_second_sign_in_finds_the_same_user_and_fetches_discovery_once(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    first = await sign_in(context, idp)
    idp.claims["email"] = "renamed@example.org"
    second = await sign_in(context, idp)
    assert second.user_id == first.user_id and not second.created_user
    assert idp.discovery.call_count == 1


# -- refusals: nothing created, the event names the step ---------------------------------


async def test_a_reused_state_is_refused_without_redeeming_the_code_again(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    url = await begin(context)
    params = idp.authorize(url)
    await complete(context, params)
    with pytest.raises(SignInRefused) as caught:
        await complete(context, params)
    assert (caught.value.step, caught.value.code) == ("state", "state_unknown")
    assert idp.token.call_count == 1
    assert last_event(context.database).code == "state_unknown"


@pytest.mark.parametrize(
    ("browser", "code"), [(None, "browser_cookie_missing"), ("another", "browser_mismatch")]
)
async def test_a_callback_in_another_browser_is_refused_before_the_token_request(
    context: AppContext, idp: FakeIdp, browser: str | None, code: str
) -> None:
    add_provider(context)
    url = await begin(context)
    with pytest.raises(SignInRefused) as caught:
        await complete(context, idp.authorize(url), browser=browser)
    assert (caught.value.step, caught.value.code) == ("state", code)
    assert not idp.token.called
    assert refused_cleanly(context.database, caught.value)
    assert last_event(context.database).step == "state"


async def test_an_expired_flow_is_refused(context: AppContext, idp: FakeIdp) -> None:
    add_provider(context)
    url = await begin(context)
    with context.database.transaction() as session:
        session.execute(update(PendingFlow).values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(SignInRefused) as caught:
        await complete(context, idp.authorize(url))
    assert caught.value.code == "state_expired"
    assert not idp.token.called and refused_cleanly(context.database, caught.value)


async def test_a_callback_without_state_is_refused(context: AppContext, idp: FakeIdp) -> None:
    add_provider(context)
    refusal = await refused(context, idp, state="")
    assert (refusal.step, refusal.code) == ("state", "state_missing")
    assert not idp.token.called and refused_cleanly(context.database, refusal)


async def test_invalid_client_tells_the_admin_what_to_check(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    idp.token_response = httpx.Response(
        401, json={"error": "invalid_client", "error_description": "<b>bad secret</b>"}
    )
    refusal = await refused(context, idp)
    assert (refusal.step, refusal.code) == ("token", "invalid_client")
    assert any("Client ID and Client Secret" in hint for hint in refusal.hints)
    assert any("callback URL" in hint for hint in refusal.hints)
    assert refusal.provider_error_description == "<b>bad secret</b>"
    assert refused_cleanly(context.database, refusal)
    assert CLIENT_SECRET not in (last_event(context.database).message or "")


async def test_the_providers_error_is_kept_apart_as_untrusted_text(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    refusal = await refused(
        context, idp, code="", error="access_denied", error_description="<script>x</script>"
    )
    assert (refusal.step, refusal.code) == ("callback", "authorization_error")
    assert refusal.provider_error == "access_denied"
    assert refusal.provider_error_description == "<script>x</script>"
    assert "<script>" not in refusal.message
    assert not idp.token.called and refused_cleanly(context.database, refusal)


async def test_a_mix_up_iss_is_refused_before_the_code_is_redeemed(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    refusal = await refused(context, idp, iss="https://evil.example.com")
    assert (refusal.step, refusal.code) == ("callback", "iss_mismatch")
    assert not idp.token.called and refused_cleanly(context.database, refusal)


async def test_userinfo_about_another_user_fails_the_sign_in(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    idp.userinfo_claims = {"sub": "someone-else", "email": "ada@example.org"}
    refusal = await refused(context, idp)
    assert (refusal.step, refusal.code) == ("userinfo", "userinfo_sub_mismatch")
    assert refused_cleanly(context.database, refusal)
    assert last_event(context.database).step == "userinfo"


async def test_an_id_token_for_another_client_is_refused_and_its_claims_not_used(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    idp.id_token_overrides = {"aud": "another-client"}
    refusal = await refused(context, idp)
    assert (refusal.step, refusal.code) == ("id_token", "id_token_audience")
    assert not idp.userinfo.called and refused_cleanly(context.database, refusal)


async def test_allowed_domains_refuse_other_addresses(context: AppContext, idp: FakeIdp) -> None:
    add_provider(context, allowed_domains=["corp.example"])
    refusal = await refused(context, idp)
    assert (refusal.step, refusal.code) == ("domain", "domain_not_allowed")
    assert "example.org" in refusal.message
    assert refused_cleanly(context.database, refusal)
    event = last_event(context.database)
    assert event.step == "domain" and event.claims and event.claims["email"] == "ada@example.org"


async def test_an_unverified_email_creates_no_account_but_a_verification(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    idp.claims["email_verified"] = False
    result = await sign_in(context, idp)
    assert isinstance(result, flow.VerificationStarted)
    assert result.masked_email == "a***@example.org"
    with context.database.session() as session:
        assert session.exec(select(User)).first() is None
        waiting = session.exec(select(EmailVerification)).one()
        assert (waiting.email, waiting.subject) == ("ada@example.org", "user-42")
    event = last_event(context.database)
    assert event is not None and (event.outcome, event.step, event.code) == (
        "pending",
        "provisioning",
        "email_verification_sent",
    )


async def test_match_only_refuses_an_unknown_person(context: AppContext, idp: FakeIdp) -> None:
    add_provider(context, provisioning_mode="match_only")
    refusal = await refused(context, idp)
    assert (refusal.step, refusal.code) == ("provisioning", "match_only_no_account")
    assert refusal.status == 403
    assert refused_cleanly(context.database, refusal)


async def test_match_only_signs_in_the_existing_verified_user(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context, provisioning_mode="match_only")
    with context.database.transaction() as session:
        session.add(User(username="ada-local", email="ada@example.org", email_verified=True))
    result = await sign_in(context, idp)
    assert (result.username, result.created_user) == ("ada-local", False)


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ({"enabled": False}, "provider_disabled"),
        ({"offered": False}, "federated_login_disabled"),
    ],
)
async def test_a_provider_switched_off_refuses_to_start(
    context: AppContext, idp: FakeIdp, setup: dict[str, bool], code: str
) -> None:
    add_provider(context, **setup)
    with pytest.raises(SignInRefused) as caught:
        await begin(context)
    assert (caught.value.step, caught.value.code) == ("provider", code)
    assert not idp.discovery.called
    assert last_event(context.database).code == code


async def test_a_provider_disabled_after_the_start_refuses_the_callback(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    url = await begin(context)
    with context.database.transaction() as session:
        begin_admin_change(session)  # as every admin change does: processes reload
        session.execute(update(flow.IdentityProvider).values(enabled=False))
    with pytest.raises(SignInRefused) as caught:
        await complete(context, idp.authorize(url))
    assert caught.value.code == "provider_disabled"
    assert not idp.token.called and refused_cleanly(context.database, caught.value)


async def test_an_unknown_provider_is_refused_without_an_event(
    context: AppContext, idp: FakeIdp
) -> None:
    with pytest.raises(SignInRefused) as caught:
        await begin(context, identifier="nope")
    assert (caught.value.code, caught.value.status) == ("unknown_provider", 404)
    assert last_event(context.database) is None


async def test_sign_in_must_start_on_the_callback_urls_host(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    with pytest.raises(SignInRefused) as caught:
        await begin(context, host="other.example")
    assert caught.value.code == "wrong_host"
    assert "http://testserver/login" in (caught.value.hint or "")


async def test_a_browser_starting_sign_ins_in_a_loop_is_stopped(
    context: AppContext, idp: FakeIdp
) -> None:
    add_provider(context)
    for _ in range(flow.LOOP_THRESHOLD):
        await begin(context)
    with pytest.raises(SignInRefused) as caught:
        await begin(context)
    assert (caught.value.step, caught.value.code) == ("browser", "redirect_loop")
    # Another browser is not affected.
    await begin(context, browser="other")


async def test_a_brand_host_gets_its_own_callback_url(context: AppContext, idp: FakeIdp) -> None:
    add_provider(context, offered=False)
    with context.database.transaction() as session:
        brands.create_brand(
            session,
            {
                "name": "Acme",
                "hosts": ["acme.example"],
                "inherit": False,
                "federated_login_enabled": True,
                "identity_providers": ["corp"],
            },
            actor="test",
        )
    url = await begin(context, host="acme.example")
    params = idp.authorize(url)
    assert idp.authorization["redirect_uri"] == "http://acme.example/auth/callback/corp"
    result = await flow.finish(
        context,
        identifier="corp",
        params=params,
        browser=BROWSER,
        host="acme.example",
        on_success=remember_user,
    )
    assert result.created_user
    event = last_event(context.database)
    assert event is not None and event.brand_id is not None
    # The platform's own host does not offer it (federated login is off there).
    with pytest.raises(SignInRefused) as caught:
        await begin(context)
    assert caught.value.code == "federated_login_disabled"
