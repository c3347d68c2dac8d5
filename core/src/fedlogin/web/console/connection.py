"""Test Connection from the provider form (P7, T1): the values on the screen, not the saved ones.

A new provider's form is read exactly as the admin API's unsaved test reads it
(:func:`fedlogin.web.api.connection.read_form`: what a test does not need may be empty). An
edited provider is tested with the values Save would store: the change is applied in a
transaction that is then rolled back, so the Domain the test fetches is the one that would
be saved (a tenant edited in the Azure preset's field, say) and nothing is written.

The page shows the report without leaving it (``static/console.js`` posts the form and
inserts the fragment this module renders); without JavaScript the button submits the form
and the whole page comes back with the report and the values as typed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import attrs
from sqlmodel import Session
from starlette.requests import Request

from fedlogin.errors import FedloginError
from fedlogin.oidc import ConnectionReport, run_connection_test
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.providers import IdentityProviders
from fedlogin.web.api.connection import read_form
from fedlogin.web.console.auth import ConsoleAdmin
from fedlogin.web.context import AppContext, app_context

log = logging.getLogger(__name__)

#: Sent by console.js: answer with the report fragment instead of the whole page.
FRAGMENT_HEADER = "x-fedlogin-fragment"


@attrs.frozen
class ConnectionOutcome:
    """A report (the test ran), or why it could not run (``error``, field errors)."""

    report: ConnectionReport | None = None
    domain: str | None = None
    error: str | None = None
    fields: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Target:
    preset: str
    domain: str
    options: Mapping[str, str]
    auth_method: str


class _Tested(Exception):
    """Carries the would-be-saved values out of the transaction it rolls back."""

    def __init__(self, target: _Target) -> None:
        super().__init__("rolled back after reading the values")
        self.target = target


def wants_fragment(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "connection-report"


async def run_for_new_form(
    request: Request, admin: ConsoleAdmin, data: Mapping[str, Any]
) -> ConnectionOutcome:
    ctx = app_context(request)
    form = {key: value for key, value in data.items() if key != "client_secret"}

    def read(session: Session) -> _Target:
        values = read_form(_service(ctx, session, admin), form)
        return _Target(
            values.preset, values.domain, dict(values.preset_options), values.auth_method
        )

    try:
        target = await ctx.transaction(read)
    except FedloginError as exc:
        return _refused(exc)
    return await _run(ctx, target)


async def run_for_edited_form(
    request: Request, admin: ConsoleAdmin, identifier: str, changes: Mapping[str, Any]
) -> ConnectionOutcome:
    ctx = app_context(request)
    edits = {key: value for key, value in changes.items() if key != "client_secret"}

    def read(session: Session) -> None:
        row = _service(ctx, session, admin).update(identifier, edits)
        raise _Tested(_Target(row.preset, row.domain, dict(row.preset_options), row.auth_method))

    try:
        await ctx.transaction(read)
    except _Tested as tested:
        return await _run(ctx, tested.target)
    except FedloginError as exc:
        return _refused(exc)
    raise AssertionError("the test transaction must end by rolling back")  # pragma: no cover


def _service(ctx: AppContext, session: Session, admin: ConsoleAdmin) -> IdentityProviders:
    return IdentityProviders(session, ctx.plugins, ctx.secrets, actor=admin.principal.actor)


def _refused(exc: FedloginError) -> ConnectionOutcome:
    fields = dict(exc.fields) if isinstance(exc, ValidationFailed) else {}
    return ConnectionOutcome(error=exc.message, fields=fields)


async def _run(ctx: AppContext, target: _Target) -> ConnectionOutcome:
    try:
        discovery = ctx.plugins.discovery(target.preset, target.domain, target.options)
    except FedloginError as exc:
        return ConnectionOutcome(error=exc.message, fields=dict(exc.fields))
    report = await run_connection_test(ctx.outbound, discovery, auth_method=target.auth_method)
    outcome = "ok" if report.failure is None else f"{report.failure.step}/{report.failure.code}"
    log.info("console connection test of %s: %s", discovery.url, outcome)
    return ConnectionOutcome(report=report, domain=discovery.domain)
