"""The client secret is shown never, anywhere (issue 3, P9, SECURITY.md): every API call an
admin can make, successful or refused, is scanned — bodies, headers, every log record at DEBUG
— and so is every row the database holds.

The scan is only worth something if the secret really went in: the test also checks that the
service can decrypt the stored secret and that log records were captured at all.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from fedlogin.store.database import Database
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import metadata
from fedlogin.web.context import AppContext

from tests.support.hostile_op import HostileOP
from tests.web.test_api_providers import png

SECRET = "Zq8-distinctive-client-secret-7731"
NEW_SECRET = "Wx4-another-distinctive-secret-0952"
PROVIDERS = "/api/v1/identity-providers"


class Recorder:
    """Every response the admin got, for the scan."""

    def __init__(self, admin: httpx.AsyncClient) -> None:
        self.admin = admin
        self.responses: list[httpx.Response] = []

    async def __call__(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await self.admin.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.responses.append(response)
        return response


def provider(identifier: str, secret: str = SECRET, **overrides: object) -> dict[str, object]:
    return {
        "identifier": identifier,
        "name": identifier.title(),
        "domain": "idp.example.com",
        "client_id": "app",
        "client_secret": secret,
        **overrides,
    }


async def exercise_the_api(call: Recorder, op: HostileOP) -> None:
    """Every GET, POST, PATCH... the API has, the good way and the refused way."""
    created = await call("POST", PROVIDERS, json=provider("corp", domain=op.issuer))
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    assert (await call("POST", PROVIDERS, json=provider("other"))).status_code == 201
    # Refusals, each carrying the secret in what was sent.
    refusals = [
        ("POST", PROVIDERS, provider("corp")),  # identifier taken
        ("POST", PROVIDERS, provider("public", auth_method="none")),  # no secret allowed
        ("POST", PROVIDERS, provider("Bad Id", scopes="profile")),
        ("POST", PROVIDERS, provider("ctl", secret=SECRET + "\x00")),  # not printable
        ("POST", PROVIDERS, {"client_secrt": SECRET, **provider("typo")}),  # unknown field
        ("PATCH", f"{PROVIDERS}/corp", {"client_secret": NEW_SECRET, "version": version + 9}),
        ("PATCH", f"{PROVIDERS}/nobody", {"client_secret": SECRET}),
        ("PUT", PROVIDERS, provider("wrong-method")),
        ("POST", f"{PROVIDERS}/test-connection", provider("x", domain="10.1.2.3", colour=1)),
        ("PATCH", "/api/v1/settings/accounts", {"client_secret": SECRET}),
        ("POST", "/api/v1/brands", {"name": "B", "hosts": ["b.example"], "client_secret": SECRET}),
    ]
    for method, url, body in refusals:
        response = await call(method, url, json=body)
        assert 400 <= response.status_code < 500, (method, url, response.text)
    malformed = '{"client_secret": "' + SECRET + '", '
    for content_type in ("application/json", "text/plain"):
        response = await call(
            "POST", PROVIDERS, content=malformed, headers={"content-type": content_type}
        )
        assert response.status_code in (400, 415)
    # Reads, changes without the secret, and the rest of the API.
    for method, url, body in [
        ("GET", PROVIDERS, None),
        ("GET", f"{PROVIDERS}/corp", None),
        ("PATCH", f"{PROVIDERS}/corp", {"name": "Corp", "description": "no secret here"}),
        ("PATCH", f"{PROVIDERS}/other", {"client_secret": NEW_SECRET}),
        ("POST", f"{PROVIDERS}/corp/disable", None),
        ("POST", f"{PROVIDERS}/corp/enable", None),
        ("POST", f"{PROVIDERS}/corp/test-connection", None),
        ("POST", f"{PROVIDERS}/other/test-connection", None),  # fails: dns
        ("POST", f"{PROVIDERS}/test-connection", provider("corp", domain=op.issuer)),
        (
            "PUT",
            "/api/v1/settings/accounts",
            {"federated_login_enabled": True, "identity_providers": ["corp"]},
        ),
        ("GET", "/api/v1/settings/accounts", None),
        ("POST", "/api/v1/brands", {"name": "Acme", "hosts": ["acme.example"]}),
        ("GET", "/api/v1/brands", None),
        ("GET", "/api/v1/presets", None),
        ("GET", "/api/v1/presets/generic-oidc", None),
        ("GET", "/api/v1/openapi.json", None),
    ]:
        response = await call(method, url, json=body)
        assert response.status_code < 300, (method, url, response.text)
    logo = await call(
        "PUT", f"{PROVIDERS}/corp/logo", content=png(), headers={"content-type": "image/png"}
    )
    assert logo.status_code == 200
    assert (await call("GET", f"{PROVIDERS}/corp/logo")).status_code == 200
    assert (await call("GET", "/api/v1/audit-log?limit=500")).status_code == 200
    refused = await call("DELETE", f"{PROVIDERS}/other?confirm=perhaps")
    assert refused.status_code == 400
    assert (await call("DELETE", f"{PROVIDERS}/other")).status_code == 200
    assert (await call("GET", "/api/v1/audit-log")).status_code == 200


async def test_no_response_log_record_or_row_holds_a_client_secret(
    admin: httpx.AsyncClient,
    hostile_op: HostileOP,
    context: AppContext,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger propagates to it
    call = Recorder(admin)
    await exercise_the_api(call, hostile_op)

    # The secrets went in: the scan below is not vacuous.
    with db.transaction() as session:
        service = IdentityProviders(session, context.plugins, context.secrets, actor="test")
        stored = service.client_secret(service.get("corp"))
        assert stored is not None and stored.reveal() == SECRET
    assert len(call.responses) > 30
    assert any("connection test" in record.getMessage() for record in caplog.records)

    secrets = (SECRET, NEW_SECRET)
    for response in call.responses:
        where = f"{response.request.method} {response.request.url} -> {response.status_code}"
        for secret in secrets:
            assert secret.encode() not in response.content, where
            for name, value in response.headers.items():
                assert secret not in value, (where, name)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        logged = formatter.format(record) + repr(record.__dict__)
        for secret in secrets:
            assert secret not in logged, (record.name, record.getMessage())

    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for secret in secrets:
                    assert secret not in repr(tuple(row)), table.name
