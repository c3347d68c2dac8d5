"""The plugin test kit's logo check, and the public API a plugin author is promised."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import fedlogin
import pytest
from fedlogin import Logo, ProviderPreset, SetupGuide, hookimpl, testing
from fedlogin.testing import check_plugin, check_preset_logo, logo_problems

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
GOOD_SVG = f'<svg {SVG_NS} viewBox="0 0 64 64"><circle cx="32" cy="32" r="30"/></svg>'.encode()


def svg(inner: str = "", attributes: str = 'viewBox="0 0 64 64"') -> Logo:
    return Logo("image/svg+xml", f"<svg {SVG_NS} {attributes}>{inner}</svg>".encode())


def png(width: int, height: int) -> bytes:
    """A real (one-colour, greyscale) PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def preset_with(logo: Logo) -> ProviderPreset:
    return ProviderPreset(
        id="acme",
        name="Acme",
        description="The Acme provider.",
        domain="acme.example.com",
        setup_guide=SetupGuide(steps=("Register the app.",)),
        logo=logo,
    )


def test_a_safe_64_pixel_svg_or_png_passes() -> None:
    check_preset_logo(preset_with(Logo("image/svg+xml", GOOD_SVG)))
    check_preset_logo(preset_with(Logo("image/png", png(64, 64))))


@pytest.mark.parametrize(
    ("logo", "problem"),
    [
        (svg("<script>alert(1)</script>"), "unsafe elements: script"),
        (svg("<foreignObject><p>x</p></foreignObject>"), "unsafe elements: foreignObject"),
        (svg('<a href="https://evil.example"><path d="M0 0"/></a>'), "unsafe elements: a"),
        (svg('<use href="#x"/>'), "unsafe elements: use"),
        (svg('<path d="M0 0" onclick="x()"/>'), "event handlers or links: onclick"),
        (svg(attributes='viewBox="0 0 64 64" onload="x()"'), "event handlers or links: onload"),
        (svg(attributes='viewBox="0 0 128 128"'), "viewBox is '0 0 128 128'"),
        (svg(attributes=""), "viewBox is None"),
        (Logo("image/png", GOOD_SVG), "declared image/png but its bytes are image/svg+xml"),
        (Logo("image/png", png(64, 32)), "64x32 pixels"),
        (Logo("image/png", b"\x89PNG\r\n\x1a\nnot really"), "logo rejected"),
    ],
)
def test_an_unfit_logo_is_reported_with_the_reason(logo: Logo, problem: str) -> None:
    assert any(problem in found for found in logo_problems(logo)), logo_problems(logo)
    with pytest.raises(AssertionError, match="preset 'acme'"):
        check_preset_logo(preset_with(logo))


def test_an_svg_with_entity_tricks_is_refused_before_it_is_parsed() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><text>&b;</text></svg>'
    )
    assert [p for p in logo_problems(Logo("image/svg+xml", bomb)) if "rejected" in p]


class ScriptedLogo:
    @hookimpl
    def fedlogin_presets(self) -> Sequence[ProviderPreset]:
        return [preset_with(svg("<script>alert(1)</script>"))]


def test_check_plugin_checks_every_presets_logo() -> None:
    with pytest.raises(AssertionError, match="preset 'acme': logo contains unsafe elements"):
        check_plugin(ScriptedLogo(), name="scripted")


def test_the_test_kit_exports_what_it_documents() -> None:
    for name in testing.__all__:
        assert hasattr(testing, name), name
    assert {"check_plugin", "check_preset_logo", "Plugins", "load_plugins"} <= set(testing.__all__)


@pytest.mark.parametrize("name", sorted(set(fedlogin.__all__) | set(testing.__all__)))
def test_every_public_name_is_in_the_plugin_guide(name: str) -> None:
    assert f"`{name}" in GUIDE, f"docs/plugins.md does not mention {name}"
