"""Sign-in events: what is kept of the claims, retention, and the filters admins use."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fedlogin.config import Config, ConfigError
from fedlogin.signin import events
from fedlogin.store.database import Database
from fedlogin.store.tables import SignInEvent
from fedlogin.store.types import utcnow
from sqlmodel import select


def test_claims_are_kept_except_token_hashes_nonce_and_distributed_sources() -> None:
    kept = events.claims_for_event(
        {
            "sub": "u1",
            "email": "ada@example.org",
            "https://example.com/roles": ["admin"],
            "nonce": "n",
            "at_hash": "h",
            "c_hash": "c",
            "_claim_sources": {"src1": {"endpoint": "https://x", "access_token": "secret-at"}},
        }
    )
    assert kept["sub"] == "u1"
    assert kept["https://example.com/roles"] == ["admin"]
    assert not {"nonce", "at_hash", "c_hash"} & set(kept)
    assert "secret-at" not in str(kept)


def test_claims_that_are_not_json_are_kept_as_json() -> None:
    at = utcnow()
    kept = events.claims_for_event({"sub": "u1", "at": at, "pair": ("a", 1), 7: {"n": 1.5}})
    assert kept == {"sub": "u1", "at": str(at), "pair": ["a", 1], "7": {"n": 1.5}}


def test_oversized_claims_are_cut_but_still_named() -> None:
    kept = events.claims_for_event({"sub": "u1", "groups": [f"group-{i}" for i in range(5000)]})
    assert kept["sub"] == "u1"
    assert isinstance(kept["groups"], str) and kept["groups"].startswith("(cut: ")


def test_events_are_listed_newest_first_and_filtered(db: Database) -> None:
    with db.transaction() as session:
        events.record(session, provider_identifier="a", outcome="success")
        events.record(
            session, provider_identifier="a", outcome="refused", step="token", code="invalid_client"
        )
        events.record(
            session, provider_identifier="b", outcome="refused", step="state", code="state_unknown"
        )
    with db.session() as session:
        assert [e.code for e in events.list_events(session)] == [
            "state_unknown",
            "invalid_client",
            None,
        ]
        refused_a = events.list_events(session, provider="a", outcome="refused")
        assert [e.code for e in refused_a] == ["invalid_client"]
        assert len(events.list_events(session, limit=1)) == 1
        newest = events.list_events(session)[0]
        assert newest.id is not None
        assert len(events.list_events(session, before_id=newest.id)) == 2


def test_old_events_are_swept_after_the_retention_period(db: Database) -> None:
    with db.transaction() as session:
        old = events.record(session, provider_identifier="a", outcome="success")
        old.at = utcnow() - timedelta(days=31)
        session.add(old)
        events.record(session, provider_identifier="a", outcome="success")
    with db.transaction() as session:
        assert events.sweep(session, 30) == 1
    with db.session() as session:
        assert len(session.exec(select(SignInEvent)).all()) == 1


def test_unknown_outcomes_and_steps_are_bugs(db: Database) -> None:
    with db.session() as session:
        with pytest.raises(ValueError, match="outcome"):
            events.record(session, provider_identifier="a", outcome="maybe")
        with pytest.raises(ValueError, match="step"):
            events.record(session, provider_identifier="a", outcome="refused", step="nowhere")


def test_the_retention_period_comes_from_the_environment(tmp_path: Path) -> None:
    assert Config.from_env({}, cwd=tmp_path).sign_in_event_retention_days == 30
    env = {"FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS": "7"}
    assert Config.from_env(env, cwd=tmp_path).sign_in_event_retention_days == 7
    with pytest.raises(ConfigError, match="FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS"):
        Config.from_env({"FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS": "0"}, cwd=tmp_path)
