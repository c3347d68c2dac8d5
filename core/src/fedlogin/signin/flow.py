"""The sign-in flow (ARCHITECTURE.md, "The sign-in flow"), without a web framework.

:func:`start` turns a click on a provider's button into the authorization URL, after storing
the pending flow; :func:`finish` turns the provider's redirect back into a signed-in user:

    consume the flow (single use) ▶ same browser, same provider, not expired ▶ provider still
    offered here ▶ RFC 9207 ``iss`` and the provider's error ▶ redeem the code ▶ validate the
    ID token ▶ UserInfo (same ``sub``) ▶ normalise claims (plugins) ▶ attribute mapping ▶
    domain validation (plugins, allowed domains) ▶ provisioning ▶ the caller's session

A flow has a purpose, fixed when it starts and stored with it: ``sign_in`` (the login
page) or ``link`` (Account → Security, bound to the signed-in user who started it). The
callback does what the stored flow says, never what the request asks: a link flow's
callback only links, to the user who started it and only while that user is still the one
signed in; a sign-in flow's callback never links to whoever is signed in (SECURITY.md).
A sign-in whose address is not trusted and matches no account stops before any account is
made: the address gets a verification email (:class:`VerificationStarted`).

Each refusal raises :class:`~fedlogin.signin.errors.SignInRefused` and records a sign-in
event naming the step; nothing else is written. Network calls (discovery, token, keys,
UserInfo) happen between database transactions, never inside one. Hooks are called on the
plugins the request's brand allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import attrs
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fedlogin.accounts.email_trust import decide_email_trust
from fedlogin.accounts.identities import IdentityKey
from fedlogin.accounts.mapping import MappedProfile, map_attributes
from fedlogin.accounts.provisioning import (
    EmailVerificationRequired,
    Provisioned,
    lock_and_check_enabled,
    provision,
)
from fedlogin.claims import normalize_email
from fedlogin.config import Config
from fedlogin.errors import FedloginError, UnknownPreset
from fedlogin.mail.delivery import deliver_quietly
from fedlogin.oidc import (
    ClientCredentials,
    DiscoveryCache,
    IdTokenRules,
    JwksCache,
    Outbound,
    ProviderMetadata,
    exchange_code,
    fetch_userinfo,
    new_authorization,
    parse_callback,
    validate_id_token,
)
from fedlogin.plugins import Plugins
from fedlogin.presets import DiscoveryTarget, NormalizedClaims
from fedlogin.signin import events, pending, purposes
from fedlogin.signin.errors import (
    REDIRECT_LOOP_HINTS,
    USER_NOT_CREATED_HINTS,
    SignInRefused,
    refusal_from,
)
from fedlogin.signin.purposes import LINK, PURPOSES, SIGN_IN, VerificationStarted
from fedlogin.store.brands import LoginConfig, brand_for_host, effective_login_config
from fedlogin.store.config_cache import ConfigCache
from fedlogin.store.database import connection_of
from fedlogin.store.provider_views import callback_url
from fedlogin.store.secrets import SecretBox
from fedlogin.store.tables import IdentityProvider
from fedlogin.store.types import utcnow

T = TypeVar("T")

#: SECURITY.md: explicit, at most 60 s, on the ID token's exp and iat.
ID_TOKEN_LEEWAY = 60
#: More unfinished sign-ins than this from one browser in LOOP_WINDOW is a loop (T5).
LOOP_THRESHOLD = 5
LOOP_WINDOW = timedelta(minutes=2)
_flow_sweeps = events.Every(60.0)
#: The sign-in's transactions (its pending flow, the session, the event, a user or link it
#: created) may be undone by a power loss on SQLite: a person redoes them by signing in
#: again, and each commit's wait for the disk was a tenth of a sign-in's CPU (store.database).
SIGN_IN_DURABLE = False


class FlowContext(Protocol):
    """What the flow needs from the process (:class:`fedlogin.web.context.AppContext`)."""

    config: Config
    plugins: Plugins
    secrets: SecretBox
    outbound: Outbound
    discovery: DiscoveryCache
    jwks: JwksCache
    config_cache: ConfigCache

    def transaction(
        self, work: Callable[[Session], T], *, durable: bool = True
    ) -> Awaitable[T]: ...

    def core_transaction(
        self, work: Callable[[Connection], T], *, durable: bool = True
    ) -> Awaitable[T]: ...


@attrs.frozen
class SignInResult(Generic[T]):
    user_id: int
    username: str
    #: Where to go now (the sanitised ``next`` the sign-in started with).
    next_url: str | None
    created_user: bool
    #: What the caller's ``on_success`` returned (the new session's cookie value).
    value: T
    #: A link flow linked the identity to the signed-in user (no one else was signed in).
    linked: bool = False


@attrs.frozen
class _Offer:
    """A provider as the login page on one host offers it, with that brand's plugins."""

    provider: IdentityProvider
    login: LoginConfig
    brand_id: int | None
    plugins: Plugins
    state: _OfferState


@attrs.define
class _Attempt:
    """What the sign-in event of this attempt will say."""

    identifier: str
    provider_id: int | None = None
    brand_id: int | None = None
    claims: Mapping[str, Any] | None = None


# -- start ----------------------------------------------------------------------------------


async def start(
    ctx: FlowContext,
    *,
    identifier: str,
    host: str,
    browser: str,
    next_url: str | None,
    purpose: str = SIGN_IN,
    link_user_id: int | None = None,
) -> str:
    """Store a pending flow for ``browser`` and return the provider's authorization URL.

    ``purpose`` ``link`` needs ``link_user_id``: the signed-in user who asked to link.
    """
    if purpose not in PURPOSES or (purpose == LINK) != (link_user_id is not None):
        raise ValueError(f"a {purpose!r} flow with link_user_id={link_user_id!r}")
    attempt = _Attempt(identifier)
    work = _start(
        ctx,
        attempt,
        host=host,
        browser=browser,
        next_url=next_url,
        purpose=purpose,
        link_user_id=link_user_id,
    )
    return await _recorded(ctx, attempt, work)


async def _start(
    ctx: FlowContext,
    attempt: _Attempt,
    *,
    host: str,
    browser: str,
    next_url: str | None,
    purpose: str,
    link_user_id: int | None,
) -> str:
    now = utcnow()

    state = await _offer_state(ctx, attempt.identifier, host)
    offer = _check_offer(state, attempt, ctx.plugins)
    provider = offer.provider
    redirect_uri = redirect_uri_for(ctx.config.base_url, provider.identifier, offer.login, host)
    if urlsplit(redirect_uri).netloc.lower() != host.lower():
        raise SignInRefused(
            f"Sign-in must start at {_origin(redirect_uri)}, where the identity provider "
            "sends you back; cookies set on this address would not be there.",
            code="wrong_host",
            step="browser",
            hint=f"Open {_origin(redirect_uri)}/login and sign in from there.",
            hints=REDIRECT_LOOP_HINTS[:1],
        )
    metadata = await _metadata(ctx, offer)
    options = dict(provider.preset_options)
    extras = offer.plugins.authorization_params(provider.preset, options, provider.scope_list)
    scopes = [scope for scope in provider.scope_list if scope not in extras.drop_scopes]
    request = new_authorization(
        metadata,
        client_id=provider.client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        extra_params=dict(extras.params),
    )
    provider_id = provider.id
    assert provider_id is not None

    def store(connection: Connection) -> None:
        # Counted in the transaction that stores the flow (one transaction, not two): a
        # refused start stores nothing, so only started flows count towards a loop.
        if pending.recent_flows(connection, browser, now - LOOP_WINDOW) >= LOOP_THRESHOLD:
            raise SignInRefused(
                "This browser started several sign-ins in a row without finishing any, so "
                "fedlogin stopped instead of sending you round again.",
                code="redirect_loop",
                step="browser",
                hints=REDIRECT_LOOP_HINTS,
                status=429,
            )
        if _flow_sweeps.due():
            pending.sweep_expired(connection, now)
        pending.create_flow(
            connection,
            state=request.state,
            browser=browser,
            provider_id=provider_id,
            nonce=request.nonce,
            code_verifier=request.code_verifier,
            redirect_uri=request.redirect_uri,
            next_url=next_url,
            brand_id=offer.brand_id,
            now=now,
            purpose=purpose,
            link_user_id=link_user_id,
        )

    await ctx.core_transaction(store, durable=SIGN_IN_DURABLE)
    return request.url


def redirect_uri_for(base_url: str, identifier: str, login: LoginConfig, host: str) -> str:
    """P12: the callback URL on the platform's URL, or on the brand's own host."""
    if login.brand is None:
        return callback_url(base_url, identifier)
    scheme = urlsplit(base_url).scheme
    return callback_url(f"{scheme}://{host.lower()}", identifier)


# -- finish ---------------------------------------------------------------------------------


async def finish(
    ctx: FlowContext,
    *,
    identifier: str,
    params: Mapping[str, str],
    browser: str | None,
    host: str,
    on_success: Callable[[Session, Provisioned], T],
    session_user_id: int | None = None,
) -> SignInResult[T] | VerificationStarted:
    """Finish the sign-in (or link) the provider redirected back with ``params``.

    ``on_success(session, provisioned)`` runs in the transaction that provisions the user
    or links the identity (the web layer creates the browser session there), so that a
    sign-in either completes whole or leaves nothing behind. ``session_user_id`` is the
    user signed in in this browser now: a link flow finishes only for the user who started
    it. A :class:`VerificationStarted` means no account yet and no ``on_success``; its
    email is sent before this returns (the next page says whether it went). A link queues a
    "connected" notice that the caller sends after its response
    (:func:`fedlogin.mail.delivery.deliver_quietly`; ``SignInResult.linked``).
    """
    attempt = _Attempt(identifier)
    work = _finish(ctx, attempt, params, browser, host, on_success, session_user_id)
    result = await _recorded(ctx, attempt, work)
    if isinstance(result, VerificationStarted):
        await deliver_quietly(ctx)
    return result


async def _finish(
    ctx: FlowContext,
    attempt: _Attempt,
    params: Mapping[str, str],
    browser: str | None,
    host: str,
    on_success: Callable[[Session, Provisioned], T],
    session_user_id: int | None,
) -> SignInResult[T] | VerificationStarted:
    state = params.get("state")
    if not state:
        known = await _offer_state(ctx, attempt.identifier, host)
        if known.provider is None:
            raise _unknown_provider(attempt.identifier)
        attempt.provider_id = known.provider.id
        raise SignInRefused(
            "The identity provider's response carries no state, so it cannot belong to a "
            "sign-in started here.",
            code="state_missing",
            step="state",
            hints=REDIRECT_LOOP_HINTS,
        )

    # Committed before anything is checked: the state is spent whatever happens next.
    flow = await ctx.core_transaction(
        lambda connection: pending.consume_flow(connection, state), durable=SIGN_IN_DURABLE
    )
    offer_state = await _offer_state(ctx, attempt.identifier, host)
    if offer_state.provider is not None:
        attempt.provider_id = offer_state.provider.id
    _check_flow(flow, offer_state, browser)
    assert flow is not None and browser is not None
    purposes.check_purpose(flow, session_user_id)
    attempt.brand_id = flow.brand_id
    offer = _check_offer(offer_state, attempt, ctx.plugins)
    provider = offer.provider
    metadata = await _metadata(ctx, offer)
    claims, issuer = await _verified_claims(ctx, offer, metadata, flow, params)
    attempt.claims = claims
    options = dict(provider.preset_options)
    normalized = offer.plugins.normalize_claims(provider.preset, claims, options)
    profile = map_attributes(normalized.claims, provider.attribute_mapping)
    trust = decide_email_trust(provider.email_trust_mode, _email_claims(normalized, profile))
    vetoes = offer.plugins.validate_domain(
        provider.preset, normalized, options, provider.allowed_domains
    )
    if vetoes:
        raise SignInRefused(
            vetoes[0].reason,
            code=vetoes[0].code,
            step="domain",
            hints=USER_NOT_CREATED_HINTS[1:2],
            status=403,
        )
    assert provider.id is not None
    key = IdentityKey(provider.id, issuer, normalized.subject)

    def sign_in(session: Session) -> SignInResult[T] | VerificationStarted:
        now = utcnow()
        if flow.purpose == LINK:
            provisioned = purposes.link(
                session, flow, provider=provider, key=key, trust=trust, now=now
            )
        else:
            try:
                provisioned = provision(
                    session,
                    mode=provider.provisioning_mode,
                    provider_name=provider.name,
                    key=key,
                    trust=trust,
                    profile=profile,
                    now=now,
                )
            except EmailVerificationRequired:
                return purposes.start_verification(
                    session,
                    flow,
                    provider=provider,
                    key=key,
                    trust=trust,
                    profile=profile,
                    browser=browser,
                    claims=claims,
                    retention_days=ctx.config.sign_in_event_retention_days,
                    now=now,
                )
        # Locked until the session is stored, as password sign-in does: an admin disabling
        # the user meanwhile committed first (refused here) or waits, then ends it too.
        lock_and_check_enabled(session, provisioned.user)
        value = on_success(session, provisioned)
        user = provisioned.user
        assert user.id is not None
        events.write(
            connection_of(session),
            provider_identifier=provider.identifier,
            provider_id=provider.id,
            outcome=events.SUCCESS,
            message=_success_message(provisioned, profile),
            claims=claims,
            user_id=user.id,
            brand_id=flow.brand_id,
            retention_days=ctx.config.sign_in_event_retention_days,
        )
        return SignInResult(
            user_id=user.id,
            username=user.username,
            next_url=flow.next_url,
            created_user=provisioned.created_user,
            value=value,
            linked=provisioned.linked_by_user,
        )

    try:
        return await ctx.transaction(sign_in, durable=SIGN_IN_DURABLE)
    except IntegrityError:
        # The same identity signed in (or was linked) twice at once and both tried to link
        # it: the other transaction won, so this one now finds the identity.
        return await ctx.transaction(sign_in, durable=SIGN_IN_DURABLE)


def _check_flow(flow: pending.ConsumedFlow | None, state: _OfferState, browser: str | None) -> None:
    if state.provider is None:
        raise _unknown_provider(state.identifier)
    if flow is None:
        raise SignInRefused(
            "This sign-in response does not match a sign-in in progress: it was used "
            "already (a reload or the back button), it expired, or the sign-in was started "
            "somewhere else.",
            code="state_unknown",
            step="state",
            hint="Start again from the login page.",
            hints=REDIRECT_LOOP_HINTS,
        )
    if not pending.bound_to(flow, browser):
        if browser is None:
            raise SignInRefused(
                "Your browser did not send back the cookie set when this sign-in started. "
                "This happens when cookies are blocked, when the site is opened at another "
                "address than its callback URL, or when a site configured for HTTPS is "
                "reached over plain HTTP.",
                code="browser_cookie_missing",
                step="state",
                hint="Allow cookies for this site, open it at its usual address, and start "
                "again from the login page.",
                hints=REDIRECT_LOOP_HINTS,
            )
        raise SignInRefused(
            "This sign-in was started in another browser, so it cannot finish in this one.",
            code="browser_mismatch",
            step="state",
            hint="Start again from the login page in this browser.",
        )
    if flow.expires_at <= utcnow():
        raise SignInRefused(
            "This sign-in took too long and expired.",
            code="state_expired",
            step="state",
            hint="Start again from the login page.",
        )
    if flow.provider_id != state.provider.id:
        raise SignInRefused(
            "This response came back to another identity provider's callback URL than the "
            "one the sign-in was started with.",
            code="provider_mismatch",
            step="state",
            hints=REDIRECT_LOOP_HINTS[:1],
        )


async def _verified_claims(
    ctx: FlowContext,
    offer: _Offer,
    metadata: ProviderMetadata,
    flow: pending.ConsumedFlow,
    params: Mapping[str, str],
) -> tuple[dict[str, Any], str]:
    """The ID token's claims merged over UserInfo's, and the token's issuer."""
    provider = offer.provider
    code = parse_callback(params, metadata)
    if not offer.state.credentials:
        offer.state.credentials.append(_credentials(ctx, provider))
    credentials = offer.state.credentials[0]
    tokens = await exchange_code(
        ctx.outbound,
        metadata,
        credentials,
        code=code,
        code_verifier=flow.code_verifier,
        redirect_uri=flow.redirect_uri,
    )
    options = dict(provider.preset_options)
    id_token = await validate_id_token(
        tokens.id_token,
        rules=IdTokenRules(client_id=provider.client_id, leeway=ID_TOKEN_LEEWAY),
        keys=ctx.jwks.source(metadata.jwks_uri),
        nonce=flow.nonce,
        accepted_issuers=lambda claims: offer.plugins.token_issuers(
            provider.preset, metadata.issuer, claims, options
        ),
        access_token=tokens.access_token,
    )
    claims: dict[str, Any] = {}
    if metadata.userinfo_endpoint:
        # Core 5.3.2: claims the ID token lacks (conformIdTokenClaims) come from here; the
        # signed ID token wins where both speak.
        claims.update(
            await fetch_userinfo(
                ctx.outbound,
                metadata,
                access_token=tokens.access_token,
                subject=id_token.subject,
            )
        )
    claims.update(id_token.claims)
    return claims, id_token.issuer


def _credentials(ctx: FlowContext, provider: IdentityProvider) -> ClientCredentials:
    try:
        secret = None
        if provider.client_secret_encrypted is not None:
            secret = ctx.secrets.decrypt(provider.client_secret_encrypted).reveal()
        return ClientCredentials(provider.client_id, secret, provider.auth_method)
    except FedloginError as exc:  # an unreadable secret, a secret missing for the method
        raise SignInRefused(
            exc.message, code=exc.code, step="token", hint=exc.hint, status=500
        ) from exc


def _email_claims(normalized: NormalizedClaims, profile: MappedProfile) -> NormalizedClaims:
    """The address the email trust mode judges.

    The preset's plugin vouches for the address it normalised (Azure's ``xms_edov`` rule);
    an attribute mapping that reads the email from another claim gets an address no
    plugin vouched for, so the provider's verification does not carry over to it.
    """
    mapped = profile.get("email")
    if mapped is None or normalize_email(mapped) == normalized.email:
        return normalized
    return attrs.evolve(normalized, email=normalize_email(mapped), email_verified=False)


def _success_message(provisioned: Provisioned, profile: MappedProfile) -> str:
    how = "a new account" if provisioned.created_user else "an existing account"
    if provisioned.matched_by_email:
        how = "an existing account, matched by its verified email address"
    message = f"Signed in as {provisioned.user.username} ({how})."
    if provisioned.linked_by_user:
        message = f"Connected to {provisioned.user.username}'s account from Account → Security."
    if profile.unmapped:
        message += " Not mapped: " + "; ".join(
            f"{field} ({reason})" for field, reason in profile.unmapped.items()
        )
        message += "."
    return message


# -- shared steps ---------------------------------------------------------------------------


@attrs.frozen
class _OfferState:
    """What the database says about a provider on one host, read in one transaction."""

    identifier: str
    provider: IdentityProvider | None
    login: LoginConfig
    brand_id: int | None
    #: The client credentials, decrypted at the first callback of this configuration version
    #: (decrypting at every callback cost 1% of a sign-in; a failure is not kept).
    credentials: list[ClientCredentials] = attrs.field(factory=list, eq=False, repr=False)
    #: Where the provider's discovery document is, as the preset's plugin said (same reason).
    discovery_target: list[DiscoveryTarget] = attrs.field(factory=list, eq=False, repr=False)


async def _offer_state(ctx: FlowContext, identifier: str, host: str) -> _OfferState:
    """:func:`_load_offer`, cached per process until an admin changes anything (X4).

    The configuration version is read at every call, so a provider disabled through any
    process is refused by the next sign-in step on every process.
    """
    return await ctx.config_cache.get(
        ("sign-in offer", identifier, host.lower()),
        lambda session: _load_offer(session, identifier, host),
    )


def _load_offer(session: Session, identifier: str, host: str) -> _OfferState:
    query = select(IdentityProvider).where(col(IdentityProvider.identifier) == identifier)
    provider = session.exec(query).first()
    login = effective_login_config(session, host)
    brand = brand_for_host(session, host) if login.brand is not None else None
    return _OfferState(identifier, provider, login, brand.id if brand else None)


def _check_offer(state: _OfferState, attempt: _Attempt, plugins: Plugins) -> _Offer:
    """P5, S1, S2: the provider exists, is enabled and is offered on this host."""
    provider = state.provider
    if provider is None:
        raise _unknown_provider(state.identifier)
    attempt.provider_id = provider.id
    attempt.brand_id = attempt.brand_id or state.brand_id
    name = provider.name
    if not provider.enabled:
        raise _not_available(f"Signing in with {name} is switched off.", "provider_disabled")
    if not state.login.federated_login_enabled:
        raise _not_available(
            "Signing in with an identity provider is not enabled on this site.",
            "federated_login_disabled",
        )
    if provider.identifier not in state.login.identity_providers:
        raise _not_available(f"Signing in with {name} is not offered here.", "provider_not_offered")
    brand_plugins = plugins.for_brand(state.login.disabled_plugins)
    try:
        brand_plugins.preset(provider.preset)
    except UnknownPreset as exc:
        raise _not_available(
            f"Signing in with {name} is not available here: the plugin it needs is "
            "switched off or not installed.",
            "preset_unavailable",
        ) from exc
    return _Offer(provider, state.login, state.brand_id, brand_plugins, state)


def _not_available(message: str, code: str) -> SignInRefused:
    return SignInRefused(
        message,
        code=code,
        step="provider",
        hint="Choose another way to sign in on the login page.",
        status=403,
    )


def _unknown_provider(identifier: str) -> SignInRefused:
    return SignInRefused(
        "There is no such sign-in option.",
        code="unknown_provider",
        step="provider",
        hint="Choose a way to sign in on the login page.",
        status=404,
    )


async def _metadata(ctx: FlowContext, offer: _Offer) -> ProviderMetadata:
    provider = offer.provider
    targets = offer.state.discovery_target
    if not targets:
        # The preset's hook, once per configuration version and host: it is the same for every
        # sign-in until an admin changes the provider (it was 2% of a sign-in per call).
        targets.append(
            offer.plugins.discovery(provider.preset, provider.domain, provider.preset_options)
        )
    return await ctx.discovery.get(targets[0])


async def _recorded(ctx: FlowContext, attempt: _Attempt, work: Awaitable[T]) -> T:
    """``work``'s result; a failure becomes a :class:`SignInRefused`, recorded as an event."""
    try:
        return await work
    except FedloginError as exc:
        refusal = refusal_from(exc)
        await _record_refusal(ctx, attempt, refusal)
        raise refusal from exc
    except Exception:
        # A bug: the page says so (fedlogin.web.errors); the admin still sees the attempt.
        failure = SignInRefused("internal error", code="internal_error", step="internal")
        await _record_refusal(ctx, attempt, failure)
        raise


async def _record_refusal(ctx: FlowContext, attempt: _Attempt, refusal: SignInRefused) -> None:
    if attempt.provider_id is None:
        return  # no such provider: nothing an admin could look at

    def record(connection: Connection) -> None:
        events.write(
            connection,
            provider_identifier=attempt.identifier,
            provider_id=attempt.provider_id,
            outcome=events.REFUSED,
            step=refusal.step,
            code=refusal.code,
            message=refusal.message,
            claims=attempt.claims,
            brand_id=attempt.brand_id,
            retention_days=ctx.config.sign_in_event_retention_days,
        )

    await ctx.core_transaction(record, durable=SIGN_IN_DURABLE)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
