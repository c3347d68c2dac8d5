"""Settings → Accounts and brands: which providers a login page on a given host offers."""

from __future__ import annotations

from typing import Any

import pytest
from fedlogin.plugins import Plugins
from fedlogin.store.brands import (
    BrandNotFound,
    LoginConfig,
    brand_fields,
    create_brand,
    delete_brand,
    effective_login_config,
    update_brand,
)
from fedlogin.store.database import Database
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.secrets import SecretBox
from fedlogin.store.settings import get_settings, update_settings
from fedlogin.store.tables import AuditEntry
from sqlmodel import col, select

ACTOR = "alice"


@pytest.fixture
def providers(db: Database, plugins: Plugins, box: SecretBox) -> list[str]:
    """Three providers; ``off`` is disabled."""
    with db.transaction() as session:
        service = IdentityProviders(session, plugins, box, actor=ACTOR)
        for identifier, enabled in (("google", True), ("okta", True), ("off", False)):
            service.create(
                {
                    "identifier": identifier,
                    "name": identifier.title(),
                    "domain": f"{identifier}.example.com",
                    "client_id": "c",
                    "client_secret": "s",
                    "enabled": enabled,
                }
            )
    return ["google", "okta", "off"]


def settings(db: Database, **changes: Any) -> None:
    with db.transaction() as session:
        update_settings(session, changes, actor=ACTOR)


def brand(db: Database, plugins: Plugins | None = None, **data: Any) -> int:
    with db.transaction() as session:
        row = create_brand(session, data, actor=ACTOR, plugins=plugins)
        assert row.id is not None
        return row.id


def config_for(db: Database, host: str) -> LoginConfig:
    with db.session() as session:
        return effective_login_config(session, host)


# -- settings ------------------------------------------------------------------------------


def test_settings_start_off_and_take_an_ordered_list(db: Database, providers: list[str]) -> None:
    assert config_for(db, "platform.example.com") == LoginConfig(False, (), ())
    settings(db, federated_login_enabled=True, identity_providers=["okta", "google"])
    assert config_for(db, "platform.example.com") == LoginConfig(True, ("okta", "google"), ())
    with db.session() as session:
        row = get_settings(session)
        assert row.version == 2
        entry = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
        assert entry is not None and entry.action == "settings.update"
        assert entry.after == {
            "federated_login_enabled": True,
            "identity_providers": ["okta", "google"],
        }


def test_disabled_providers_are_not_offered_but_keep_their_place(
    db: Database, providers: list[str]
) -> None:
    settings(db, federated_login_enabled=True, identity_providers=["off", "okta"])
    assert config_for(db, "x").identity_providers == ("okta",)


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"identity_providers": ["google", "nope"]}, "identity_providers", "unknown_provider"),
        ({"identity_providers": ["google", "google"]}, "identity_providers", "duplicate"),
        ({"identity_providers": "google"}, "identity_providers", "invalid_type"),
        ({"federated_login_enabled": "on"}, "federated_login_enabled", "invalid_type"),
        ({"federated_login": True}, "federated_login", "unknown_field"),
    ],
)
def test_invalid_settings_are_field_errors_and_change_nothing(
    db: Database, providers: list[str], changes: dict[str, Any], field: str, code: str
) -> None:
    settings(db, identity_providers=["google"])
    with pytest.raises(ValidationFailed) as caught:
        settings(db, **changes)
    assert caught.value.field_codes == {field: code}
    with db.session() as session:
        assert get_settings(session).identity_providers == ["google"]


# -- brands --------------------------------------------------------------------------------


def test_a_brand_with_its_own_settings_is_chosen_by_host(
    db: Database, providers: list[str], plugins: Plugins
) -> None:
    settings(db, federated_login_enabled=True, identity_providers=["google", "okta"])
    brand(
        db,
        plugins,
        name="Acme",
        hosts="Login.Acme.example, https://acme.example:8443/",
        inherit=False,
        federated_login_enabled=True,
        identity_providers=["okta"],
        disabled_plugins=["TenantPlugin"],
    )
    acme = LoginConfig(True, ("okta",), ("TenantPlugin",), brand="Acme")
    assert config_for(db, "login.acme.example") == acme
    assert config_for(db, "LOGIN.ACME.EXAMPLE:443") == acme  # falls back to the bare host
    assert config_for(db, "acme.example:8443") == acme
    assert config_for(db, "acme.example").brand is None  # only port 8443 was given
    assert config_for(db, "platform.example").identity_providers == ("google", "okta")


def test_an_inheriting_brand_follows_the_global_settings_but_keeps_its_plugin_switches(
    db: Database, providers: list[str]
) -> None:
    settings(db, federated_login_enabled=True, identity_providers=["google"])
    brand(
        db,
        name="Beta",
        hosts=["beta.example"],
        federated_login_enabled=False,
        identity_providers=["okta"],
        disabled_plugins=["some-plugin"],
    )
    assert config_for(db, "beta.example") == LoginConfig(
        True, ("google",), ("some-plugin",), brand="Beta"
    )


def test_a_brand_can_switch_federated_login_off(db: Database, providers: list[str]) -> None:
    settings(db, federated_login_enabled=True, identity_providers=["google"])
    brand(db, name="Quiet", hosts=["quiet.example"], inherit=False)
    assert config_for(db, "quiet.example") == LoginConfig(False, (), (), brand="Quiet")


def test_a_host_belongs_to_one_brand_only(db: Database, providers: list[str]) -> None:
    brand(db, name="Acme", hosts=["login.acme.example"])
    with pytest.raises(ValidationFailed) as caught:
        brand(db, name="Copy", hosts=["other.example", "LOGIN.acme.example."])
    assert caught.value.field_codes == {"hosts": "host_taken"}
    assert "Acme" in caught.value.fields["hosts"]


def test_a_brand_may_keep_its_own_hosts_on_update(db: Database, providers: list[str]) -> None:
    brand_id = brand(db, name="Acme", hosts=["login.acme.example"])
    with db.transaction() as session:
        row = update_brand(
            session, brand_id, {"hosts": ["login.acme.example", "acme.example"]}, actor=ACTOR
        )
        assert row.hosts == ["login.acme.example", "acme.example"]
        assert row.version == 2
        assert brand_fields(row)["name"] == "Acme"


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"hosts": []}, "hosts", "hosts_required"),
        ({"hosts": ["not a host"]}, "hosts", "invalid_host"),
        ({"hosts": ["acme.example:99999"]}, "hosts", "invalid_host"),
        ({"hosts": ["acme.example/path"]}, "hosts", "invalid_host"),
        ({"name": ""}, "name", "name_required"),
        ({"name": "Taken"}, "name", "brand_name_taken"),
        ({"identity_providers": ["nope"]}, "identity_providers", "unknown_provider"),
        ({"disabled_plugins": ["no-such-plugin"]}, "disabled_plugins", "unknown_plugin"),
        ({"inherit": None}, "inherit", "invalid_type"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_invalid_brands_are_field_errors(
    db: Database,
    providers: list[str],
    plugins: Plugins,
    data: dict[str, Any],
    field: str,
    code: str,
) -> None:
    brand(db, name="Taken", hosts=["taken.example"])
    with pytest.raises(ValidationFailed) as caught:
        brand(db, plugins, **{"name": "New", "hosts": ["new.example"], **data})
    assert caught.value.field_codes == {field: code}


def test_deleting_a_provider_removes_it_from_brands(
    db: Database, providers: list[str], plugins: Plugins, box: SecretBox
) -> None:
    brand_id = brand(
        db,
        name="Acme",
        hosts=["acme.example"],
        inherit=False,
        identity_providers=["google", "okta"],
    )
    with db.transaction() as session:
        IdentityProviders(session, plugins, box, actor=ACTOR).delete("google")
    assert config_for(db, "acme.example").identity_providers == ("okta",)
    with db.transaction() as session:
        delete_brand(session, brand_id, actor=ACTOR)
    assert config_for(db, "acme.example").brand is None
    with pytest.raises(BrandNotFound), db.transaction() as session:
        delete_brand(session, brand_id, actor=ACTOR)
