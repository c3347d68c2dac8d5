"""Client secrets at rest: encrypted, keys from the environment or a private key file,
rotatable, and never printed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fedlogin.config import Config, ConfigError
from fedlogin.store.database import Database
from fedlogin.store.secrets import (
    Secret,
    SecretBox,
    SecretUnreadable,
    generate_key,
    load_or_create_key_file,
    rotate,
)
from fedlogin.store.tables import IdentityProvider
from sqlmodel import select

SECRET = "s3cr3t-value-never-shown"


def test_a_secret_round_trips_and_is_not_stored_in_clear() -> None:
    box = SecretBox([generate_key()])
    token = box.encrypt(SECRET)
    assert SECRET not in token
    assert box.decrypt(token).reveal() == SECRET


def test_a_decrypted_secret_never_prints_itself() -> None:
    secret = Secret(SECRET)
    assert SECRET not in repr(secret)
    assert SECRET not in str(secret)
    assert SECRET not in f"{secret}"
    assert SECRET not in repr([secret])


def test_the_key_file_is_created_once_with_mode_0600(data_dir: Path) -> None:
    config = Config(data_dir=data_dir)
    box = SecretBox.from_config(config)
    key_file = data_dir / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    token = box.encrypt(SECRET)
    again = SecretBox.from_config(config)  # a second process reads the same key
    assert again.decrypt(token).reveal() == SECRET
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]


def test_a_key_file_other_users_can_read_is_refused(data_dir: Path) -> None:
    key_file = data_dir / "secret.key"
    data_dir.mkdir()
    load_or_create_key_file(key_file)
    os.chmod(key_file, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_or_create_key_file(key_file)


def test_keys_from_the_environment_take_precedence_over_the_key_file(data_dir: Path) -> None:
    new, old = generate_key(), generate_key()
    token = SecretBox([old]).encrypt(SECRET)
    box = SecretBox.from_config(Config(data_dir=data_dir, secret_key=f"{new}, {old}"))
    assert box.decrypt(token).reveal() == SECRET  # the old key still decrypts
    assert SecretBox([new]).decrypt(box.encrypt(SECRET)).reveal() == SECRET  # first encrypts
    assert not data_dir.exists()  # no key file was needed


def test_a_malformed_key_is_refused_without_repeating_it() -> None:
    with pytest.raises(ConfigError) as caught:
        SecretBox(["not-a-fernet-key-but-a-secret"])
    assert "not-a-fernet-key-but-a-secret" not in caught.value.message
    assert "FEDLOGIN_SECRET_KEY" in caught.value.message


def test_a_secret_from_a_lost_key_is_a_clear_error_without_the_secret() -> None:
    token = SecretBox([generate_key()]).encrypt(SECRET)
    with pytest.raises(SecretUnreadable) as caught:
        SecretBox([generate_key()]).decrypt(token)
    assert caught.value.code == "secret_unreadable"
    assert SECRET not in str(caught.value)


def _provider(identifier: str, encrypted: str | None) -> IdentityProvider:
    return IdentityProvider(
        identifier=identifier,
        name=identifier,
        preset="generic-oidc",
        domain="sso.example.com",
        client_id="client",
        button_text="Login",
        client_secret_encrypted=encrypted,
    )


def test_rotation_re_encrypts_every_secret_with_the_first_key(db: Database) -> None:
    old, new = generate_key(), generate_key()
    old_box = SecretBox([old])
    with db.transaction() as session:
        session.add(_provider("one", old_box.encrypt("first")))
        session.add(_provider("two", old_box.encrypt("second")))
        session.add(_provider("public", None))
    with db.transaction() as session:
        assert rotate(session, SecretBox([new, old])) == 2
    new_only = SecretBox([new])
    with db.session() as session:
        rows = {r.identifier: r for r in session.exec(select(IdentityProvider)).all()}
    assert new_only.decrypt(rows["one"].client_secret_encrypted or "").reveal() == "first"
    assert new_only.decrypt(rows["two"].client_secret_encrypted or "").reveal() == "second"
    assert rows["public"].client_secret_encrypted is None


def test_rotation_changes_nothing_when_a_secret_cannot_be_read(db: Database) -> None:
    readable, lost = generate_key(), generate_key()
    with db.transaction() as session:
        session.add(_provider("ok", SecretBox([readable]).encrypt("a")))
        session.add(_provider("lost", SecretBox([lost]).encrypt("b")))
    before = _stored_secrets(db)
    with pytest.raises(SecretUnreadable), db.transaction() as session:
        rotate(session, SecretBox([Fernet.generate_key(), readable]))
    assert _stored_secrets(db) == before


def _stored_secrets(db: Database) -> dict[str, str | None]:
    with db.session() as session:
        rows = session.exec(select(IdentityProvider)).all()
        return {row.identifier: row.client_secret_encrypted for row in rows}
