"""Imports fine but raises inside a hook."""

from __future__ import annotations

from fedlogin import ProviderPreset, hookimpl


@hookimpl
def fedlogin_presets() -> list[ProviderPreset]:
    raise RuntimeError("cannot reach the preset catalogue")
