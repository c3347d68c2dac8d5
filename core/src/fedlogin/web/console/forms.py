"""Reading console forms: text as typed (kept for a re-render), flags, repeated fields.

A console form re-renders with exactly what the admin typed when something is refused, so
values stay strings here; converting them to what the store reads is each page's business.
"""

from __future__ import annotations

from starlette.datastructures import FormData, UploadFile

#: Longer than any field the store accepts, so that the store, not this cut, reports it.
MAX_TEXT = 8192


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_TEXT] if isinstance(value, str) else ""


def flag(form: FormData, name: str) -> bool:
    """A checkbox: present (any value) means on."""
    return isinstance(form.get(name), str)


def names(form: FormData, name: str, limit: int = 500) -> list[str]:
    """A repeated field (checkboxes of one name, hidden order fields), in form order."""
    values = [value for value in form.getlist(name) if isinstance(value, str)]
    return [value.strip() for value in values[:limit] if value.strip()]


def version(form: FormData) -> int | None:
    """The hidden ``version`` field: the object's version when the page was loaded."""
    raw = text(form, "version").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


async def upload(form: FormData, name: str, limit: int) -> bytes | None:
    """An uploaded file's bytes (``None`` when no file was chosen); at most ``limit + 1`` read."""
    value = form.get(name)
    if not isinstance(value, UploadFile) or not value.filename:
        return None
    data = await value.read(limit + 1)
    return data
