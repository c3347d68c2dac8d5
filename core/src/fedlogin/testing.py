"""A test kit for plugin authors: check a plugin against the hook contracts.

Use it in your plugin's tests::

    import fedlogin_gitlab
    from fedlogin.testing import check_plugin

    def test_contracts():
        check_plugin(fedlogin_gitlab)

:func:`check_plugin` loads the plugin into a fresh plugin manager next to the core (and
nothing else), calls every hook the way the core will, and raises one ``AssertionError``
listing every broken contract. It returns the :class:`~fedlogin.plugins.Plugins` facade so
that your own tests can go on calling hooks through it.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from fedlogin.domains import DISCOVERY_SUFFIX
from fedlogin.errors import FedloginError, InvalidClaims, InvalidConfiguration
from fedlogin.plugins import PROTECTED_AUTHORIZATION_PARAMS, Plugins
from fedlogin.presets import DiscoveryTarget, NormalizedClaims, ProviderPreset

#: Modules of the core a plugin may import: the ones a third party can rely on.
PUBLIC_MODULES = frozenset({"fedlogin", "fedlogin.testing"})

SAMPLE_CLAIMS: Mapping[str, Any] = {
    "iss": "https://issuer.example.com",
    "sub": "248289761001",
    "aud": "client-1",
    "email": "Jane.Doe@Example.com",
    "email_verified": True,
    "name": "Jane Doe",
    "preferred_username": "jane",
    "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
    "oid": "00000000-0000-0000-66f3-3332eca7ea81",
}


def load_plugins(*plugins: object, **named: object) -> Plugins:
    """A fresh plugin manager holding the core, ``plugins`` (named after their module or
    class) and ``named`` plugins — and no installed entry points."""
    extra = {_plugin_name(p): p for p in plugins}
    extra.update(named)
    return Plugins.load(disabled=(), entry_points=False, extra=extra)


def check_plugin(
    plugin: object,
    *,
    name: str | None = None,
    sample_claims: Mapping[str, Any] = SAMPLE_CLAIMS,
) -> Plugins:
    """Assert that ``plugin`` keeps every hook contract; return the facade it was loaded in."""
    plugin_name = name or _plugin_name(plugin)
    plugins = load_plugins(**{plugin_name: plugin})
    problems: list[str] = []
    info = next(i for i in plugins.infos() if i.name == plugin_name)
    if info.status != "ok":
        raise AssertionError(f"plugin {plugin_name!r} did not load: {info.error}")
    if not info.presets:
        problems.append("declares no preset (fedlogin_presets returned nothing)")
    if isinstance(plugin, ModuleType):
        problems.extend(private_imports(plugin))
    for preset_id in info.presets:
        preset = plugins.preset(preset_id)
        try:
            found = _check_preset(plugins, preset, sample_claims)
        except FedloginError as exc:  # the plugin broke a contract and was left out
            found = [exc.message]
        problems.extend(f"preset {preset_id!r}: {p}" for p in found)
    if problems:
        raise AssertionError(
            f"plugin {plugin_name!r} breaks the hook contracts:\n- " + "\n- ".join(problems)
        )
    return plugins


def private_imports(module: ModuleType) -> list[str]:
    """Imports of core modules a third party could not rely on, in the plugin's package."""
    source = inspect.getsourcefile(module)
    if source is None:
        return []
    root = Path(source).parent if Path(source).name == "__init__.py" else Path(source)
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for imported in names:
                if imported.split(".")[0] == "fedlogin" and imported not in PUBLIC_MODULES:
                    found.append(f"{path.name} imports the private module {imported}")
    return found


def _check_preset(
    plugins: Plugins, preset: ProviderPreset, sample_claims: Mapping[str, Any]
) -> list[str]:
    problems = []
    options = preset.example_options()
    errors = preset.option_errors(options)
    if errors:
        problems.append(f"its own example options are invalid: {errors}")
    domain = preset.domain_examples[0] if preset.domain_examples else preset.domain
    target: DiscoveryTarget | None = None
    try:
        target = plugins.discovery(preset.id, domain, options)
    except InvalidConfiguration as exc:
        problems.append(f"fedlogin_discovery refused its own example: {exc.message}")
    if target is not None:
        if not target.url.endswith(DISCOVERY_SUFFIX):
            problems.append(f"discovery URL {target.url!r} is not a .well-known URL")
        if not target.url.startswith("https://"):
            problems.append(f"discovery URL {target.url!r} is not https")
        if not target.issuer.startswith("https://"):
            problems.append(f"expected issuer {target.issuer!r} is not https")
        issuers = plugins.token_issuers(preset.id, target.issuer, sample_claims, options)
        if not issuers:
            problems.append("fedlogin_token_issuers accepts no issuer for a sample token")
    claims: NormalizedClaims | None = None
    try:
        claims = plugins.normalize_claims(preset.id, sample_claims, options)
    except InvalidClaims as exc:
        problems.append(f"fedlogin_normalize_claims refused sample claims: {exc.message}")
    if claims is not None:
        plugins.validate_domain(preset.id, claims, options, ())
    guide = plugins.setup_guide(preset.id, "https://platform.example.com/auth/callback/x")
    if not guide.steps:
        problems.append("setup guide has no steps")
    extras = plugins.authorization_params(preset.id, options, preset.scopes)
    clash = PROTECTED_AUTHORIZATION_PARAMS & set(extras.params)
    if clash:
        problems.append(f"authorization extras set protected parameters {sorted(clash)}")
    if "openid" in extras.drop_scopes:
        problems.append("authorization extras drop the openid scope")
    return problems


def _plugin_name(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    return type(plugin).__name__ if not isinstance(plugin, type) else plugin.__name__
