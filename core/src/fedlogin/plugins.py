"""Loading plugins, surviving bad ones, and the typed facade app code calls hooks through.

Loading (at process start): the core's generic plugin first, then every entry point of the
``fedlogin`` group, built-in distributions before third-party ones. A plugin that fails to
import, implements a hook name the core does not define, returns a malformed preset, or
declares a preset id another plugin owns is recorded as *broken* with the reason and left
out; the others keep working. ``FEDLOGIN_DISABLED_PLUGINS`` blocks plugins install-wide.

Calling: the facade walks the hook implementations itself (in pluggy's order) instead of
calling ``pm.hook``: that way every answer is traced to the plugin that gave it, a plugin that
raises or answers with the wrong type is identified and left out, and a brand can switch
plugins off without a second plugin manager (:meth:`Plugins.for_brand`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from importlib import metadata
from typing import Any, Literal

import attrs
import pluggy

from fedlogin import hookspecs
from fedlogin.claims import normalize_email
from fedlogin.errors import FedloginError, InvalidClaims, PluginFailure, UnknownPreset
from fedlogin.generic import CORE_PLUGIN_NAME, GenericOpenIDConnect
from fedlogin.presets import (
    AuthorizationExtras,
    DiscoveryTarget,
    NormalizedClaims,
    ProviderPreset,
    SetupGuide,
    Veto,
)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "fedlogin"
DISABLED_ENV = "FEDLOGIN_DISABLED_PLUGINS"
#: Distributions shipped with fedlogin; they load first, so a third-party plugin cannot take
#: over a built-in preset id by sorting earlier.
BUILTIN_DISTRIBUTIONS = frozenset(
    {
        "fedlogin-google",
        "fedlogin-azure-ad",
        "fedlogin-auth0",
        "fedlogin-okta",
        "fedlogin-pingone",
        "fedlogin-generic-oidc",
    }
)
#: Authorization-request parameters the flow's security rests on: no plugin may set them.
PROTECTED_AUTHORIZATION_PARAMS = frozenset(
    {
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
        "request",
        "request_uri",
    }
)
HOOK_NAMES = frozenset(name for name in dir(hookspecs) if name.startswith("fedlogin_"))

Status = Literal["ok", "broken", "disabled"]


@attrs.frozen
class PluginInfo:
    """What ``fedlogin plugins list`` and the admin's plugins page show for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    status: Status
    presets: tuple[str, ...] = ()
    error: str | None = None


def disabled_from_env(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    raw = environ.get(DISABLED_ENV, "")
    return frozenset(name.strip() for name in raw.split(",") if name.strip())


class _Registry:
    """State shared by a :class:`Plugins` facade and its per-brand views."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.presets: dict[str, tuple[str, ProviderPreset]] = {}

    def add_info(self, info: PluginInfo) -> None:
        self.infos[info.name] = info

    def mark_broken(self, name: str, reason: str) -> None:
        """Leave plugin ``name`` out from now on and record why."""
        if name == CORE_PLUGIN_NAME:
            return  # the core's own fallbacks are never left out
        log.error("fedlogin plugin %r left out: %s", name, reason)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        for preset_id in [p for p, (owner, _) in self.presets.items() if owner == name]:
            del self.presets[preset_id]
        old = self.infos.get(name)
        self.infos[name] = PluginInfo(
            name=name,
            distribution=old.distribution if old else None,
            version=old.version if old else None,
            status="broken",
            presets=old.presets if old else (),
            error=reason,
        )


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Plugins:
    """The loaded plugins and a typed call for every hook.

    Build one per process with :meth:`load`; :meth:`for_brand` gives a view that calls only
    the plugins a brand allows.
    """

    def __init__(self, registry: _Registry, switched_off: frozenset[str] = frozenset()) -> None:
        self._registry = registry
        self._switched_off = switched_off - {CORE_PLUGIN_NAME}

    # -- building -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        *,
        disabled: Collection[str] | None = None,
        entry_points: bool = True,
        extra: Mapping[str, object] | None = None,
    ) -> Plugins:
        """Load the core, the ``fedlogin`` entry points and ``extra`` plugins (name → object).

        ``disabled`` defaults to ``FEDLOGIN_DISABLED_PLUGINS``. Never raises because of a
        plugin: broken ones are listed by :meth:`infos`.
        """
        blocked = disabled_from_env() if disabled is None else frozenset(disabled)
        registry = _Registry()
        facade = cls(registry)
        registry.pm.register(GenericOpenIDConnect(facade._find_preset), name=CORE_PLUGIN_NAME)
        candidates: list[tuple[str, Callable[[], object], str | None, str | None]] = []
        if entry_points:
            for ep in _sorted_entry_points():
                dist = ep.dist.name if ep.dist else None
                version = ep.dist.version if ep.dist else None
                candidates.append((ep.name, ep.load, dist, version))
        for name, obj in (extra or {}).items():
            candidates.append((name, _constant(obj), None, None))
        for name, loader, dist, version in candidates:
            facade._load_one(name, loader, dist, version, blocked)
        facade._collect_presets()
        registry.pm.check_pending()
        return facade

    def _load_one(
        self,
        name: str,
        loader: Callable[[], object],
        dist: str | None,
        version: str | None,
        blocked: frozenset[str],
    ) -> None:
        registry = self._registry
        if name in registry.infos or name == CORE_PLUGIN_NAME:
            registry.add_info(
                PluginInfo(
                    name, dist, version, "broken", error=f"another plugin is already named {name!r}"
                )
            )
            return
        if name in blocked:
            registry.add_info(
                PluginInfo(name, dist, version, "disabled", error=f"blocked by {DISABLED_ENV}")
            )
            return
        registry.add_info(PluginInfo(name, dist, version, "ok"))
        try:
            plugin = loader()
        except Exception as exc:  # any import-time failure of third-party code
            registry.mark_broken(name, "failed to import: " + _describe(exc))
            return
        unknown = sorted(
            attr for attr in dir(plugin) if attr.startswith("fedlogin_") and attr not in HOOK_NAMES
        )
        if unknown:
            registry.mark_broken(name, "implements unknown hook(s): " + ", ".join(unknown))
            return
        try:
            registry.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            registry.mark_broken(name, "does not match the hook specifications: " + _describe(exc))

    def _collect_presets(self) -> None:
        registry = self._registry
        # In load order, so that the first plugin to declare a preset id keeps it.
        for impl in reversed(self._impls("fedlogin_presets")):
            name = impl.plugin_name
            try:
                answer: Any = impl.function()
                declared: list[Any] = list(answer)
            except Exception as exc:
                registry.mark_broken(name, "raised in fedlogin_presets: " + _describe(exc))
                continue
            problem = _preset_problem(declared, registry.presets)
            if problem:
                registry.mark_broken(name, problem)
                continue
            for preset in declared:
                registry.presets[preset.id] = (name, preset)
            info = registry.infos[name]
            registry.add_info(attrs.evolve(info, presets=tuple(p.id for p in declared)))

    def for_brand(self, switched_off: Iterable[str]) -> Plugins:
        """A view calling hooks only on plugins not in ``switched_off`` (by plugin name)."""
        return Plugins(self._registry, frozenset(switched_off))

    # -- what is loaded -------------------------------------------------------------------

    def infos(self) -> list[PluginInfo]:
        """Every plugin seen, healthy or not, sorted by name (the core is not listed)."""
        return sorted(self._registry.infos.values(), key=lambda info: info.name)

    def is_active(self, plugin_name: str) -> bool:
        info = self._registry.infos.get(plugin_name)
        return info is not None and info.status == "ok" and plugin_name not in self._switched_off

    def presets(self) -> list[ProviderPreset]:
        """Presets of the active plugins, in load order."""
        return [p for owner, p in self._registry.presets.values() if self.is_active(owner)]

    def preset(self, preset_id: str) -> ProviderPreset:
        found = self._find_preset(preset_id)
        if found is None:
            raise UnknownPreset(
                f"No installed and enabled plugin provides the preset {preset_id!r}."
            )
        return found

    def owner_of(self, preset_id: str) -> str | None:
        entry = self._registry.presets.get(preset_id)
        return entry[0] if entry else None

    def _find_preset(self, preset_id: str) -> ProviderPreset | None:
        entry = self._registry.presets.get(preset_id)
        if entry is None or not self.is_active(entry[0]):
            return None
        return entry[1]

    # -- the typed hook calls -------------------------------------------------------------

    def discovery(self, preset: str, domain: str, options: Mapping[str, str]) -> DiscoveryTarget:
        """Where to discover a provider and which issuer to expect (``fedlogin_discovery``)."""
        self.preset(preset)
        target: DiscoveryTarget = self._first(
            "fedlogin_discovery",
            DiscoveryTarget,
            preset=preset,
            domain=domain,
            options=options,
        )
        return target

    def token_issuers(
        self, preset: str, issuer: str, claims: Mapping[str, Any], options: Mapping[str, str]
    ) -> list[str]:
        """The ``iss`` values this token may carry (``fedlogin_token_issuers``)."""
        result = self._first(
            "fedlogin_token_issuers",
            (list, tuple),
            preset=preset,
            issuer=issuer,
            claims=claims,
            options=options,
        )
        if not all(isinstance(item, str) for item in result):
            raise PluginFailure("fedlogin_token_issuers answered with something but strings")
        return list(result)

    def normalize_claims(
        self, preset: str, claims: Mapping[str, Any], options: Mapping[str, str]
    ) -> NormalizedClaims:
        """Normalised claims with the core's invariants enforced (``fedlogin_normalize_claims``)."""
        answer = self._first(
            "fedlogin_normalize_claims",
            NormalizedClaims,
            preset=preset,
            claims=claims,
            options=options,
        )
        return enforce_claim_invariants(answer)

    def validate_domain(
        self,
        preset: str,
        claims: NormalizedClaims,
        options: Mapping[str, str],
        allowed_domains: Sequence[str],
    ) -> list[Veto]:
        """Every veto raised against this sign-in (``fedlogin_validate_domain``).

        A plugin that raises here refuses the sign-in (:class:`PluginFailure`): a veto that
        could not be evaluated must not become an allowed sign-in.
        """
        answers = self._collect(
            "fedlogin_validate_domain",
            (Veto, type(None)),
            fail_closed=True,
            preset=preset,
            claims=claims,
            options=options,
            allowed_domains=tuple(allowed_domains),
        )
        return [veto for veto in answers if isinstance(veto, Veto)]

    def setup_guide(self, preset: str, callback_url: str = "") -> SetupGuide:
        self.preset(preset)
        guide: SetupGuide = self._first(
            "fedlogin_setup_guide", SetupGuide, preset=preset, callback_url=callback_url
        )
        return guide

    def authorization_params(
        self, preset: str, options: Mapping[str, str], scopes: Sequence[str]
    ) -> AuthorizationExtras:
        """The merged extras of every plugin (``fedlogin_authorization_params``)."""
        params: dict[str, str] = {}
        dropped: list[str] = []
        for extras in self._collect(
            "fedlogin_authorization_params",
            (AuthorizationExtras, type(None)),
            fail_closed=True,
            preset=preset,
            options=options,
            scopes=tuple(scopes),
        ):
            if extras is None:
                continue
            params.update(extras.params)
            dropped.extend(extras.drop_scopes)
        return AuthorizationExtras(params=params, drop_scopes=tuple(dropped))

    # -- machinery ------------------------------------------------------------------------

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        caller = getattr(self._registry.pm.hook, hook_name)
        # pluggy keeps implementations in ascending priority; it calls the last one first.
        return [
            impl
            for impl in reversed(caller.get_hookimpls())
            if impl.plugin_name == CORE_PLUGIN_NAME or self.is_active(impl.plugin_name)
        ]

    def _call(self, impl: pluggy.HookImpl, hook_name: str, kwargs: Mapping[str, Any]) -> Any:
        try:
            return impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except PluginFailure:
            raise
        except FedloginError:
            raise  # a deliberate refusal (bad admin input, unusable claims), not a plugin bug
        except Exception as exc:
            reason = f"raised in {hook_name}: {_describe(exc)}"
            self._registry.mark_broken(impl.plugin_name, reason)
            raise _PluginRaised(impl.plugin_name, reason) from exc

    def _first(self, hook_name: str, expected: type | tuple[type, ...], **kwargs: Any) -> Any:
        # Looked up before calling: a failing owner is removed from the registry, and its
        # preset must then fail rather than quietly fall through to the generic behaviour.
        owner = self.owner_of(kwargs.get("preset", ""))
        for impl in self._impls(hook_name):
            try:
                answer = self._call(impl, hook_name, kwargs)
            except _PluginRaised as failure:
                if impl.plugin_name == owner:
                    raise PluginFailure(
                        f"The plugin {failure.plugin!r} failed and has been switched off: "
                        f"{failure.reason}"
                    ) from failure
                continue  # a bystander failed: it is left out, the owner may still answer
            if answer is None:
                continue
            if not isinstance(answer, expected):
                reason = f"{hook_name} returned {type(answer).__name__}, not the contract's type"
                self._registry.mark_broken(impl.plugin_name, reason)
                raise PluginFailure(f"The plugin {impl.plugin_name!r} failed: {reason}")
            return answer
        raise PluginFailure(f"No plugin answered {hook_name}")

    def _collect(
        self,
        hook_name: str,
        expected: tuple[type, ...],
        *,
        fail_closed: bool,
        **kwargs: Any,
    ) -> list[Any]:
        answers = []
        for impl in self._impls(hook_name):
            try:
                answer = self._call(impl, hook_name, kwargs)
            except _PluginRaised as failure:
                if fail_closed:
                    raise PluginFailure(
                        f"The plugin {failure.plugin!r} failed and has been switched off: "
                        f"{failure.reason}"
                    ) from failure
                continue
            if not isinstance(answer, expected):
                reason = f"{hook_name} returned {type(answer).__name__}, not the contract's type"
                self._registry.mark_broken(impl.plugin_name, reason)
                raise PluginFailure(f"The plugin {impl.plugin_name!r} failed: {reason}")
            if isinstance(answer, AuthorizationExtras):
                clash = PROTECTED_AUTHORIZATION_PARAMS & set(answer.params)
                if clash:
                    reason = "tried to set protected authorization parameters: " + ", ".join(
                        sorted(clash)
                    )
                    self._registry.mark_broken(impl.plugin_name, reason)
                    raise PluginFailure(f"The plugin {impl.plugin_name!r} failed: {reason}")
            answers.append(answer)
        return answers


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


class _PluginRaised(Exception):
    def __init__(self, plugin: str, reason: str) -> None:
        super().__init__(reason)
        self.plugin = plugin
        self.reason = reason


def _sorted_entry_points() -> list[metadata.EntryPoint]:
    def key(ep: metadata.EntryPoint) -> tuple[bool, str]:
        dist = ep.dist.name if ep.dist else ""
        return (dist not in BUILTIN_DISTRIBUTIONS, ep.name)

    unique = {(ep.name, ep.value): ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(unique.values(), key=key)


def _preset_problem(
    declared: list[Any], known: Mapping[str, tuple[str, ProviderPreset]]
) -> str | None:
    seen: set[str] = set()
    for preset in declared:
        if not isinstance(preset, ProviderPreset):
            return (
                "fedlogin_presets returned a malformed preset "
                f"({type(preset).__name__}, not ProviderPreset)"
            )
        if preset.id in known:
            return f"declares preset {preset.id!r}, which plugin {known[preset.id][0]!r} owns"
        if preset.id in seen:
            return f"declares preset {preset.id!r} twice"
        seen.add(preset.id)
    return None


_MAX_SUBJECT = 255


def enforce_claim_invariants(claims: NormalizedClaims) -> NormalizedClaims:
    """The core's guarantees about normalised claims, whichever plugin produced them.

    SECURITY.md: a subject longer than 255 characters is rejected, not truncated (two users
    must never share a truncated key). An email that is not an address is dropped rather
    than trusted.
    """
    subject = claims.subject
    if not isinstance(subject, str) or not subject or subject != subject.strip():
        raise InvalidClaims("The provider sent no usable subject (sub) for the user.")
    if len(subject) > _MAX_SUBJECT or not subject.isprintable():
        raise InvalidClaims("The provider's subject (sub) is too long or not printable.")
    email = normalize_email(claims.email)
    verified = claims.email_verified is True and email is not None
    return NormalizedClaims(
        subject=subject, email=email, email_verified=verified, claims=claims.claims
    )
