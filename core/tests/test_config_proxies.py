"""``FEDLOGIN_FORWARDED_ALLOW_IPS``: which reverse proxies' forwarding headers are believed."""

from __future__ import annotations

from pathlib import Path

import pytest
from fedlogin.config import FORWARDED_ALLOW_IPS_ENV, Config, ConfigError


def read(value: str | None, tmp_path: Path) -> tuple[str, ...]:
    env = {} if value is None else {FORWARDED_ALLOW_IPS_ENV: value}
    return Config.from_env(env, cwd=tmp_path).forwarded_allow_ips


def test_nobody_is_trusted_by_default(tmp_path: Path) -> None:
    assert read(None, tmp_path) == ()
    assert read("  ", tmp_path) == ()


@pytest.mark.parametrize(
    ("value", "trusted"),
    [
        ("10.0.0.5", ("10.0.0.5",)),
        (" 10.0.0.5 , 10.1.0.0/16,fd00::/8 ", ("10.0.0.5", "10.1.0.0/16", "fd00::/8")),
        ("10.0.0.5/32, 10.0.0.5", ("10.0.0.5",)),  # one host, however written
        ("::1", ("::1",)),
        ("*", ("*",)),
    ],
)
def test_addresses_and_networks_are_read(
    value: str, trusted: tuple[str, ...], tmp_path: Path
) -> None:
    assert read(value, tmp_path) == trusted


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("proxy.internal", "'proxy.internal' is not one (host names are not resolved)"),
        ("10.0.0.300", "'10.0.0.300' is not one."),
        ("10.0.0.5/8", "did you mean 10.0.0.0/8?"),
        ("10.0.0.5, *", "cannot be combined"),
    ],
)
def test_anything_else_is_refused_at_start_up_naming_the_setting(
    value: str, says: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        read(value, tmp_path)
    assert caught.value.message.startswith(FORWARDED_ALLOW_IPS_ENV)
    assert says in caught.value.message
