"""The OpenAPI 3.1 document at ``/api/v1/openapi.json``, built from what each API module
declares next to its routes (``OPERATIONS``), so the description cannot drift from the code
unnoticed: tests/web/test_openapi.py checks that every route has an operation and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import version
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JsonSchema = Mapping[str, Any]

ERROR_SCHEMA: JsonSchema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable."},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Field name to message, for invalid input.",
                },
                "field_codes": {"type": "object", "additionalProperties": {"type": "string"}},
                "hint": {"type": "string"},
            },
        }
    },
}


@attrs.frozen
class Operation:
    """One method on one path, as the OpenAPI document shows it.

    ``path`` is relative to ``/api/v1`` with Starlette's ``{name}`` parameters;
    ``errors`` maps each status the operation can answer with to when it does.
    """

    method: str
    path: str
    summary: str
    tag: str
    response: JsonSchema = attrs.field(factory=lambda: {"type": "object"})
    status: int = 200
    request: JsonSchema | None = None
    #: Media type of the request body, when it is not JSON (a logo upload).
    request_media_type: str = "application/json"
    query: Mapping[str, str] = attrs.field(factory=dict)  # name -> description
    errors: Mapping[int, str] = attrs.field(factory=dict)
    public: bool = False  # no bearer token needed

    def to_openapi(self) -> dict[str, Any]:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_parameters(self.path)
        ]
        parameters += [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string"},
            }
            for name, text in self.query.items()
        ]
        responses: dict[str, Any] = {
            str(self.status): {
                "description": "Success",
                "content": {"application/json": {"schema": dict(self.response)}},
            }
        }
        errors = dict(self.errors)
        if not self.public:
            errors.setdefault(401, "No valid admin bearer token.")
        for status, text in sorted(errors.items()):
            responses[str(status)] = {
                "description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        operation: dict[str, Any] = {
            "summary": self.summary,
            "tags": [self.tag],
            "operationId": _operation_id(self.method, self.path),
            "parameters": parameters,
            "responses": responses,
        }
        if self.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {self.request_media_type: {"schema": dict(self.request)}},
            }
        if self.public:
            operation["security"] = []
        return operation


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1].split(":", 1)[0] for part in path.split("/") if part.startswith("{")]


def _operation_id(method: str, path: str) -> str:
    words = [part.strip("{}").replace("-", "_") for part in path.split("/") if part]
    return "_".join([method.lower(), *words])


def document(operations: Iterable[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.to_openapi()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fedlogin admin API",
            "version": version("fedlogin"),
            "description": (
                "Manage identity providers, federated-login settings and brands. "
                "Authenticate with `Authorization: Bearer <token>` "
                "(`fedlogin admin token NAME`). Errors are "
                '`{"error": {"code", "message", "fields"}}`.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}],
        "components": {
            "securitySchemes": {"bearerToken": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": dict(ERROR_SCHEMA)},
        },
        "paths": paths,
    }


def openapi_endpoint(operations: Iterable[Operation]) -> Any:
    body = document(operations)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(body)

    return openapi_json
