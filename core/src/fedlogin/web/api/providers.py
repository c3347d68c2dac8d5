"""``/api/v1/identity-providers``: create, list, read, update, delete, enable and disable.

The service (:class:`fedlogin.store.providers.IdentityProviders`) validates, audits and
keeps the client secret encrypted; this module adds HTTP: status codes, ``Location`` and
``ETag`` headers, optimistic locking (``If-Match`` or the body's ``version``) and the
delete confirmation, given as ``?confirm=true`` (a DELETE body is ignored by many clients
and proxies). The secret never leaves: views carry only ``client_secret_set``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.accounts.email_trust import trust_mode_warnings
from fedlogin.errors import FedloginError
from fedlogin.plugins import Plugins
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.store.provider_views import brand_callback_urls, callback_url, provider_fields
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import IdentityProvider
from fedlogin.web.admin_auth import AdminPrincipal, require_admin
from fedlogin.web.api.io import ok, read_json
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import etag, expected_version, flag, query
from fedlogin.web.api.routing import resource
from fedlogin.web.api.schemas import PROVIDER, PROVIDER_CREATE, PROVIDER_INPUT, list_of
from fedlogin.web.context import app_context

T = TypeVar("T")
View = dict[str, Any]


async def with_providers(
    request: Request, principal: AdminPrincipal, work: Callable[[IdentityProviders], T]
) -> T:
    """Run ``work`` with the provider service in one transaction, as ``principal``."""
    context = app_context(request)

    def run(session: Session) -> T:
        service = IdentityProviders(
            session, context.plugins, context.secrets, actor=principal.actor
        )
        return work(service)

    return await context.transaction(run)


def provider_view(request: Request, service: IdentityProviders, row: IdentityProvider) -> View:
    """The provider as the API shows it: never the secret; the callback URLs to register."""
    view = provider_fields(row)
    base_url = app_context(request).config.base_url
    view["callback_url"] = callback_url(base_url, row.identifier)
    view["brand_callback_urls"] = brand_callback_urls(service.session, base_url, row.identifier)
    view["logo_url"] = (
        str(request.url_for("provider_logo", identifier=row.identifier)) if row.logo_id else None
    )
    view["warnings"] = [
        attrs.asdict(warning) for warning in trust_mode_warnings(row.preset, row.email_trust_mode)
    ]
    return view


def discovery_url_of(plugins: Plugins, row: IdentityProvider) -> str | None:
    """Where this provider's discovery document is cached, if its preset can still say."""
    try:
        return plugins.discovery(row.preset, row.domain, row.preset_options).url
    except FedloginError:
        return None


def answer(view: View, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return ok(view, status, {**etag(view["version"]), **(headers or {})})


async def change_provider(
    request: Request,
    principal: AdminPrincipal,
    work: Callable[[IdentityProviders, IdentityProvider], IdentityProvider],
) -> Response:
    """Apply ``work`` to the provider in the path and answer with its new view.

    The discovery documents cached for its old and new domain are dropped, so that an
    edited domain (or tenant) is fetched afresh at the next sign-in on this process.
    """
    identifier = request.path_params["identifier"]
    context = app_context(request)

    def run(service: IdentityProviders) -> tuple[View, set[str | None]]:
        old = discovery_url_of(context.plugins, service.get(identifier))
        row = work(service, service.get(identifier))
        return provider_view(request, service, row), {old, discovery_url_of(context.plugins, row)}

    view, stale = await with_providers(request, principal, run)
    for url in stale - {None}:
        assert url is not None
        context.discovery.invalidate(url)
    return answer(view)


def check_version(service: IdentityProviders, row: IdentityProvider, expected: int | None) -> None:
    """For the changes the service has no ``expected_version`` for (delete, logo)."""
    begin_admin_change(service.session)  # under the lock (it expires rows: a fresh read)
    if expected is not None and row.version != expected:
        raise VersionConflict(
            f"The identity provider {row.identifier!r} was changed by someone else "
            f"(version {row.version}, you edited version {expected}); reload it."
        )


# -- routes -----------------------------------------------------------------------------------


async def list_providers(request: Request) -> Response:
    principal = await require_admin(request)
    views = await with_providers(
        request,
        principal,
        lambda service: [provider_view(request, service, r) for r in service.list()],
    )
    return ok({"identity_providers": views})


async def create_provider(request: Request) -> Response:
    principal = await require_admin(request)
    body = await read_json(request)
    context = app_context(request)

    def run(service: IdentityProviders) -> tuple[View, str | None]:
        row = service.create(body)
        return provider_view(request, service, row), discovery_url_of(context.plugins, row)

    view, stale = await with_providers(request, principal, run)
    if stale is not None:
        context.discovery.invalidate(stale)
    location = str(request.url_for("provider", identifier=view["identifier"]))
    return answer(view, 201, {"Location": location})


async def show_provider(request: Request) -> Response:
    principal = await require_admin(request)
    identifier = request.path_params["identifier"]
    view = await with_providers(
        request, principal, lambda service: provider_view(request, service, service.get(identifier))
    )
    return answer(view)


async def update_provider(request: Request) -> Response:
    principal = await require_admin(request)
    body = await read_json(request)
    expected = expected_version(request, body)
    return await change_provider(
        request,
        principal,
        lambda service, row: service.update(row.identifier, body, expected_version=expected),
    )


async def delete_provider(request: Request) -> Response:
    principal = await require_admin(request)
    identifier = request.path_params["identifier"]
    confirm = flag(query(request, ["confirm"]), "confirm")
    expected = expected_version(request)
    context = app_context(request)

    def run(service: IdentityProviders) -> tuple[int, str | None]:
        row = service.get(identifier)
        check_version(service, row, expected)
        stale = discovery_url_of(context.plugins, row)
        return service.delete(identifier, confirm=confirm), stale

    unlinked, stale = await with_providers(request, principal, run)
    if stale is not None:
        context.discovery.invalidate(stale)
    return ok({"deleted": identifier, "unlinked_users": unlinked})


def _switch(enabled: bool) -> Callable[[Request], Any]:
    async def switch(request: Request) -> Response:
        principal = await require_admin(request)
        expected = expected_version(request)
        return await change_provider(
            request,
            principal,
            lambda service, row: service.update(
                row.identifier, {"enabled": enabled}, expected_version=expected
            ),
        )

    switch.__name__ = "enable_provider" if enabled else "disable_provider"
    return switch


ROUTES = [
    resource("/identity-providers", {"GET": list_providers, "POST": create_provider}),
    resource(
        "/identity-providers/{identifier}",
        {"GET": show_provider, "PATCH": update_provider, "DELETE": delete_provider},
        name="provider",
    ),
    Route("/identity-providers/{identifier}/enable", _switch(True), methods=["POST"]),
    Route("/identity-providers/{identifier}/disable", _switch(False), methods=["POST"]),
]

_NOT_FOUND = {404: "There is no such identity provider (provider_not_found)."}
_CONFLICT = {409: "The provider changed since the version you sent (version_conflict)."}
_INVALID = {
    400: "The body or a parameter is malformed (invalid_json, invalid_parameter).",
    413: "The body is too large (too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    422: "Fields are invalid: `fields` and `field_codes` say which and why.",
}

OPERATIONS = [
    Operation(
        "GET",
        "/identity-providers",
        "List the identity providers",
        "identity-providers",
        response=list_of("identity_providers", PROVIDER),
    ),
    Operation(
        "POST",
        "/identity-providers",
        "Create an identity provider from a preset (its defaults fill what is left out)",
        "identity-providers",
        request=PROVIDER_CREATE,
        response=PROVIDER,
        status=201,
        errors=_INVALID,
    ),
    Operation(
        "GET",
        "/identity-providers/{identifier}",
        "An identity provider (the client secret only as client_secret_set)",
        "identity-providers",
        response=PROVIDER,
        errors=_NOT_FOUND,
    ),
    Operation(
        "PATCH",
        "/identity-providers/{identifier}",
        "Change the fields given; an empty or missing client_secret keeps the stored one",
        "identity-providers",
        request=PROVIDER_INPUT,
        response=PROVIDER,
        errors={**_INVALID, **_NOT_FOUND, **_CONFLICT},
    ),
    Operation(
        "DELETE",
        "/identity-providers/{identifier}",
        "Delete a provider and its users' links to it (never the users)",
        "identity-providers",
        query={
            "confirm": "true to delete a provider users are linked to; without it such a "
            "delete answers 409 confirmation_required with linked_users."
        },
        response={
            "type": "object",
            "properties": {
                "deleted": {"type": "string"},
                "unlinked_users": {"type": "integer"},
            },
        },
        errors={
            400: "confirm is not true or false (invalid_parameter).",
            **_NOT_FOUND,
            409: "Users are linked: confirm with ?confirm=true (confirmation_required, "
            "linked_users), or the version changed (version_conflict).",
        },
    ),
    *(
        Operation(
            "POST",
            f"/identity-providers/{{identifier}}/{action}",
            f"{action.capitalize()} the provider on the login page and its routes",
            "identity-providers",
            response=PROVIDER,
            errors={**_NOT_FOUND, **_CONFLICT, 422: "The stored provider is no longer valid."},
        )
        for action in ("enable", "disable")
    ),
]
