"""UserInfo (OpenID Connect Core 5.3): claims the ID token does not carry."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from fedlogin.oidc.discovery import ProviderMetadata
from fedlogin.oidc.errors import OutboundError, UserInfoError
from fedlogin.oidc.outbound import Outbound


async def fetch_userinfo(
    outbound: Outbound, metadata: ProviderMetadata, *, access_token: str, subject: str
) -> Mapping[str, Any]:
    """The UserInfo claims (Core 5.3), about the ID token's ``subject`` or refused.

    The access token goes in an ``Authorization: Bearer`` header (Core 5.3.1). Raises
    :class:`UserInfoError` (``userinfo_unavailable``, ``userinfo_signed_unsupported``,
    ``userinfo_invalid``, ``userinfo_sub_mismatch``) or :class:`OutboundError` (step
    ``userinfo``).
    """
    if not metadata.userinfo_endpoint:
        raise UserInfoError(
            "The provider publishes no UserInfo endpoint.", code="userinfo_unavailable"
        )
    response = await outbound.request(
        "GET",
        metadata.userinfo_endpoint,
        step="userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
    )
    if response.status_code != 200:
        raise OutboundError(
            f"The UserInfo endpoint answered HTTP {response.status_code}.",
            code="http_status",
            step="userinfo",
            status_code=response.status_code,
        )
    if response.media_type == "application/jwt":
        raise UserInfoError(
            "The provider signs or encrypts its UserInfo responses, which fedlogin does not "
            "accept: configure the application to return plain JSON.",
            code="userinfo_signed_unsupported",
        )
    claims = response.json()
    if not isinstance(claims, dict):
        raise UserInfoError("The UserInfo response is not a JSON object.", code="userinfo_invalid")
    # Core 5.3.4: the sub of UserInfo must equal the ID token's; otherwise the response
    # must not be used (a token substitution).
    if claims.get("sub") != subject:
        raise UserInfoError(
            "The UserInfo response is about another user than the ID token.",
            code="userinfo_sub_mismatch",
        )
    return MappingProxyType(claims)
