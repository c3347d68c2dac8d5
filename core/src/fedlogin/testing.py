"""A test kit for plugin authors: check a plugin against the hook contracts.

Use it in your plugin's tests::

    import fedlogin_gitlab
    from fedlogin.testing import check_plugin

    def test_contracts():
        check_plugin(fedlogin_gitlab)

:func:`check_plugin` loads the plugin into a fresh plugin manager next to the core (and
nothing else), calls every hook the way the core will, checks each preset's logo
(:func:`check_preset_logo`), and raises one ``AssertionError`` listing every broken contract.
It returns the :class:`~fedlogin.plugins.Plugins` facade so that your own tests can go on
calling hooks through it.
"""

from __future__ import annotations

import ast
import inspect
import struct
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree import ElementTree

from fedlogin.domains import DISCOVERY_SUFFIX
from fedlogin.errors import FedloginError, InvalidClaims, InvalidConfiguration
from fedlogin.plugins import PROTECTED_AUTHORIZATION_PARAMS, Plugins
from fedlogin.presets import DiscoveryTarget, Logo, NormalizedClaims, ProviderPreset
from fedlogin.store.logos import LogoRejected, check_logo

__all__ = [
    "LOGO_SIZE",
    "PUBLIC_MODULES",
    "SAMPLE_CLAIMS",
    "Plugins",
    "check_plugin",
    "check_preset_logo",
    "load_plugins",
    "logo_problems",
    "private_imports",
]

#: Modules of the core a plugin may import: the ones a third party can rely on.
PUBLIC_MODULES = frozenset({"fedlogin", "fedlogin.testing"})
#: A preset logo is drawn on a square of this many pixels (an SVG's ``viewBox``, a PNG's size).
LOGO_SIZE = 64
#: SVG elements a preset logo must not contain: they run script, embed other documents or
#: fetch, or link away. (Uploaded logos are sanitised; a preset's ships as it is.)
_UNSAFE_SVG_ELEMENTS = frozenset({"script", "foreignObject", "a", "image", "use", "iframe"})
_SVG = "{http://www.w3.org/2000/svg}"

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
        found.extend(logo_problems(preset.logo))
        problems.extend(f"preset {preset_id!r}: {p}" for p in found)
    if problems:
        raise AssertionError(
            f"plugin {plugin_name!r} breaks the hook contracts:\n- " + "\n- ".join(problems)
        )
    return plugins


def check_preset_logo(preset: ProviderPreset) -> None:
    """Assert that ``preset``'s logo is fit to ship; :func:`check_plugin` does it for you.

    The logo must pass the same content check as an admin's upload (its bytes are what its
    media type says), be drawn on a 64x64 square, and, for SVG, be an ``<svg>`` document
    with nothing that could run script, embed or fetch another document, or link away: no
    ``script``, ``foreignObject``, ``a``, ``image``, ``use``, event handler attribute or
    ``href``.
    """
    problems = logo_problems(preset.logo)
    if problems:
        raise AssertionError(
            f"the logo of preset {preset.id!r} is not fit to ship:\n- " + "\n- ".join(problems)
        )


def logo_problems(logo: Logo) -> list[str]:
    """What :func:`check_preset_logo` finds wrong with ``logo`` (empty when nothing)."""
    try:
        checked = check_logo(logo.data)  # refuses entity tricks before anything parses it
    except LogoRejected as exc:
        return [f"logo rejected: {exc.message}"]
    if checked.media_type != logo.media_type:
        return [f"logo is declared {logo.media_type} but its bytes are {checked.media_type}"]
    if logo.media_type == "image/png":
        width, height = struct.unpack(">II", logo.data[16:24])
        if (width, height) != (LOGO_SIZE, LOGO_SIZE):
            return [f"logo is {width}x{height} pixels, not {LOGO_SIZE}x{LOGO_SIZE}"]
        return []
    if logo.media_type != "image/svg+xml":
        return []
    root = ElementTree.fromstring(logo.data)  # noqa: S314 - check_logo parsed it safely
    problems = []
    if root.tag != _SVG + "svg":
        problems.append(f"logo's root element is {root.tag}, not an SVG <svg>")
    if root.get("viewBox") != f"0 0 {LOGO_SIZE} {LOGO_SIZE}":
        problems.append(f"logo's viewBox is {root.get('viewBox')!r}, not '0 0 64 64'")
    tags = {element.tag.rsplit("}", 1)[-1] for element in root.iter()}
    unsafe = sorted(tags & _UNSAFE_SVG_ELEMENTS)
    if unsafe:
        problems.append("logo contains unsafe elements: " + ", ".join(unsafe))
    attributes = {name.rsplit("}", 1)[-1] for element in root.iter() for name in element.attrib}
    unsafe = sorted(a for a in attributes if a.lower().startswith("on") or a.lower() == "href")
    if unsafe:
        problems.append("logo contains event handlers or links: " + ", ".join(unsafe))
    return problems


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
