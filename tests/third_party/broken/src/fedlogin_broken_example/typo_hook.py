"""Implements a hook name that does not exist (a typo of fedlogin_presets)."""

from __future__ import annotations

from fedlogin import ProviderPreset, hookimpl


@hookimpl
def fedlogin_preset() -> list[ProviderPreset]:
    return []
