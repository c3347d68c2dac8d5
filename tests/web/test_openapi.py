"""The OpenAPI document describes exactly the routes the API serves."""

from __future__ import annotations

import httpx
from fedlogin.web import api
from starlette.routing import Route


def served_operations() -> set[tuple[str, str]]:
    served = set()
    for route in api.routes():
        assert isinstance(route, Route)
        if route.path == "/openapi.json":
            continue
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, route.path))
    return served


async def test_every_route_is_described_and_every_description_is_served(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/openapi.json")  # public, like any API description
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert described == served_operations()


async def test_every_operation_documents_its_errors_with_the_error_schema(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            ids = operation["operationId"]
            assert ids, (method, path)
            if operation.get("security") != []:
                assert "401" in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}
