"""P15: whether the platform trusts the email address an identity provider sent.

The provider's plugin has already said whether *the provider* verified the address
(``NormalizedClaims.email_verified``: ``email_verified`` true under OpenID Connect Core 5.1,
Azure AD only with ``xms_edov``, the nOAuth rule). The email trust mode decides what the
platform makes of that:

* ``verify_with_claim`` (default): trusted only when the provider verified it;
* ``trust_idp``: always trusted (an enterprise directory the admin controls);
* ``always_verify``: never trusted; the platform verifies the address itself.

An untrusted address is never used to find an existing account (SECURITY.md, nOAuth) and
does not create one until it is proven (``needs_verification``: the accounts issue sends the
verification email at that point).
"""

from __future__ import annotations

import attrs

from fedlogin.presets import NormalizedClaims

VERIFY_WITH_CLAIM = "verify_with_claim"
TRUST_IDP = "trust_idp"
ALWAYS_VERIFY = "always_verify"
MODES = (VERIFY_WITH_CLAIM, TRUST_IDP, ALWAYS_VERIFY)


@attrs.frozen
class EmailTrust:
    """The decision about one sign-in's email, and the reason (a stable code)."""

    email: str | None
    trusted: bool
    #: ``no_email``, ``provider_verified``, ``provider_unverified``, ``trust_idp``,
    #: ``always_verify``.
    reason: str

    @property
    def needs_verification(self) -> bool:
        """An address to prove before the platform relies on it."""
        return self.email is not None and not self.trusted


def decide_email_trust(mode: str, claims: NormalizedClaims) -> EmailTrust:
    """Apply the provider's email trust ``mode`` to the normalised claims."""
    if mode not in MODES:
        raise ValueError(f"unknown email trust mode {mode!r}")
    email = claims.email
    if email is None:
        return EmailTrust(None, False, "no_email")
    if mode == TRUST_IDP:
        return EmailTrust(email, True, "trust_idp")
    if mode == ALWAYS_VERIFY:
        return EmailTrust(email, False, "always_verify")
    if claims.email_verified is True:
        return EmailTrust(email, True, "provider_verified")
    return EmailTrust(email, False, "provider_unverified")


#: Presets whose providers let any tenant's administrator set a user's email to any address
#: (nOAuth): under Trust IdP such an address would be trusted unverified. The Azure AD
#: plugin's preset (fedlogin-azure-ad); its own rule (``xms_edov``) is what Verify with
#: Claim relies on.
UNVERIFIED_EMAIL_PRESETS = frozenset({"azure-ad"})


@attrs.frozen
class TrustWarning:
    """A risk of the chosen email trust mode, for the admin console (SECURITY.md, nOAuth)."""

    code: str
    message: str


def trust_mode_warnings(preset: str, mode: str) -> list[TrustWarning]:
    if mode == TRUST_IDP and preset in UNVERIFIED_EMAIL_PRESETS:
        return [
            TrustWarning(
                "trust_idp_unverified_email",
                "Trust IdP trusts Microsoft's email claim, which an administrator of any "
                "tenant can set to any address (nOAuth): someone could then sign in to an "
                "existing account with that address, or take it for a new one. Use Verify "
                "with Claim (Microsoft's xms_edov marks addresses it verified) unless only "
                "your own tenant, whose directory you control, can sign in.",
            )
        ]
    return []
