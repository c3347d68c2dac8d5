"""The identity-provider service: presets' defaults, field errors, partial updates, the
secret kept and never shown, renames refused, deletion with linked users."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fedlogin.errors import InvalidConfiguration
from fedlogin.plugins import Plugins
from fedlogin.presets import DEFAULT_ATTRIBUTE_MAPPING
from fedlogin.store import audit
from fedlogin.store.changes import config_version
from fedlogin.store.database import Database
from fedlogin.store.errors import ConfirmationRequired, VersionConflict
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.provider_views import callback_url, linked_user_count, provider_fields
from fedlogin.store.providers import IdentityProviders, ProviderNotFound
from fedlogin.store.secrets import SecretBox
from fedlogin.store.settings import get_settings, update_settings
from fedlogin.store.tables import AuditEntry, FederatedIdentity, IdentityProvider, User
from sqlmodel import Session, select

SECRET = "client-secret-4e8f0b"
ACTOR = "alice"


def base(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "identifier": "company-sso",
        "name": "Company SSO",
        "domain": "https://sso.example.com/realms/main/",
        "client_id": "fedlogin",
        "client_secret": SECRET,
    }
    data.update(overrides)
    return data


@pytest.fixture
def service(db: Database, plugins: Plugins, box: SecretBox) -> Iterator[IdentityProviders]:
    with db.session() as session:
        yield IdentityProviders(session, plugins, box, actor=ACTOR)


def create(db: Database, plugins: Plugins, box: SecretBox, **data: Any) -> IdentityProvider:
    with db.transaction() as session:
        return IdentityProviders(session, plugins, box, actor=ACTOR).create(data)


def update(
    db: Database, plugins: Plugins, box: SecretBox, target: str, **changes: Any
) -> IdentityProvider:
    with db.transaction() as session:
        return IdentityProviders(session, plugins, box, actor=ACTOR).update(target, changes)


def stored(db: Database, identifier: str = "company-sso") -> IdentityProvider:
    with db.session() as session:
        row = session.exec(
            select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        ).one()
        return row


def audit_log(db: Database) -> list[AuditEntry]:
    with db.session() as session:
        return list(session.exec(select(AuditEntry).order_by(AuditEntry.id)).all())  # type: ignore[arg-type]


def field_error(exc: pytest.ExceptionInfo[ValidationFailed], field: str) -> str:
    assert field in exc.value.fields, exc.value.fields
    return exc.value.field_codes[field]


# -- creating ------------------------------------------------------------------------------


def test_creating_from_the_generic_preset_fills_its_defaults(
    db: Database, installed_plugins: Plugins, box: SecretBox
) -> None:
    row = create(db, installed_plugins, box, **base())
    assert row.domain == "sso.example.com/realms/main"  # normalised, not rejected (P6)
    assert row.preset == "generic-oidc"
    assert row.type == "oidc" and row.enabled is True
    assert row.scope_list == ["openid", "profile", "email"]
    assert row.auth_method == "client_secret_post"
    assert row.provisioning_mode == "auto_provision"
    assert row.email_trust_mode == "verify_with_claim"
    assert row.allowed_domains == []
    assert row.button_text == "Login with Company SSO"
    assert row.attribute_mapping == dict(DEFAULT_ATTRIBUTE_MAPPING)
    assert row.version == 1


def test_preset_defaults_come_from_the_preset(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    data = base(preset="tenanted", preset_options={"tenant": "0123abcd"}, name="Acme")
    del data["domain"]
    row = create(db, plugins, box, **data)
    assert row.domain == "login.tenanted.example/0123abcd/v2.0"
    assert row.scope_list == ["openid", "email"]
    assert row.auth_method == "client_secret_basic"
    assert row.attribute_mapping == {"username": "upn", "email": "email"}
    assert row.button_text == "Sign in with Acme"
    assert row.preset_options == {"tenant": "0123abcd"}


def test_a_plugin_may_build_the_domain_from_options_so_an_empty_domain_is_allowed(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    row = create(db, plugins, box, **base(preset="regional", domain="", preset_options={}))
    assert row.domain == "auth.eu.regional.example"
    assert row.preset_options == {"region": "eu"}


def test_the_admin_may_override_every_default(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    row = create(
        db,
        plugins,
        box,
        **base(
            description="For staff",
            enabled=False,
            auth_method="client_secret_basic",
            scopes="openid, groups offline_access,openid",
            provisioning_mode="match_only",
            allowed_domains="Company.com, @subsidiary.com company.com",
            email_trust_mode="trust_idp",
            button_text="Employee Login",
            attribute_mapping={"company": "https://example.com/org", "website": None},
        ),
    )
    assert row.enabled is False
    assert row.scope_list == ["openid", "groups", "offline_access"]
    assert row.allowed_domains == ["company.com", "subsidiary.com"]
    assert row.button_text == "Employee Login"
    assert row.attribute_mapping["company"] == "https://example.com/org"
    assert "website" not in row.attribute_mapping
    assert row.attribute_mapping["username"] == "preferred_username"


def test_a_public_client_needs_no_secret(db: Database, plugins: Plugins, box: SecretBox) -> None:
    data = base(auth_method="none")
    del data["client_secret"]
    row = create(db, plugins, box, **data)
    assert row.client_secret_encrypted is None


INVALID = [
    ({"identifier": "Google"}, "identifier", "invalid_identifier"),
    ({"identifier": "-google"}, "identifier", "invalid_identifier"),
    ({"identifier": "a" * 64}, "identifier", "identifier_too_long"),
    ({"identifier": "okta_prod"}, "identifier", "invalid_identifier"),
    ({"identifier": ""}, "identifier", "identifier_required"),
    ({"identifier": "test-connection"}, "identifier", "identifier_reserved"),
    ({"name": ""}, "name", "name_required"),
    ({"name": "n" * 101}, "name", "name_too_long"),
    ({"type": "saml"}, "type", "unsupported_type"),
    ({"enabled": "yes"}, "enabled", "invalid_type"),
    ({"preset": "no-such-preset"}, "preset", "unknown_preset"),
    ({"domain": "not a domain"}, "domain", "invalid_domain"),
    ({"domain": ""}, "domain", "invalid_domain"),
    ({"domain": "ftp://sso.example.com"}, "domain", "invalid_domain"),
    ({"client_id": ""}, "client_id", "client_id_required"),
    ({"client_secret": ""}, "client_secret", "client_secret_required"),
    ({"auth_method": "private_key_jwt"}, "auth_method", "invalid_auth_method"),
    ({"auth_method": "none"}, "client_secret", "client_secret_not_allowed"),
    ({"scopes": "profile email"}, "scopes", "openid_required"),
    ({"scopes": 'openid "quoted"'}, "scopes", "invalid_scope"),
    ({"scopes": 42}, "scopes", "invalid_type"),
    ({"provisioning_mode": "auto"}, "provisioning_mode", "invalid_provisioning_mode"),
    ({"allowed_domains": "company.com, not_a domain!"}, "allowed_domains",
     "invalid_allowed_domain"),
    ({"email_trust_mode": "trust"}, "email_trust_mode", "invalid_email_trust_mode"),
    ({"button_text": "b" * 151}, "button_text", "button_text_too_long"),
    ({"attribute_mapping": {"shoe_size": "shoe"}}, "attribute_mapping.shoe_size",
     "unknown_profile_field"),
    ({"attribute_mapping": {"email": ""}}, "attribute_mapping.email", "claim_required"),
    ({"attribute_mapping": {"email": "e mail"}}, "attribute_mapping.email",
     "invalid_claim_name"),
    ({"attribute_mapping": ["email"]}, "attribute_mapping", "invalid_type"),
    ({"scope": "openid"}, "scope", "unknown_field"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "code"), INVALID)
def test_each_invalid_field_is_a_field_error_with_a_stable_code(
    db: Database,
    plugins: Plugins,
    box: SecretBox,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(db, plugins, box, **base(**change))
    assert caught.value.fields.keys() == {field}
    assert field_error(caught, field) == code
    assert caught.value.code == code  # a single bad field gives its own code
    assert isinstance(caught.value, InvalidConfiguration)
    assert caught.value.status == 422
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).all() == []


@pytest.mark.parametrize(
    ("options", "field", "code"),
    [
        ({}, "preset_options.tenant", "invalid_preset_option"),
        ({"tenant": "xyz"}, "preset_options.tenant", "invalid_preset_option"),
        ({"tenant": "0123abcd", "colour": "red"}, "preset_options.colour",
         "invalid_preset_option"),
        ({"tenant": 7}, "preset_options.tenant", "invalid_type"),
    ],
)  # fmt: skip
def test_preset_options_are_checked_against_the_presets_fields(
    db: Database, plugins: Plugins, box: SecretBox, options: Any, field: str, code: str
) -> None:
    data = base(preset="tenanted", preset_options=options)
    del data["domain"]
    with pytest.raises(ValidationFailed) as caught:
        create(db, plugins, box, **data)
    assert field_error(caught, field) == code


def test_every_bad_field_is_reported_at_once(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        create(db, plugins, box, identifier="Bad!", name="", client_id="", scopes="email")
    assert {"identifier", "name", "client_id", "scopes", "domain", "client_secret"} <= set(
        caught.value.fields
    )
    assert caught.value.code == "invalid_configuration"
    assert "fields need attention" in caught.value.message


def test_an_identifier_is_unique(db: Database, plugins: Plugins, box: SecretBox) -> None:
    create(db, plugins, box, **base())
    with pytest.raises(ValidationFailed) as caught:
        create(db, plugins, box, **base(name="Another"))
    assert field_error(caught, "identifier") == "identifier_taken"
    assert "already used" in caught.value.fields["identifier"]


def test_concurrent_creates_of_one_identifier_end_in_a_field_error_not_a_crash(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    outcome: dict[str, BaseException] = {}

    def second_admin() -> None:
        try:
            create(db, plugins, box, **base(name="Second"))
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    with db.session() as first:
        IdentityProviders(first, plugins, box, actor=ACTOR).create(base())
        thread = threading.Thread(target=second_admin)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()  # waiting for the first admin's change to finish
        first.commit()
    thread.join(10)
    error = outcome["error"]
    assert isinstance(error, ValidationFailed), repr(error)
    assert error.field_codes == {"identifier": "identifier_taken"}


def test_the_callback_url_is_built_from_the_platform_url_and_the_identifier() -> None:
    assert (
        callback_url("https://login.example.com/", "okta-prod")
        == "https://login.example.com/auth/callback/okta-prod"
    )


# -- the secret ----------------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_never_shown(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    row = create(db, plugins, box, **base())
    assert row.client_secret_encrypted and SECRET not in row.client_secret_encrypted
    assert SECRET not in repr(row)
    fields = provider_fields(row)
    assert fields["client_secret_set"] is True
    assert SECRET not in json.dumps(fields)
    assert "client_secret_encrypted" not in fields
    with db.session() as session:
        service = IdentityProviders(session, plugins, box, actor=ACTOR)
        secret = service.client_secret(service.get("company-sso"))
        assert secret is not None and secret.reveal() == SECRET
        assert SECRET not in repr(secret)


def test_an_update_without_a_secret_keeps_the_stored_one(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    encrypted = stored(db).client_secret_encrypted
    update(db, plugins, box, "company-sso", name="Renamed")
    update(db, plugins, box, "company-sso", client_secret="")
    update(db, plugins, box, "company-sso", client_secret=None, description="x")
    row = stored(db)
    assert row.client_secret_encrypted == encrypted
    assert box.decrypt(row.client_secret_encrypted or "").reveal() == SECRET


def test_a_new_secret_replaces_the_old_and_is_audited_as_changed(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    update(db, plugins, box, "company-sso", client_secret="  the-new-one\n")
    assert box.decrypt(stored(db).client_secret_encrypted or "").reveal() == "the-new-one"
    last = audit_log(db)[-1]
    assert last.before == {"client_secret": "set"}
    assert last.after == {"client_secret": "changed"}


def test_switching_to_a_public_client_drops_the_secret(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    update(db, plugins, box, "company-sso", auth_method="none")
    assert stored(db).client_secret_encrypted is None
    assert audit_log(db)[-1].after == {"auth_method": "none", "client_secret": "unset"}
    with pytest.raises(ValidationFailed) as caught:
        update(db, plugins, box, "company-sso", auth_method="client_secret_post")
    assert field_error(caught, "client_secret") == "client_secret_required"


def test_the_secret_never_reaches_the_audit_log(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    update(db, plugins, box, "company-sso", client_secret="second-secret-value")
    with db.transaction() as session:
        IdentityProviders(session, plugins, box, actor=ACTOR).delete("company-sso")
    dumped = json.dumps([[e.before, e.after] for e in audit_log(db)])
    assert SECRET not in dumped
    assert "second-secret-value" not in dumped
    assert "gAAAA" not in dumped  # nor the encrypted form (Fernet tokens start so)


def test_audit_snapshots_strip_secrets_whatever_a_caller_passes(session: Session) -> None:
    entry = audit.record(
        session,
        ACTOR,
        "x.update",
        "x",
        "1",
        before={"client_secret": SECRET, "nested": {"password": "pw"}},
        after={"client_secret": "changed", "items": [{"token": "fl_abc"}]},
    )
    assert entry.before == {"client_secret": "set", "nested": {"password": "[redacted]"}}
    assert entry.after == {"client_secret": "changed", "items": [{"token": "[redacted]"}]}


# -- updating ------------------------------------------------------------------------------


def test_update_is_partial_and_audited_with_the_changed_fields_only(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base(scopes="openid email"))
    row = update(db, plugins, box, "company-sso", enabled=False, scopes="openid profile")
    assert row.enabled is False
    assert row.scope_list == ["openid", "profile"]
    assert row.domain == "sso.example.com/realms/main"
    assert row.client_id == "fedlogin"
    assert row.version == 2
    last = audit_log(db)[-1]
    assert (last.actor, last.action, last.target_id) == (
        ACTOR,
        "identity_provider.update",
        "company-sso",
    )
    assert last.before == {"enabled": True, "scopes": ["openid", "email"]}
    assert last.after == {"enabled": False, "scopes": ["openid", "profile"]}


def test_an_update_that_changes_nothing_keeps_the_version(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    row = update(db, plugins, box, "company-sso", name="Company SSO", identifier="company-sso")
    assert row.version == 1
    assert len(audit_log(db)) == 1


def test_an_invalid_update_changes_nothing(db: Database, plugins: Plugins, box: SecretBox) -> None:
    create(db, plugins, box, **base())
    before = provider_fields(stored(db))
    with pytest.raises(ValidationFailed):
        update(db, plugins, box, "company-sso", name="Fine", scopes="email")
    assert provider_fields(stored(db)) == before
    assert len(audit_log(db)) == 1


def test_renaming_the_identifier_is_refused_with_the_reason(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    with pytest.raises(ValidationFailed) as caught:
        update(db, plugins, box, "company-sso", identifier="company-sso-2")
    assert field_error(caught, "identifier") == "identifier_immutable"
    assert "callback URL" in caught.value.fields["identifier"]


def test_a_default_button_text_follows_the_name_but_a_custom_one_stays(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    assert update(db, plugins, box, "company-sso", name="Staff").button_text == "Login with Staff"
    update(db, plugins, box, "company-sso", button_text="Employee Login")
    assert update(db, plugins, box, "company-sso", name="Other").button_text == "Employee Login"
    assert update(db, plugins, box, "company-sso", button_text="").button_text == "Login with Other"


def test_a_templated_domain_follows_its_options(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    data = base(preset="tenanted", preset_options={"tenant": "0123abcd"})
    del data["domain"]
    create(db, plugins, box, **data)
    row = update(db, plugins, box, "company-sso", preset_options={"tenant": "ffff0000"})
    assert row.domain == "login.tenanted.example/ffff0000/v2.0"
    custom = update(db, plugins, box, "company-sso", domain="login.custom.example/ffff0000")
    assert custom.domain == "login.custom.example/ffff0000"
    kept = update(db, plugins, box, "company-sso", preset_options={"tenant": "aaaa1111"})
    assert kept.domain == "login.custom.example/ffff0000"


def test_switching_preset_starts_from_the_new_presets_options(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    with pytest.raises(ValidationFailed) as caught:
        update(db, plugins, box, "company-sso", preset="tenanted")
    assert field_error(caught, "preset_options.tenant") == "invalid_preset_option"
    row = update(db, plugins, box, "company-sso", preset="regional", domain="")
    assert (row.preset, row.preset_options, row.domain) == (
        "regional",
        {"region": "eu"},
        "auth.eu.regional.example",
    )
    row = update(db, plugins, box, "company-sso", preset_options={"region": "us"})
    assert row.domain == "auth.us.regional.example"  # a domain the plugin built follows


def test_attribute_mapping_updates_merge_and_null_unmaps(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    row = update(
        db,
        plugins,
        box,
        "company-sso",
        attribute_mapping={"company": "https://example.com/claims/org", "location": None},
    )
    assert row.attribute_mapping["company"] == "https://example.com/claims/org"
    assert "location" not in row.attribute_mapping
    assert row.attribute_mapping["email"] == "email"


def test_a_stale_version_is_refused(db: Database, plugins: Plugins, box: SecretBox) -> None:
    create(db, plugins, box, **base())
    update(db, plugins, box, "company-sso", name="Someone else")
    with pytest.raises(VersionConflict), db.transaction() as session:
        IdentityProviders(session, plugins, box, actor=ACTOR).update(
            "company-sso", {"name": "Mine"}, expected_version=1
        )
    assert stored(db).name == "Someone else"


def test_an_unknown_provider_is_not_found(service: IdentityProviders) -> None:
    with pytest.raises(ProviderNotFound) as caught:
        service.update("missing", {"name": "x"})
    assert caught.value.status == 404


def test_every_admin_change_moves_the_configuration_version(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    def version() -> int:
        with db.session() as session:
            return config_version(session)

    start = version()
    create(db, plugins, box, **base())
    after_create = version()
    update(db, plugins, box, "company-sso", enabled=False)
    assert start < after_create < version()


# -- deleting ------------------------------------------------------------------------------


def link_users(db: Database, count: int) -> None:
    provider_id = stored(db).id
    assert provider_id is not None
    with db.transaction() as session:
        for number in range(count):
            user = User(username=f"user{number}", email=f"user{number}@example.com")
            session.add(user)
            session.flush()
            assert user.id is not None
            session.add(
                FederatedIdentity(
                    user_id=user.id,
                    provider_id=provider_id,
                    issuer="https://sso.example.com/realms/main",
                    subject=f"sub-{number}",
                )
            )


def test_deleting_a_provider_with_linked_users_needs_confirmation_and_keeps_the_users(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    link_users(db, 2)
    with pytest.raises(ConfirmationRequired) as caught, db.transaction() as session:
        IdentityProviders(session, plugins, box, actor=ACTOR).delete("company-sso")
    assert caught.value.linked_users == 2
    assert "2 users are linked" in caught.value.message
    assert stored(db).identifier == "company-sso"

    with db.transaction() as session:
        unlinked = IdentityProviders(session, plugins, box, actor=ACTOR).delete(
            "company-sso", confirm=True
        )
    assert unlinked == 2
    with db.session() as session:
        assert len(session.exec(select(User)).all()) == 2
        assert session.exec(select(FederatedIdentity)).all() == []
        assert session.exec(select(IdentityProvider)).all() == []
    last = audit_log(db)[-1]
    assert last.action == "identity_provider.delete"
    assert last.after == {"unlinked_users": 2, "removed_from": []}


def test_deleting_an_unused_provider_needs_no_confirmation_and_leaves_the_settings(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    create(db, plugins, box, **base())
    create(db, plugins, box, **base(identifier="other", name="Other"))
    with db.transaction() as session:
        update_settings(session, {"identity_providers": ["company-sso", "other"]}, actor=ACTOR)
    with db.transaction() as session:
        service = IdentityProviders(session, plugins, box, actor=ACTOR)
        assert linked_user_count(session, service.get("company-sso").id or 0) == 0
        assert service.delete("company-sso") == 0
    with db.session() as session:
        assert get_settings(session).identity_providers == ["other"]
