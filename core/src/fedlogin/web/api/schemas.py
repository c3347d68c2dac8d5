"""JSON schemas the OpenAPI document shows for identity providers and their tests.

The services validate (fedlogin.store.provider_input); these schemas describe the same fields
for people and generators, with the names of issue 3 and the product document.
"""

from __future__ import annotations

from typing import Any

from fedlogin.presets import AUTH_METHODS, PROFILE_FIELDS
from fedlogin.store.provider_input import IDENTIFIER_PATTERN
from fedlogin.store.tables import EMAIL_TRUST_MODES, PROVISIONING_MODES

JsonSchema = dict[str, Any]

_STRING_LIST: JsonSchema = {
    "oneOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string", "description": "Separated by commas or spaces."},
    ]
}

#: Fields an admin writes; every one is optional on update (PATCH).
_PROVIDER_WRITABLE: JsonSchema = {
    "identifier": {
        "type": "string",
        "pattern": IDENTIFIER_PATTERN.pattern,
        "description": "Unique, lowercase; part of the callback URL, so it cannot change.",
    },
    "name": {"type": "string", "maxLength": 100},
    "description": {"type": "string", "maxLength": 2000},
    "type": {"type": "string", "enum": ["oidc"]},
    "enabled": {"type": "boolean"},
    "preset": {"type": "string", "description": "A preset name from /presets."},
    "preset_options": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "The preset's own fields (Azure tenant, PingOne region...).",
    },
    "domain": {
        "type": "string",
        "description": "Where discovery happens; a pasted URL is normalised.",
    },
    "client_id": {"type": "string", "maxLength": 255},
    "client_secret": {
        "type": "string",
        "writeOnly": True,
        "description": "Never returned. Omit or leave empty to keep the stored secret.",
    },
    "auth_method": {"type": "string", "enum": list(AUTH_METHODS)},
    "scopes": {**_STRING_LIST, "description": "Must include openid."},
    "provisioning_mode": {"type": "string", "enum": list(PROVISIONING_MODES)},
    "allowed_domains": _STRING_LIST,
    "email_trust_mode": {"type": "string", "enum": list(EMAIL_TRUST_MODES)},
    "button_text": {"type": "string", "maxLength": 150},
    "attribute_mapping": {
        "type": "object",
        "propertyNames": {"enum": list(PROFILE_FIELDS)},
        "additionalProperties": {"type": ["string", "null"]},
        "description": "Profile field to claim name; null leaves the field unmapped.",
    },
}

_PROVIDER_READ_ONLY: JsonSchema = {
    "id": {"type": "integer", "readOnly": True},
    "callback_url": {"type": "string", "readOnly": True},
    "brand_callback_urls": {
        "type": "array",
        "readOnly": True,
        "description": "The callback URL on each brand host, to register at the IdP as well.",
        "items": {
            "type": "object",
            "properties": {
                "brand": {"type": "string"},
                "host": {"type": "string"},
                "callback_url": {"type": "string"},
            },
        },
    },
    "warnings": {
        "type": "array",
        "readOnly": True,
        "description": "Risks of the configuration the console shows, such as Trust IdP on "
        "Azure AD (trust_idp_unverified_email).",
        "items": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        },
    },
    "client_secret_set": {"type": "boolean", "readOnly": True},
    "logo_id": {"type": ["integer", "null"], "readOnly": True},
    "logo_url": {"type": ["string", "null"], "readOnly": True},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    "version": {
        "type": "integer",
        "description": "Send it back (or If-Match) to refuse overwriting someone else's edit.",
    },
}

PROVIDER: JsonSchema = {
    "type": "object",
    "properties": {
        **{k: v for k, v in _PROVIDER_WRITABLE.items() if k != "client_secret"},
        **_PROVIDER_READ_ONLY,
    },
}

PROVIDER_INPUT: JsonSchema = {
    "type": "object",
    "properties": {**_PROVIDER_WRITABLE, **_PROVIDER_READ_ONLY},
    "additionalProperties": False,
}

PROVIDER_CREATE: JsonSchema = {
    **PROVIDER_INPUT,
    "required": ["identifier", "name", "client_id"],
    "description": "What is left out comes from the preset (generic-oidc by default).",
}

CONNECTION_REPORT: JsonSchema = {
    "type": "object",
    "required": ["ok", "failure", "warnings"],
    "properties": {
        "ok": {"type": "boolean"},
        "domain": {"type": "string"},
        "discovery_url": {"type": "string"},
        "issuer": {"type": ["string", "null"]},
        "authorization_endpoint": {"type": ["string", "null"]},
        "token_endpoint": {"type": ["string", "null"]},
        "userinfo_endpoint": {"type": ["string", "null"]},
        "jwks_uri": {"type": ["string", "null"]},
        "jwks_key_count": {"type": ["integer", "null"]},
        "signing_algorithms": {"type": "array", "items": {"type": "string"}},
        "warnings": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
        },
        "failure": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "step": {"type": "string", "enum": ["discovery", "jwks"]},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "hint": {"type": "string"},
                        "hints": {"type": "array", "items": {"type": "string"}},
                    },
                },
            ]
        },
    },
}


def list_of(key: str, item: JsonSchema) -> JsonSchema:
    return {"type": "object", "properties": {key: {"type": "array", "items": item}}}
