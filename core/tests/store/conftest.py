"""Store fixtures: a session on the shared ``db`` fixture (tests/support/databases.py, so
every store test runs on SQLite and on PostgreSQL), a secret box and small test presets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fedlogin import Logo, PresetField, ProviderPreset, SetupGuide, hookimpl
from fedlogin.plugins import Plugins
from fedlogin.presets import DiscoveryTarget
from fedlogin.store.database import Database
from fedlogin.store.secrets import SecretBox
from fedlogin.testing import load_plugins
from sqlmodel import Session


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as session:
        yield session


@pytest.fixture(scope="session")
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key()])


# -- plugins -------------------------------------------------------------------------------

LOGO = Logo("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"/>')
TENANT_PATTERN = r"[0-9a-f]{8}"


class TenantPlugin:
    """A preset whose domain is a template filled from a required ``tenant`` field."""

    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [
            ProviderPreset(
                id="tenanted",
                name="Tenanted",
                description="A provider with tenants",
                setup_guide=SetupGuide(steps=("Register the app.",)),
                logo=LOGO,
                domain="login.tenanted.example/{tenant}/v2.0",
                scopes=("openid", "email"),
                auth_method="client_secret_basic",
                attribute_mapping={"username": "upn", "email": "email"},
                button_text="Sign in with {name}",
                fields=(
                    PresetField(
                        name="tenant",
                        label="Tenant",
                        help="The tenant id",
                        required=True,
                        pattern=TENANT_PATTERN,
                        pattern_error="must be 8 hexadecimal digits",
                        example="0123abcd",
                    ),
                ),
            )
        ]


class RegionPlugin:
    """A preset whose plugin builds the domain from a ``region`` option (empty domain ok)."""

    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [
            ProviderPreset(
                id="regional",
                name="Regional",
                description="A provider with regions",
                setup_guide=SetupGuide(steps=("Register the app.",)),
                logo=LOGO,
                fields=(
                    PresetField(
                        name="region",
                        label="Region",
                        help="Where the tenant lives",
                        default="eu",
                        choices=("eu", "us"),
                    ),
                ),
            )
        ]

    @hookimpl
    def fedlogin_discovery(
        self, preset: str, domain: str, options: Mapping[str, str]
    ) -> DiscoveryTarget | None:
        if preset != "regional" or domain:
            return None
        host = f"auth.{options['region']}.regional.example"
        return DiscoveryTarget(
            url=f"https://{host}/.well-known/openid-configuration",
            issuer=f"https://{host}",
            domain=host,
        )


@pytest.fixture(scope="session")
def installed_plugins() -> Plugins:
    """The installed built-in presets (generic-oidc is the one finished today)."""
    return Plugins.load(disabled=())


@pytest.fixture(scope="session")
def plugins() -> Plugins:
    """The core, the generic-oidc preset and two small test presets."""
    import fedlogin_generic_oidc

    return load_plugins(fedlogin_generic_oidc, TenantPlugin(), RegionPlugin())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
