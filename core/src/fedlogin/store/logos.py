"""Provider logos (P16): checked by content, size-capped, stored in the database.

Only the bytes decide what an upload is (never its name or declared type): a real PNG
(signature, a well-formed IHDR, chunks with valid CRCs, IEND last), a JPEG (SOI, a frame
header, a scan, EOI) or an SVG, which is stored sanitised (fedlogin.store.svg). The web layer
serves logos with :data:`LOGO_RESPONSE_HEADERS`, so that even an SVG opened on its own can
run nothing; the login page shows them through ``<img>`` only.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

import attrs
from sqlmodel import Session

from fedlogin.errors import FedloginError
from fedlogin.store.svg import SvgRejected, sanitize_svg
from fedlogin.store.tables import StoredLogo

MAX_LOGO_BYTES = 256 * 1024
MAX_DIMENSION = 8192
LOGO_RESPONSE_HEADERS = {
    # style-src 'unsafe-inline': editors put a logo's colours in a <style> element; CSS
    # can run no script, and default-src 'none' still blocks every fetch.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "public, max-age=300",
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# JPEG start-of-frame markers (ITU T.81 table B.1), excluding DHT (C4), JPG (C8), DAC (CC).
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class LogoRejected(FedloginError):
    """The upload is not an acceptable logo; ``code`` says why, ``fields`` names ``logo``."""

    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code, fields={"logo": message})


@attrs.frozen
class CheckedLogo:
    media_type: str
    data: bytes = attrs.field(repr=False)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def check_logo(data: bytes) -> CheckedLogo:
    """Identify and check an upload; SVG comes back sanitised. Raises :class:`LogoRejected`."""
    if len(data) > MAX_LOGO_BYTES:
        raise LogoRejected(
            "logo_too_large",
            f"The logo is {len(data) // 1024} KiB; at most {MAX_LOGO_BYTES // 1024} KiB is "
            "allowed (64x64 pixels is plenty).",
        )
    if not data:
        raise LogoRejected("logo_invalid", "The logo file is empty.")
    if data.startswith(PNG_SIGNATURE):
        _check_png(data)
        return CheckedLogo("image/png", data)
    if data.startswith(b"\xff\xd8\xff"):
        _check_jpeg(data)
        return CheckedLogo("image/jpeg", data)
    if _looks_like_xml(data):
        try:
            return CheckedLogo("image/svg+xml", sanitize_svg(data))
        except SvgRejected as exc:
            raise LogoRejected("logo_invalid", f"The SVG logo cannot be used: {exc}.") from exc
    raise LogoRejected("logo_unsupported_type", "The logo must be a PNG, JPEG or SVG image.")


def store_logo(session: Session, data: bytes) -> StoredLogo:
    """Check ``data`` and add it as a new logo row (the caller links and commits it)."""
    checked = check_logo(data)
    row = StoredLogo(
        media_type=checked.media_type,
        data=checked.data,
        sha256=checked.sha256,
        size=len(checked.data),
    )
    session.add(row)
    session.flush()
    return row


def get_logo(session: Session, logo_id: int) -> StoredLogo | None:
    return session.get(StoredLogo, logo_id)


def _looks_like_xml(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith(b"<")


def _invalid(kind: str, reason: str) -> LogoRejected:
    return LogoRejected("logo_invalid", f"The file is not a valid {kind} image: {reason}.")


def _check_png(data: bytes) -> None:
    position = len(PNG_SIGNATURE)
    first = True
    seen_data = False
    while True:
        if position + 8 > len(data):
            raise _invalid("PNG", "it ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body_end = position + 8 + length
        if body_end + 4 > len(data):
            raise _invalid("PNG", "a chunk runs past the end of the file")
        body = data[position + 8 : body_end]
        (crc,) = struct.unpack(">I", data[body_end : body_end + 4])
        if zlib.crc32(kind + body) != crc:
            raise _invalid("PNG", f"the {kind.decode('latin-1')!r} chunk is corrupt")
        if first:
            if kind != b"IHDR" or length != 13:
                raise _invalid("PNG", "it does not start with an IHDR header")
            _check_ihdr(body)
            first = False
        seen_data = seen_data or kind == b"IDAT"
        position = body_end + 4
        if kind == b"IEND":
            break
    if not seen_data:
        raise _invalid("PNG", "it has no image data")
    if position != len(data):
        raise _invalid("PNG", "there is data after its IEND chunk")


def _check_ihdr(body: bytes) -> None:
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", body
    )
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise _invalid("PNG", f"its size {width}x{height} is out of range")
    if depth not in _PNG_COLOUR_DEPTHS.get(colour, set()):
        raise _invalid("PNG", "its colour type and bit depth do not go together")
    if compression or filtering or interlace > 1:
        raise _invalid("PNG", "it uses an unknown compression, filter or interlace method")


def _check_jpeg(data: bytes) -> None:
    if not data.endswith(b"\xff\xd9"):
        raise _invalid("JPEG", "it does not end with an end-of-image marker")
    position = 2
    frame = False
    while position < len(data):
        if data[position] != 0xFF:
            raise _invalid("JPEG", "a segment does not start with a marker")
        while position < len(data) and data[position] == 0xFF:
            position += 1  # fill bytes
        if position >= len(data):
            break
        marker = data[position]
        position += 1
        if marker in _JPEG_STANDALONE:
            continue
        if position + 2 > len(data):
            break
        (length,) = struct.unpack(">H", data[position : position + 2])
        if length < 2 or position + length > len(data):
            raise _invalid("JPEG", "a segment length is wrong")
        if marker in _JPEG_SOF:
            if length < 8:
                raise _invalid("JPEG", "its frame header is truncated")
            height, width = struct.unpack(">HH", data[position + 3 : position + 7])
            if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
                raise _invalid("JPEG", f"its size {width}x{height} is out of range")
            frame = True
        if marker == 0xDA:  # start of scan: entropy-coded data follows up to EOI
            if not frame:
                raise _invalid("JPEG", "the scan comes before a frame header")
            return
        position += length
    raise _invalid("JPEG", "it has no image scan")
