"""The forms people post to the sign-in and account pages, read within a size cap.

Starlette's ``request.form()`` reads an urlencoded body whole, however large and whether or
not a ``Content-Length`` announced it (a chunked body has none): anyone could make the
process hold a gigabyte to be told the CSRF token was wrong. Our own forms are a few fields
(the largest, a password change, stays under 16 KiB with the longest passwords we accept),
so a body past :data:`MAX_FORM_BYTES` is refused while it is read, before it is parsed.

Urlencoded forms (what every form of ours posts) are parsed with the standard library, which
is also cheaper than Starlette's streaming parser (the sign-in button's form is on the path
of every sign-in); a multipart body is left to Starlette with the same caps.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from fedlogin.errors import FedloginError

#: Far above any form of ours, far below what would hurt the process.
MAX_FORM_BYTES = 64 * 1024
#: Our forms have fewer than ten fields.
MAX_FORM_FIELDS = 50
_URLENCODED = "application/x-www-form-urlencoded"


class FormTooLarge(FedloginError):
    code = "form_too_large"
    status = 413

    def __init__(self) -> None:
        super().__init__(
            "The form is larger than any form of this site, so it was not read.",
            hint="Go back to the page, reload it and send the form again.",
        )


async def read_form(request: Request) -> FormData:
    """The posted form; :class:`FormTooLarge` past the caps, nothing read beyond them."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise FormTooLarge()
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _URLENCODED:
        # Multipart (no form of ours sends it) under the same caps; anything else is an
        # empty form, as Starlette treats it: the CSRF check then refuses it.
        return await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge()
    try:
        pairs: list[tuple[str, str | UploadFile]] = [
            *parse_qsl(
                body.decode("utf-8", "replace"),
                keep_blank_values=True,
                max_num_fields=MAX_FORM_FIELDS,
                errors="replace",
            )
        ]
    except ValueError:  # more fields than max_num_fields
        raise FormTooLarge() from None
    return FormData(pairs)
