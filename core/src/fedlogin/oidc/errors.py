"""Errors of the relying party, each with a stable ``code`` and the flow ``step`` that failed.

The ``code`` is what the API returns, the sign-in event records and tests assert; the
``message`` is safe to show an admin (it never holds a secret, and text that came from the
identity provider is kept in attributes for the web layer to escape, not pasted into it).

Steps, in the order a sign-in meets them: ``discovery``, ``jwks``, ``callback`` (the
redirect back from the provider), ``token``, ``id_token``, ``userinfo``.
"""

from __future__ import annotations

import re

from fedlogin.errors import FedloginError

STEPS = ("discovery", "jwks", "callback", "token", "id_token", "userinfo")

#: The product document's "Connection Test Fails" troubleshooting list (T1).
CONNECTION_HINTS = (
    "Verify the domain is correct and accessible.",
    "Check that the OIDC discovery endpoint is publicly accessible.",
    "Ensure there are no firewall rules blocking the connection.",
)

#: The product document's "Invalid Client Error" troubleshooting list (T2).
INVALID_CLIENT_HINTS = (
    "Verify the Client ID and Client Secret are correct.",
    "Check that the callback URL matches exactly what is configured in the provider.",
    "Ensure the application is not disabled in the provider's console.",
)

#: What an OAuth ``error`` code must look like to be repeated in our message. RFC 6749 A.7
#: allows more (``<``, ``>``...), but every registered code is a lower-case word.
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_MAX_PROVIDER_TEXT = 500


def safe_error_code(error: str) -> str:
    """The provider's ``error`` code if it is one (for a message), else a placeholder."""
    return error if _ERROR_CODE.fullmatch(error) else "an unreadable error code"


def provider_error_text(value: object) -> str | None:
    """A provider's ``error_description``, kept as data and cut to a sane length."""
    return value[:_MAX_PROVIDER_TEXT] if isinstance(value, str) else None


class OidcError(FedloginError):
    """Base class of every relying-party failure.

    ``cause_code`` names the lower-level failure when a step wraps one (a JWKS fetch that
    failed with ``tls`` is ``jwks_unreachable`` with ``cause_code == "tls"``).

    ``error``, ``error_description`` and ``error_uri`` are what the provider said, when it
    answered with an OAuth error (RFC 6749 4.1.2.1 and 5.2): untrusted text, to be escaped
    by whoever shows it, and never part of ``message``.
    """

    code = "oidc_error"
    step = "discovery"
    #: The identity provider, not our caller, is at fault for most of these.
    status = 502

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        step: str | None = None,
        hint: str | None = None,
        cause_code: str | None = None,
        error: str | None = None,
        error_description: str | None = None,
        error_uri: str | None = None,
    ) -> None:
        super().__init__(message, code=code, hint=hint)
        if step is not None:
            if step not in STEPS:
                raise ValueError(f"unknown step {step!r}")
            self.step = step
        self.cause_code = cause_code
        self.error = error
        self.error_description = error_description
        self.error_uri = error_uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, step={self.step!r}, {self.message!r})"


class OutboundError(OidcError):
    """An outbound HTTP call failed: ``dns``, ``tls``, ``timeout``, ``connect``,
    ``http_status``, ``redirect``, ``too_large``, ``bad_encoding``, ``not_json``,
    ``address_blocked`` or ``insecure_scheme``. ``status_code`` is set for ``http_status``
    and ``redirect``."""

    code = "connect"

    def __init__(
        self,
        message: str,
        *,
        code: str,
        step: str,
        hint: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, code=code, step=step, hint=hint)
        self.status_code = status_code


class DiscoveryError(OidcError):
    """The discovery document is unusable: ``missing_fields``, ``issuer_mismatch``,
    ``insecure_scheme`` (an endpoint that is not https) or ``invalid_metadata``."""

    code = "invalid_metadata"
    step = "discovery"


class JwksError(OidcError):
    """``jwks_unreachable``, ``jwks_invalid`` or ``jwks_empty``."""

    code = "jwks_invalid"
    step = "jwks"


class CallbackError(OidcError):
    """The redirect back from the provider is refused: ``authorization_error`` (the provider
    sent ``error``), ``code_missing``, ``iss_missing``, ``iss_mismatch``."""

    code = "callback_invalid"
    step = "callback"
    status = 400


class TokenEndpointError(OidcError):
    """The token request failed: ``invalid_client``, ``token_error``, ``id_token_missing``,
    ``token_response_invalid`` (or an :class:`OutboundError` code)."""

    code = "token_error"
    step = "token"


class IdTokenError(OidcError):
    """The ID token is refused (OpenID Connect Core 3.1.3.7); the code says which check."""

    code = "id_token_invalid"
    step = "id_token"
    status = 400


class UserInfoError(OidcError):
    """``userinfo_sub_mismatch``, ``userinfo_signed_unsupported``, ``userinfo_unavailable``,
    ``userinfo_invalid`` (or an :class:`OutboundError` code)."""

    code = "userinfo_invalid"
    step = "userinfo"
