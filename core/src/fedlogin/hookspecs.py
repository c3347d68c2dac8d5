"""Every hook a fedlogin plugin may implement.

A plugin is any module or object with functions named like the hooks below and marked with
``@fedlogin.hookimpl``. It is published through an entry point in the ``fedlogin`` group::

    [project.entry-points.fedlogin]
    gitlab = "fedlogin_gitlab"

Conventions shared by all hooks:

* Hooks that concern one provider take ``preset``, the preset id the identity provider was
  created from. A plugin answers only for presets it declared in :func:`fedlogin_presets` and
  returns ``None`` otherwise, so that *firstresult* hooks fall through to the plugin that owns
  the preset and finally to the core's generic ``trylast`` implementation.
* ``options`` are the preset-specific values the admin entered (the preset's ``fields``),
  already validated against each field's ``choices`` and ``pattern``.
* A hook implementation may accept any subset of the parameters listed.
* A plugin that raises inside a hook is reported by name and left out from then on. On the
  sign-in path the sign-in is refused rather than continued without it: a veto that could
  not run must not turn into an allowed sign-in.

App code never calls these through ``pm.hook``; it uses :class:`fedlogin.plugins.Plugins`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

from fedlogin.presets import (
    AuthorizationExtras,
    DiscoveryTarget,
    NormalizedClaims,
    ProviderPreset,
    SetupGuide,
    Veto,
)

PROJECT_NAME = "fedlogin"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def fedlogin_presets() -> Sequence[ProviderPreset]:
    """Declare the provider presets this plugin supplies.

    *Collecting*: every plugin's presets are gathered. Called once when plugins are loaded.
    A preset id must be unique across all plugins: a plugin declaring an id another plugin
    already owns is reported and left out, as is a plugin returning anything but
    :class:`~fedlogin.presets.ProviderPreset` instances.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fedlogin_discovery(
    preset: str, domain: str, options: Mapping[str, str]
) -> DiscoveryTarget | None:
    """Turn what the admin entered into the discovery URL and the expected issuer.

    *firstresult*: the first non-``None`` answer wins. Called when a provider is saved,
    when its connection is tested and when its discovery document is (re)fetched.

    :param preset: the preset id of the identity provider.
    :param domain: the Domain field as entered (may be a full URL, may carry a path).
    :param options: the preset's own fields (Azure ``tenant``, PingOne ``region``...).

    The core's generic implementation normalises the domain and appends
    ``/.well-known/openid-configuration``.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fedlogin_token_issuers(
    preset: str, issuer: str, claims: Mapping[str, Any], options: Mapping[str, str]
) -> Sequence[str] | None:
    """Say which ``iss`` values an ID token of this provider may carry.

    *firstresult*. Called for each ID token after its signature was verified and before its
    issuer is checked. ``issuer`` is the issuer of the discovery document, which for a
    multi-tenant Azure AD application is a template (``.../{tenantid}/v2.0``) the plugin
    resolves from the token's own ``tid``. Returning an empty sequence rejects the token.
    The issuer check is never switched off: the core's generic implementation returns
    ``[issuer]`` and rejects templates it cannot resolve.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fedlogin_normalize_claims(
    preset: str, claims: Mapping[str, Any], options: Mapping[str, str]
) -> NormalizedClaims | None:
    """Smooth over a provider's claim quirks.

    *firstresult*. Called once per sign-in with the ID token's claims merged with the
    UserInfo claims (already checked to be about the same ``sub``). Return the stable subject,
    the email, whether the provider asserts it verified that email, and the claims the
    attribute mapping will read (for example ``groups`` made a list).

    The core wraps the answer and enforces its invariants whatever the plugin returned: the
    subject is a non-empty string of at most 255 characters, the email is trimmed and
    lower-cased (or dropped, unverified, when it is not an address), and ``email_verified``
    is a real boolean.
    """
    raise NotImplementedError


@hookspec
def fedlogin_validate_domain(
    preset: str,
    claims: NormalizedClaims,
    options: Mapping[str, str],
    allowed_domains: Sequence[str],
) -> Veto | None:
    """Veto a sign-in, for example because of the user's email domain or tenant.

    *Collecting*: every plugin is asked; any :class:`~fedlogin.presets.Veto` refuses the
    sign-in and its ``reason`` is shown to the user and recorded for the admin. Called after
    claim normalization and before any user is looked up or created. The core's own
    implementation enforces the provider's Allowed Domains (P14).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def fedlogin_setup_guide(preset: str, callback_url: str) -> SetupGuide | None:
    """Give the admin the steps to register the application at the provider.

    *firstresult*. Called when the admin console or ``fedlogin presets show`` displays a
    preset. ``callback_url`` is the redirect URI the admin must register (it may be empty
    when no provider exists yet). The core's generic implementation returns the preset's own
    ``setup_guide``; implement this hook only to tailor the guide to the callback URL.
    """
    raise NotImplementedError


@hookspec
def fedlogin_authorization_params(
    preset: str, options: Mapping[str, str], scopes: Sequence[str]
) -> AuthorizationExtras | None:
    """Add parameters to the authorization request, or drop scopes the provider rejects.

    *Collecting*: the extras of every plugin are merged in call order. Called each time a
    sign-in is started. Parameters the flow's security rests on (``state``, ``nonce``,
    ``code_challenge``, ``redirect_uri``...) cannot be overridden: the core refuses them.
    """
    raise NotImplementedError
