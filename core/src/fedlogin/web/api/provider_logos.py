"""``/api/v1/identity-providers/{identifier}/logo``: upload, serve and remove a logo (P16).

The upload is the raw image as the body (``Content-Type: image/png``, ``image/jpeg`` or
``image/svg+xml``), so that ``curl --data-binary @logo.svg`` works without multipart. The
declared type only has to be one of those: the bytes decide (fedlogin.store.logos checks
them and sanitises SVG). Serving is public, because the login page shows the logo to
visitors, and always carries :data:`~fedlogin.store.logos.LOGO_RESPONSE_HEADERS`.
"""

from __future__ import annotations

from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.errors import NotFound
from fedlogin.store.logos import LOGO_RESPONSE_HEADERS, MAX_LOGO_BYTES, get_logo
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import IdentityProvider, StoredLogo
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import TooLarge, UnsupportedMediaType, media_type, read_body
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import expected_version
from fedlogin.web.api.providers import change_provider, check_version
from fedlogin.web.api.routing import resource
from fedlogin.web.api.schemas import PROVIDER
from fedlogin.web.context import app_context

UPLOAD_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
#: Spellings clients send for the same types.
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/svg": "image/svg+xml"}


class LogoNotFound(NotFound):
    code = "logo_not_found"


async def upload_logo(request: Request) -> Response:
    principal = await require_admin(request)
    declared = media_type(request)
    if _ALIASES.get(declared, declared) not in UPLOAD_TYPES:
        raise UnsupportedMediaType(
            "Send the logo as the request body with Content-Type "
            + ", ".join(UPLOAD_TYPES)
            + f" (got {declared or 'none'})."
        )
    expected = expected_version(request)
    too_large = TooLarge(
        f"The logo is larger than {MAX_LOGO_BYTES // 1024} KiB (64x64 pixels is plenty).",
        code="logo_too_large",
        fields={"logo": f"At most {MAX_LOGO_BYTES // 1024} KiB."},
    )
    data = await read_body(request, MAX_LOGO_BYTES, too_large)

    def store(service: IdentityProviders, row: IdentityProvider) -> IdentityProvider:
        check_version(service, row, expected)
        service.set_logo(row.identifier, data)
        return row

    return await change_provider(request, principal, store)


async def remove_logo(request: Request) -> Response:
    principal = await require_admin(request)
    expected = expected_version(request)

    def remove(service: IdentityProviders, row: IdentityProvider) -> IdentityProvider:
        check_version(service, row, expected)
        service.remove_logo(row.identifier)
        return row

    return await change_provider(request, principal, remove)


async def provider_logo(request: Request) -> Response:
    # Public: the login page shows it to visitors who are not signed in.
    identifier = request.path_params["identifier"]

    def load(session: Session) -> StoredLogo | None:
        query = select(IdentityProvider.logo_id).where(IdentityProvider.identifier == identifier)
        logo_id = session.exec(query).first()
        return get_logo(session, logo_id) if logo_id is not None else None

    logo = await app_context(request).transaction(load)
    if logo is None:
        raise LogoNotFound(f"The identity provider {identifier!r} has no logo of its own.")
    return Response(logo.data, media_type=logo.media_type, headers=LOGO_RESPONSE_HEADERS)


_PATH = "/identity-providers/{identifier}/logo"

ROUTES = [
    resource(
        _PATH,
        {"GET": provider_logo, "PUT": upload_logo, "POST": upload_logo, "DELETE": remove_logo},
        name="provider_logo",
    )
]

_UPLOAD_ERRORS = {
    404: "There is no such identity provider (provider_not_found).",
    409: "The provider changed since the version in If-Match (version_conflict).",
    413: f"Larger than {MAX_LOGO_BYTES // 1024} KiB (logo_too_large).",
    415: "Content-Type is not image/png, image/jpeg or image/svg+xml.",
    422: "The bytes are not a valid PNG, JPEG or SVG (logo_invalid, logo_unsupported_type).",
}

OPERATIONS = [
    Operation(
        "GET",
        _PATH,
        "The provider's logo (served with a CSP that lets no SVG run script)",
        "identity-providers",
        public=True,
        response={"type": "string", "format": "binary"},
        errors={404: "No such provider, or it has no logo (logo_not_found)."},
    ),
    *(
        Operation(
            method,
            _PATH,
            "Upload the provider's logo as the raw body (PNG, JPEG or SVG, checked by content)",
            "identity-providers",
            request={"type": "string", "format": "binary"},
            request_media_type="image/*",
            response=PROVIDER,
            errors=_UPLOAD_ERRORS,
        )
        for method in ("PUT", "POST")
    ),
    Operation(
        "DELETE",
        _PATH,
        "Remove the provider's own logo",
        "identity-providers",
        response=PROVIDER,
        errors={k: v for k, v in _UPLOAD_ERRORS.items() if k in (404, 409)},
    ),
]
