"""The redirect back from the provider (OpenID Connect Core 3.1.2.5-3.1.2.6, RFC 9207).

The web layer has loaded the pending flow and checked ``state`` (single use, bound to the
browser) before calling :func:`parse_callback`; the checks here concern the provider.
"""

from __future__ import annotations

from collections.abc import Mapping

from fedlogin.oidc.discovery import ProviderMetadata
from fedlogin.oidc.errors import CallbackError, provider_error_text, safe_error_code


def parse_callback(params: Mapping[str, str], metadata: ProviderMetadata) -> str:
    """The authorization code from the redirect back, after the provider-side checks.

    The caller has checked ``state`` against the pending flow already. Raises
    :class:`CallbackError`: ``authorization_error`` (the provider sent ``error``, kept in
    the exception's ``error``/``error_description``), ``iss_missing``, ``iss_mismatch``,
    ``code_missing``.
    """
    check_callback_iss(params.get("iss"), metadata)
    error = params.get("error")
    if error is not None:
        raise CallbackError(
            f"The identity provider refused the sign-in ({safe_error_code(error)}).",
            code="authorization_error",
            error=error,
            error_description=provider_error_text(params.get("error_description")),
            error_uri=params.get("error_uri"),
        )
    code = params.get("code")
    if not code:
        raise CallbackError(
            "The identity provider sent no authorization code.", code="code_missing"
        )
    return code


def check_callback_iss(iss: str | None, metadata: ProviderMetadata) -> None:
    """RFC 9207 (mix-up defence): ``iss`` must be the issuer exactly, and is required when
    the provider advertises ``authorization_response_iss_parameter_supported``."""
    if iss is None:
        if metadata.authorization_response_iss_parameter_supported:
            raise CallbackError(
                "The identity provider's response lacks the iss parameter it promises "
                "(RFC 9207): it may come from another provider.",
                code="iss_missing",
            )
        return
    if iss != metadata.issuer:
        raise CallbackError(
            "The response names another issuer than this provider's (RFC 9207 mix-up defence).",
            code="iss_mismatch",
        )
