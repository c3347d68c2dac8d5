"""Test Connection (P7, T1): ``/identity-providers/{identifier}/test-connection`` for a saved
provider and ``/identity-providers/test-connection`` for the values of an unsaved form.

A test that ran answers 200 whether the provider passed or not (``ok`` says which, and
``failure`` names the step, a stable code, the message and what to check); only a request
we cannot run a test for is an error (an invalid form is 422, an unknown provider 404).

The unsaved form is read with the rules of a create, so that it fails here exactly where
Save would fail, with two differences: the identifier need not be free (the admin may be
testing a copy of a saved provider), and the fields a connection test does not use
(identifier, name, client ID, client secret) may still be empty. What is given is checked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.oidc import ConnectionReport, run_connection_test
from fedlogin.presets import DiscoveryTarget
from fedlogin.store.provider_input import (
    ProviderValues,
)
from fedlogin.store.providers import IdentityProviders
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok, read_json
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.providers import with_providers
from fedlogin.web.api.schemas import CONNECTION_REPORT, PROVIDER_INPUT
from fedlogin.web.context import app_context

log = logging.getLogger(__name__)

#: Stand-ins for what a connection test does not need, so that a half-filled form can be
#: tested. They only satisfy the validators; nothing is saved.
_NOT_NEEDED = {"identifier": "connection-test", "name": "Connection test", "client_id": "-"}


def report_json(target: DiscoveryTarget, report: ConnectionReport) -> dict[str, Any]:
    failure = report.failure
    return {
        "ok": report.ok,
        "domain": target.domain,
        "discovery_url": report.discovery_url,
        "issuer": report.issuer,
        "authorization_endpoint": report.authorization_endpoint,
        "token_endpoint": report.token_endpoint,
        "userinfo_endpoint": report.userinfo_endpoint,
        "jwks_uri": report.jwks_uri,
        "jwks_key_count": report.jwks_key_count,
        "signing_algorithms": list(report.signing_algorithms),
        "warnings": [attrs.asdict(warning) for warning in report.warnings],
        "failure": None
        if failure is None
        else {
            "step": failure.step,
            "code": failure.code,
            "message": failure.message,
            # The most specific hint first; the product document's list follows.
            "hint": failure.hints[0] if failure.hints else None,
            "hints": list(failure.hints),
        },
    }


async def run_test(
    request: Request, preset: str, domain: str, options: Mapping[str, str], auth_method: str
) -> Response:
    context = app_context(request)
    target = context.plugins.discovery(preset, domain, options)
    report = await run_connection_test(context.outbound, target, auth_method=auth_method)
    outcome = "ok" if report.failure is None else f"{report.failure.step}/{report.failure.code}"
    log.info("connection test of %s: %s", target.url, outcome)
    return ok(report_json(target, report))


async def saved_connection_test(request: Request) -> Response:
    principal = await require_admin(request)
    identifier = request.path_params["identifier"]

    def load(service: IdentityProviders) -> tuple[str, str, dict[str, str], str]:
        row = service.get(identifier)
        return row.preset, row.domain, dict(row.preset_options), row.auth_method

    preset, domain, options, auth_method = await with_providers(request, principal, load)
    return await run_test(request, preset, domain, options, auth_method)


async def unsaved_connection_test(request: Request) -> Response:
    principal = await require_admin(request)
    form = await read_json(request)
    values = await with_providers(request, principal, lambda service: read_form(service, form))
    return await run_test(
        request, values.preset, values.domain, values.preset_options, values.auth_method
    )


def read_form(service: IdentityProviders, form: Mapping[str, Any]) -> ProviderValues:
    """The form's values, read as a create reads them (see the module's docstring)."""
    return service.read_unsaved(
        form, stand_ins=_NOT_NEEDED, refusal=("The connection", "was not tested")
    )


ROUTES = [
    Route("/identity-providers/test-connection", unsaved_connection_test, methods=["POST"]),
    Route(
        "/identity-providers/{identifier}/test-connection", saved_connection_test, methods=["POST"]
    ),
]

_RAN = (
    "The test ran: ok says whether the provider passed; failure names the step, code "
    "(dns, tls, timeout, connect, http_status, redirect, too_large, not_json, missing_fields, "
    "invalid_metadata, issuer_mismatch, insecure_scheme, address_blocked, jwks_unreachable, "
    "jwks_invalid, jwks_empty), message and hints."
)

OPERATIONS = [
    Operation(
        "POST",
        "/identity-providers/test-connection",
        "Test the values of an unsaved form (nothing is saved). " + _RAN,
        "identity-providers",
        request=PROVIDER_INPUT,
        response=CONNECTION_REPORT,
        errors={
            400: "The body is not a JSON object (invalid_json).",
            413: "The body is too large (too_large).",
            415: "The body is not JSON (unsupported_media_type).",
            422: "The form is invalid: `fields` and `field_codes` say which and why.",
        },
    ),
    Operation(
        "POST",
        "/identity-providers/{identifier}/test-connection",
        "Test a saved provider's domain now (nothing cached). " + _RAN,
        "identity-providers",
        response=CONNECTION_REPORT,
        errors={
            404: "There is no such identity provider, or its preset's plugin is gone.",
        },
    ),
]
