"""Client secrets at rest (P9): Fernet-encrypted, keys rotatable, never shown.

The keys come from ``FEDLOGIN_SECRET_KEY`` (comma-separated Fernet keys: the first encrypts,
every one decrypts) or, for the embedded default, from ``secret.key`` in the data directory,
created with mode 0600 on first use. To rotate: put a new key first in
``FEDLOGIN_SECRET_KEY`` followed by the old one, run :func:`rotate`, then drop the old key.

A decrypted secret is a :class:`Secret`, whose ``repr`` and ``str`` are masked, so that it
cannot reach a log line or an error message by accident; ``reveal()`` is the one way out.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import attrs
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, col, select

from fedlogin.config import SECRET_KEY_ENV, Config, ConfigError
from fedlogin.errors import FedloginError
from fedlogin.store.tables import IdentityProvider

MASK = "********"


class SecretUnreadable(FedloginError):
    """A stored secret cannot be decrypted with the configured keys."""

    code = "secret_unreadable"
    status = 500


@attrs.frozen(repr=False)
class Secret:
    """A secret value that does not print itself."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK


class SecretBox:
    """Encrypts with the first key, decrypts with any (``MultiFernet``)."""

    def __init__(self, keys: Sequence[bytes | str]) -> None:
        if not keys:
            raise ConfigError("At least one secret key is needed.")
        try:
            fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError) as exc:
            # Never echo the value: it is the key.
            raise ConfigError(
                f"{SECRET_KEY_ENV} must be one or more comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each, as printed by "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            ) from exc
        self._fernet = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_config(cls, config: Config) -> SecretBox:
        if config.secret_key:
            return cls([key.strip() for key in config.secret_key.split(",") if key.strip()])
        config.ensure_data_dir()
        return cls([load_or_create_key_file(config.secret_key_path)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token.encode("ascii")).decode("utf-8"))
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(
                "A stored client secret cannot be decrypted with the configured keys. Was "
                f"{SECRET_KEY_ENV} or the secret.key file replaced without keeping the old "
                "key? Put the old key after the new one, or enter the client secret again."
            ) from exc

    def rotate_token(self, token: str) -> str:
        """``token`` re-encrypted with the first key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretUnreadable(
                "A stored client secret cannot be decrypted with any configured key, so it "
                "cannot be re-encrypted."
            ) from exc

    def __repr__(self) -> str:
        return f"SecretBox(keys={self.key_count})"


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def load_or_create_key_file(path: Path) -> bytes:
    """The key in ``path``, created (mode 0600, atomically) when it does not exist yet.

    Two processes starting together agree on one key: each writes a private temporary file
    and links it into place, which fails for all but the first. A key file other users can
    read is refused, as ssh refuses a readable private key.
    """
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"The secret key file {path} is accessible to other users (mode {mode:o}); "
            f"run `chmod 600 {path}`."
        )
    key = path.read_bytes().strip()
    if not key:
        raise ConfigError(f"The secret key file {path} is empty; delete it to create a new key.")
    return key


def _create_key_file(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: use its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def rotate(session: Session, box: SecretBox) -> int:
    """Re-encrypt every stored client secret with the first key; return how many.

    The caller commits. Every secret is checked before any is written, so a secret no key
    can read stops the rotation without changing anything.
    """
    rows = session.exec(
        select(IdentityProvider).where(col(IdentityProvider.client_secret_encrypted).isnot(None))
    ).all()
    rotated = [(row, box.rotate_token(row.client_secret_encrypted or "")) for row in rows]
    for row, token in rotated:
        row.client_secret_encrypted = token
        session.add(row)
    session.flush()
    return len(rotated)
