"""Logo uploads: the bytes decide, size is capped, and an SVG keeps its drawing but loses
everything that could run or fetch."""

from __future__ import annotations

import struct
import zlib
from xml.parsers import expat

import pytest
from fedlogin.plugins import Plugins
from fedlogin.store.database import Database
from fedlogin.store.logos import (
    MAX_LOGO_BYTES,
    PNG_SIGNATURE,
    LogoRejected,
    check_logo,
    get_logo,
)
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.secrets import SecretBox
from fedlogin.store.tables import AuditEntry, StoredLogo
from sqlmodel import col, select


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int = 1, height: int = 1) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\x00\x00\x00\xff" * width)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg() -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 1, 1, 1) + b"\x01\x11\x00"
    sos = b"\xff\xda" + struct.pack(">HB", 8, 1) + b"\x01\x00\x00\x3f\x00"
    return b"\xff\xd8" + app0 + sof + sos + b"\x12\x34" + b"\xff\xd9"


def svg_of(logo: bytes) -> str:
    checked = check_logo(logo)
    assert checked.media_type == "image/svg+xml"
    return checked.data.decode("utf-8")


def rejected(data: bytes) -> LogoRejected:
    with pytest.raises(LogoRejected) as caught:
        check_logo(data)
    assert caught.value.fields.keys() == {"logo"}
    return caught.value


def test_a_real_png_and_jpeg_are_accepted_unchanged() -> None:
    assert check_logo(png(64, 64)).media_type == "image/png"
    assert check_logo(png()).data == png()
    assert check_logo(jpeg()).media_type == "image/jpeg"


@pytest.mark.parametrize(
    "data",
    [
        PNG_SIGNATURE + b"not a png at all",
        png()[:-4],  # truncated IEND
        png().replace(b"IHDR", b"IHDX"),
        png(0, 1),
        png()[:30] + bytes([png()[30] ^ 0xFF]) + png()[31:],  # IHDR with a wrong CRC
        png() + b"<script>alert(1)</script>",  # data after IEND
        b"\xff\xd8\xff\xe0garbage",  # JPEG without EOI
        b"\xff\xd8\xff\xd9",  # no frame, no scan
    ],
)
def test_files_that_only_start_like_an_image_are_invalid(data: bytes) -> None:
    assert rejected(data).code == "logo_invalid"


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x01\x00\x01\x00", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"%PDF-1.7", b"just text"],
)
def test_other_formats_are_unsupported_whatever_their_name(data: bytes) -> None:
    assert rejected(data).code == "logo_unsupported_type"


def test_size_is_capped() -> None:
    big = png() + b"\x00" * MAX_LOGO_BYTES
    error = rejected(big)
    assert error.code == "logo_too_large"
    assert "256 KiB" in error.message
    assert rejected(b"").code == "logo_invalid"


MALICIOUS_SVG = b"""<?xml version="1.0"?>
<?xml-stylesheet href="https://evil.example/x.css"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape"
     viewBox="0 0 64 64" onload="alert(1)" inkscape:version="1.0">
  <script>alert(document.cookie)</script>
  <script xlink:href="https://evil.example/x.js"/>
  <style>@import url(https://evil.example/x.css); .a { fill: red }</style>
  <style>.b { fill: blue }</style>
  <foreignObject width="64" height="64"><body xmlns="http://www.w3.org/1999/xhtml">
    <iframe src="javascript:alert(1)"/></body></foreignObject>
  <a href="javascript:alert(1)"><circle cx="32" cy="32" r="30" class="b"/></a>
  <a xlink:href="https://evil.example/"><rect width="10" height="10"/></a>
  <rect width="64" height="64" fill="url(https://evil.example/p.svg#x)" onclick="x()"/>
  <rect width="8" height="8" fill="url(#grad)" style="fill: url('https://evil.example/')"/>
  <image href="https://evil.example/track.png" width="1" height="1"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
  <image href="data:image/svg+xml;base64,PHN2Zy8+" width="1" height="1"/>
  <use xlink:href="#shape"/>
  <use href="https://evil.example/sprite.svg#icon"/>
  <set attributeName="href" to="javascript:alert(1)"/>
  <animate attributeName="href" values="javascript:alert(1)"/>
  <linearGradient id="grad"><stop offset="0" stop-color="#fff"/></linearGradient>
  <path id="shape" d="M0 0 L64 64" stroke="black" ONMOUSEOVER="x()"/>
  <text x="4" y="60" xml:space="preserve">Acme &amp; Co</text>
</svg>"""


def test_a_malicious_svg_keeps_its_drawing_and_loses_everything_active() -> None:
    cleaned = svg_of(MALICIOUS_SVG)
    lowered = cleaned.lower()
    for forbidden in (
        "script",
        "onload",
        "onclick",
        "onmouseover",
        "javascript:",
        "foreignobject",
        "iframe",
        "evil.example",
        "@import",
        "<set",
        "<animate",
        "xml-stylesheet",
        "inkscape",
        "data:image/svg",
    ):
        assert forbidden not in lowered, forbidden
    for kept in (
        '<circle cx="32" cy="32" r="30" class="b"/>',
        'fill="url(#grad)"',
        'xlink:href="#shape"',
        "data:image/png;base64,iVBORw0KGgo=",
        '<path id="shape" d="M0 0 L64 64" stroke="black"/>',
        "Acme &amp; Co",
        'xml:space="preserve"',
        ".b { fill: blue }",
        'viewBox="0 0 64 64"',
    ):
        assert kept in cleaned, kept
    assert cleaned.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    # The result is well-formed XML again.
    expat.ParserCreate().Parse(cleaned.encode(), True)


def test_an_svg_without_a_namespace_is_given_one() -> None:
    assert svg_of(b'<svg viewBox="0 0 1 1"><rect width="1" height="1"/></svg>') == (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">'
        '<rect width="1" height="1"/></svg>'
    )


def test_an_editors_doctype_line_is_tolerated() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        b'<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>'
    )
    assert "<rect" in svg_of(data)


@pytest.mark.parametrize(
    "data",
    [
        # billion laughs
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><svg>&b;</svg>',
        # external entity (XXE)
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<svg>&x;</svg>",
        # parameter entity
        b'<!DOCTYPE svg [<!ENTITY % p SYSTEM "https://evil.example/p.dtd"> %p;]><svg/>',
        # undeclared entity behind an external DTD
        b'<!DOCTYPE svg SYSTEM "https://evil.example/d.dtd"><svg>&secret;</svg>',
        b"<svg><unclosed></svg>",
        b'<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
        b"<svg/><svg/>",
    ],
)
def test_unsafe_or_broken_xml_is_refused(data: bytes) -> None:
    assert rejected(data).code == "logo_invalid"


def test_a_logo_is_stored_served_from_the_database_and_replaced(
    db: Database, plugins: Plugins, box: SecretBox
) -> None:
    with db.transaction() as session:
        service = IdentityProviders(session, plugins, box, actor="alice")
        service.create(
            {
                "identifier": "acme",
                "name": "Acme",
                "domain": "sso.acme.example",
                "client_id": "c",
                "client_secret": "s",
            }
        )
        first = service.set_logo("acme", MALICIOUS_SVG)
        second = service.set_logo("acme", png())
    with db.session() as session:
        assert get_logo(session, first.id or 0) is None  # the replaced logo is gone
        logo = get_logo(session, second.id or 0)
        assert logo is not None
        assert (logo.media_type, logo.data, logo.size) == ("image/png", png(), len(png()))
        provider = IdentityProviders(session, plugins, box, actor="alice").get("acme")
        assert provider.logo_id == second.id
        assert provider.version == 3
        query = (
            select(AuditEntry)
            .where(AuditEntry.action == "identity_provider.logo")
            .order_by(col(AuditEntry.id))
        )
        entries = session.exec(query).all()
        assert entries[-1].after == {
            "logo": {"media_type": "image/png", "sha256": logo.sha256, "size": logo.size}
        }
    with db.transaction() as session:
        IdentityProviders(session, plugins, box, actor="alice").delete("acme")
    with db.session() as session:
        assert session.exec(select(StoredLogo)).all() == []
