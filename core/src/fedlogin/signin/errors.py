"""Why a sign-in stopped, said so that the person signing in and the admin know what to do.

Every refusal on the sign-in path becomes a :class:`SignInRefused`: a stable ``code``, the
``step`` that refused (a sign-in event records both), a title and message for the page, and
what to check, taken from the product document's troubleshooting list (T2, T3, T5). What the
identity provider itself said (``error``, ``error_description``) travels separately, as
untrusted text the page escapes.
"""

from __future__ import annotations

from fedlogin.accounts.provisioning import ProvisioningRefused
from fedlogin.errors import FedloginError, InvalidClaims, PluginFailure
from fedlogin.oidc.errors import INVALID_CLIENT_HINTS, OidcError

#: "User Not Created" (T3).
USER_NOT_CREATED_HINTS = (
    'Check the provisioning mode: with "Match Only", users must exist beforehand.',
    "Verify the allowed domains if domain restrictions are configured.",
    "Check the email trust mode settings.",
)
#: "Claims Not Mapping" (T4).
CLAIMS_HINTS = (
    "Look at the claims the provider sent in the sign-in events (admin API).",
    "Update the attribute mapping to match the provider's claim names.",
    "Ensure the requested scopes include the claims you need.",
)
#: "Redirect Loop" (T5).
REDIRECT_LOOP_HINTS = (
    "Verify the callback URL is correctly configured in both the platform and the provider.",
    "Check for cookie or session issues in the browser.",
    "Ensure HTTPS is properly configured.",
)

_TITLES = {
    "provider": "This sign-in option is not available",
    "browser": "Sign-in could not start",
    "state": "This sign-in could not be finished",
    "discovery": "The identity provider could not be reached",
    "jwks": "The identity provider could not be reached",
    "callback": "The identity provider did not sign you in",
    "token": "The identity provider refused this site",
    "id_token": "The identity provider's answer was not accepted",
    "userinfo": "The identity provider's answer was not accepted",
    "claims": "The identity provider's answer was not accepted",
    "domain": "Your account was not allowed to sign in",
    "provisioning": "Your account could not be signed in",
    "internal": "Something went wrong",
}


class SignInRefused(FedloginError):
    """A sign-in stopped at ``step``; nothing was created."""

    code = "sign_in_refused"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str,
        step: str,
        title: str | None = None,
        hint: str | None = None,
        hints: tuple[str, ...] = (),
        status: int | None = None,
        provider_error: str | None = None,
        provider_error_description: str | None = None,
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        self.step = step
        self.title = title or _TITLES.get(step, "Sign-in failed")
        self.hints = hints
        if status is not None:
            self.status = status
        #: What the provider said (RFC 6749 4.1.2.1): untrusted, shown escaped.
        self.provider_error = provider_error
        self.provider_error_description = provider_error_description


def refusal_from(exc: FedloginError) -> SignInRefused:
    """The refusal for an error raised on the sign-in path (each step's own classes)."""
    if isinstance(exc, SignInRefused):
        return exc
    if isinstance(exc, OidcError):
        return _from_oidc(exc)
    if isinstance(exc, ProvisioningRefused):
        return SignInRefused(
            exc.message,
            code=exc.code,
            step="provisioning",
            hint=exc.hint,
            hints=USER_NOT_CREATED_HINTS,
            status=403,
        )
    if isinstance(exc, InvalidClaims):
        return SignInRefused(exc.message, code=exc.code, step="claims", hints=CLAIMS_HINTS)
    if isinstance(exc, PluginFailure):
        return SignInRefused(
            "A plugin needed for this provider failed, so the sign-in was stopped.",
            code=exc.code,
            step="internal",
            hint="Administrators: the plugins page and the server log name the plugin.",
            status=500,
        )
    return SignInRefused(exc.message, code=exc.code, step="internal", hint=exc.hint, status=500)


def _from_oidc(exc: OidcError) -> SignInRefused:
    hints: tuple[str, ...] = ()
    message = exc.message
    if exc.code == "invalid_client":
        message = (
            "The identity provider did not accept this site's client credentials "
            "(invalid_client), so you could not be signed in."
        )
        hints = INVALID_CLIENT_HINTS
    elif exc.code == "authorization_error":
        message = "The identity provider did not sign you in and sent an error instead."
        if exc.error == "access_denied":
            message = "The sign-in was cancelled or denied at the identity provider."
    elif exc.code in ("iss_missing", "iss_mismatch"):
        hints = REDIRECT_LOOP_HINTS[:1]
    elif exc.step == "token" and exc.code == "token_error":
        hints = INVALID_CLIENT_HINTS[1:2]
    return SignInRefused(
        message,
        code=exc.code,
        step=exc.step,
        hint=exc.hint,
        hints=hints,
        status=502 if exc.step in ("discovery", "jwks", "token", "userinfo") else 400,
        provider_error=exc.error,
        provider_error_description=exc.error_description,
    )
