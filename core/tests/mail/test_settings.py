"""FEDLOGIN_SMTP_*: read into Config.smtp, with a clear error for each unusable value."""

from __future__ import annotations

from pathlib import Path

import pytest
from fedlogin.config import Config, ConfigError, SmtpSettings

BASE = {"FEDLOGIN_SMTP_HOST": "smtp.example.com", "FEDLOGIN_SMTP_FROM": "login@example.com"}


def read(tmp_path: Path, **env: str) -> Config:
    return Config.from_env(env, cwd=tmp_path)


def test_without_a_host_there_is_no_smtp_server(tmp_path: Path) -> None:
    assert read(tmp_path).smtp is None
    assert read(tmp_path, FEDLOGIN_SMTP_FROM="login@example.com").smtp is None


def test_the_defaults_are_port_587_with_starttls_required(tmp_path: Path) -> None:
    assert read(tmp_path, **BASE).smtp == SmtpSettings(
        host="smtp.example.com", sender="login@example.com", port=587, starttls=True
    )


def test_every_setting_is_read(tmp_path: Path) -> None:
    smtp = read(
        tmp_path,
        **BASE,
        FEDLOGIN_SMTP_PORT="2525",
        FEDLOGIN_SMTP_USERNAME="mailer",
        FEDLOGIN_SMTP_PASSWORD=" pass with spaces ",
        FEDLOGIN_SMTP_STARTTLS="0",
    ).smtp
    assert smtp is not None
    assert (smtp.port, smtp.username, smtp.password, smtp.starttls) == (
        2525,
        "mailer",
        " pass with spaces ",
        False,
    )
    assert "pass with spaces" not in repr(smtp)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"FEDLOGIN_SMTP_FROM": ""}, "FEDLOGIN_SMTP_FROM"),
        ({"FEDLOGIN_SMTP_FROM": "not an address"}, "FEDLOGIN_SMTP_FROM"),
        ({"FEDLOGIN_SMTP_PORT": "smtp"}, "FEDLOGIN_SMTP_PORT"),
        ({"FEDLOGIN_SMTP_PORT": "70000"}, "FEDLOGIN_SMTP_PORT"),
        ({"FEDLOGIN_SMTP_USERNAME": "mailer"}, "FEDLOGIN_SMTP_PASSWORD"),
        ({"FEDLOGIN_SMTP_PASSWORD": "secret"}, "FEDLOGIN_SMTP_USERNAME"),
        ({"FEDLOGIN_SMTP_STARTTLS": "maybe"}, "FEDLOGIN_SMTP_STARTTLS"),
    ],
)
def test_an_unusable_value_is_a_clear_error_naming_the_variable(
    tmp_path: Path, env: dict[str, str], names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        read(tmp_path, **{**BASE, **env})
    assert names in caught.value.message
    assert "secret" not in caught.value.message
