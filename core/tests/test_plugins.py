"""The plugin manager: loading, leaving out bad plugins, per-brand subsets, the facade."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from fedlogin import (
    AuthorizationExtras,
    Logo,
    NormalizedClaims,
    ProviderPreset,
    SetupGuide,
    Veto,
    hookimpl,
)
from fedlogin.errors import InvalidClaims, PluginFailure, UnknownPreset
from fedlogin.plugins import Plugins, disabled_from_env
from fedlogin.testing import check_plugin, load_plugins

LOGO = Logo("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"/>')


def make_preset(preset_id: str, **overrides: Any) -> ProviderPreset:
    values: dict[str, Any] = {
        "id": preset_id,
        "name": preset_id.title(),
        "description": f"The {preset_id} provider",
        "domain": f"{preset_id}.example.com",
        "setup_guide": SetupGuide(steps=("Register the app.",)),
        "logo": LOGO,
    }
    values.update(overrides)
    return ProviderPreset(**values)


class Acme:
    """A well-behaved preset plugin with one quirk of each kind."""

    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [make_preset("acme")]

    @hookimpl
    def fedlogin_normalize_claims(
        self, preset: str, claims: Mapping[str, Any]
    ) -> NormalizedClaims | None:
        if preset != "acme":
            return None
        return NormalizedClaims(
            subject=claims["user_id"],
            email=claims.get("mail"),
            email_verified=True,
            claims=claims,
        )

    @hookimpl
    def fedlogin_validate_domain(self, preset: str, claims: NormalizedClaims) -> Veto | None:
        if preset == "acme" and claims.claims.get("suspended"):
            return Veto("Suspended at Acme.", code="acme_suspended")
        return None

    @hookimpl
    def fedlogin_authorization_params(self, preset: str) -> AuthorizationExtras | None:
        return AuthorizationExtras(params={"acme_hint": "1"}) if preset == "acme" else None


class Other:
    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [make_preset("other")]


def test_a_well_behaved_plugin_passes_the_test_kit() -> None:
    plugins = check_plugin(Acme(), name="acme-plugin", sample_claims={"user_id": "u1"})
    assert [p.id for p in plugins.presets()] == ["acme"]
    assert plugins.owner_of("acme") == "acme-plugin"


def test_the_test_kit_reports_a_plugin_that_raises_on_ordinary_claims() -> None:
    with pytest.raises(AssertionError, match="raised in fedlogin_normalize_claims: KeyError"):
        check_plugin(Acme(), name="acme-plugin")


def test_firstresult_hook_is_answered_by_the_owner_and_falls_back_to_the_core() -> None:
    plugins = load_plugins(acme=Acme(), other=Other())
    acme = plugins.normalize_claims("acme", {"user_id": "u1", "mail": "A@Acme.COM"}, {})
    assert (acme.subject, acme.email, acme.email_verified) == ("u1", "a@acme.com", True)
    generic = plugins.normalize_claims("other", {"sub": "s1", "email": "b@x.org"}, {})
    # The core's generic rule: no email_verified claim means not verified.
    assert (generic.subject, generic.email, generic.email_verified) == ("s1", "b@x.org", False)


def test_core_wrapper_enforces_claim_invariants_whatever_the_plugin_says() -> None:
    plugins = load_plugins(acme=Acme())
    with pytest.raises(InvalidClaims):
        plugins.normalize_claims("acme", {"user_id": ""}, {})
    with pytest.raises(InvalidClaims):
        plugins.normalize_claims("acme", {"user_id": "x" * 256}, {})
    not_an_address = plugins.normalize_claims("acme", {"user_id": "u", "mail": "nope"}, {})
    assert not_an_address.email is None
    assert not_an_address.email_verified is False


def test_collecting_hook_gathers_every_veto_including_the_core_allowed_domains() -> None:
    plugins = load_plugins(acme=Acme())
    claims = plugins.normalize_claims(
        "acme", {"user_id": "u", "mail": "a@elsewhere.org", "suspended": True}, {}
    )
    vetoes = plugins.validate_domain("acme", claims, {}, ["acme.com"])
    assert sorted(v.code for v in vetoes) == ["acme_suspended", "domain_not_allowed"]
    allowed = plugins.normalize_claims("acme", {"user_id": "u", "mail": "a@acme.com"}, {})
    assert plugins.validate_domain("acme", allowed, {}, ["acme.com"]) == []


def test_per_brand_subset_leaves_switched_off_plugins_out() -> None:
    plugins = load_plugins(acme=Acme(), other=Other())
    brand = plugins.for_brand(["acme"])
    assert [p.id for p in brand.presets()] == ["other"]
    with pytest.raises(UnknownPreset):
        brand.preset("acme")
    assert brand.authorization_params("acme", {}, ["openid"]).params == {}
    # The full view is untouched by the brand's view.
    assert plugins.authorization_params("acme", {}, ["openid"]).params == {"acme_hint": "1"}


def test_duplicate_preset_id_leaves_the_second_plugin_out() -> None:
    class Impostor:
        @hookimpl
        def fedlogin_presets(self) -> Sequence[ProviderPreset]:
            return [make_preset("acme")]

    plugins = load_plugins(acme=Acme(), impostor=Impostor())
    info = {i.name: i for i in plugins.infos()}
    assert info["acme"].status == "ok"
    assert info["impostor"].status == "broken"
    assert "'acme'" in (info["impostor"].error or "")
    assert plugins.owner_of("acme") == "acme"


def test_malformed_preset_is_reported_and_left_out() -> None:
    class Sloppy:
        @hookimpl
        def fedlogin_presets(self) -> Sequence[object]:
            return [{"id": "sloppy"}]

    plugins = load_plugins(sloppy=Sloppy(), other=Other())
    info = {i.name: i for i in plugins.infos()}
    assert info["sloppy"].status == "broken"
    assert "malformed preset" in (info["sloppy"].error or "")
    assert [p.id for p in plugins.presets()] == ["other"]


def test_unknown_hook_name_is_reported() -> None:
    class Typo:
        @hookimpl
        def fedlogin_normalise_claims(self) -> None:
            return None

    plugins = load_plugins(typo=Typo(), other=Other())
    info = {i.name: i for i in plugins.infos()}
    assert info["typo"].status == "broken"
    assert "fedlogin_normalise_claims" in (info["typo"].error or "")
    assert info["other"].status == "ok"


def test_wrong_hook_arguments_are_reported() -> None:
    class WrongArgs:
        @hookimpl
        def fedlogin_discovery(self, preset: str, tenant: str) -> None:
            return None

    plugins = load_plugins(wrong=WrongArgs())
    info = {i.name: i for i in plugins.infos()}
    assert info["wrong"].status == "broken"
    assert "tenant" in (info["wrong"].error or "")


class RaisesInVeto:
    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [make_preset("fragile")]

    @hookimpl
    def fedlogin_validate_domain(self) -> Veto | None:
        raise RuntimeError("directory unreachable")


def test_a_plugin_raising_in_a_veto_hook_refuses_the_sign_in_and_is_left_out() -> None:
    plugins = load_plugins(fragile=RaisesInVeto(), other=Other())
    claims = plugins.normalize_claims("other", {"sub": "s"}, {})
    with pytest.raises(PluginFailure) as failure:
        plugins.validate_domain("other", claims, {}, [])
    assert "fragile" in failure.value.message
    info = {i.name: i for i in plugins.infos()}
    assert info["fragile"].status == "broken"
    assert "directory unreachable" in (info["fragile"].error or "")
    # Left out from now on: the other presets keep working, its own preset is gone.
    assert plugins.validate_domain("other", claims, {}, []) == []
    assert [p.id for p in plugins.presets()] == ["other"]


def test_a_plugin_answering_with_the_wrong_type_is_left_out() -> None:
    class WrongType:
        @hookimpl
        def fedlogin_presets(self) -> Sequence[ProviderPreset]:
            return [make_preset("wrongtype")]

        @hookimpl
        def fedlogin_setup_guide(self, preset: str) -> object:
            return ["step one"] if preset == "wrongtype" else None

    plugins = load_plugins(wrongtype=WrongType())
    with pytest.raises(PluginFailure):
        plugins.setup_guide("wrongtype")
    assert {i.name: i.status for i in plugins.infos()}["wrongtype"] == "broken"


def test_plugins_may_not_override_protected_authorization_parameters() -> None:
    class Hijack:
        @hookimpl
        def fedlogin_presets(self) -> Sequence[ProviderPreset]:
            return [make_preset("hijack")]

        @hookimpl
        def fedlogin_authorization_params(self) -> AuthorizationExtras:
            return AuthorizationExtras(params={"redirect_uri": "https://evil.example"})

    plugins = load_plugins(hijack=Hijack(), other=Other())
    with pytest.raises(PluginFailure):
        plugins.authorization_params("other", {}, ["openid"])
    assert plugins.authorization_params("other", {}, ["openid"]).params == {}


def test_disabled_plugins_come_from_the_environment() -> None:
    assert disabled_from_env({"FEDLOGIN_DISABLED_PLUGINS": " okta, google ,,"}) == {
        "okta",
        "google",
    }
    plugins = Plugins.load(disabled={"other"}, entry_points=False, extra={"other": Other()})
    info = plugins.infos()[0]
    assert (info.name, info.status) == ("other", "disabled")
    assert plugins.presets() == []


def test_entry_point_that_fails_to_import_is_reported_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fedlogin_explodes.py").write_text("raise ImportError('missing dependency')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = [metadata.EntryPoint("explodes", "fedlogin_explodes", "fedlogin")]
    monkeypatch.setattr("fedlogin.plugins._sorted_entry_points", lambda: fake)
    plugins = Plugins.load(disabled=(), extra={"other": Other()})
    info = {i.name: i for i in plugins.infos()}
    assert info["explodes"].status == "broken"
    assert "missing dependency" in (info["explodes"].error or "")
    assert [p.id for p in plugins.presets()] == ["other"]
    sys.modules.pop("fedlogin_explodes", None)


def test_installed_builtin_plugins_load_healthy() -> None:
    plugins = Plugins.load(disabled=())
    builtin = {"google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc"}
    infos = {i.name: i for i in plugins.infos() if i.name in builtin}
    assert set(infos) == builtin
    assert all(i.status == "ok" for i in infos.values()), infos
    assert {i.distribution for i in infos.values()} == {"fedlogin-" + name for name in builtin}


def test_an_owner_that_raises_fails_closed_instead_of_falling_back_to_generic() -> None:
    plugins = load_plugins(acme=Acme())
    # Acme's normalizer needs "user_id"; the generic fallback would have accepted "sub".
    with pytest.raises(PluginFailure, match="acme"):
        plugins.normalize_claims("acme", {"sub": "s1", "email_verified": True}, {})
