"""An email to send, and how the pages show the address it went to."""

from __future__ import annotations

import attrs

VERIFICATION = "verification"
IDENTITY_LINKED = "identity_linked"
IDENTITY_UNLINKED = "identity_unlinked"
KINDS = (VERIFICATION, IDENTITY_LINKED, IDENTITY_UNLINKED)


@attrs.frozen
class MailMessage:
    """One plain-text email to one recipient."""

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    to: str
    subject: str
    body: str = attrs.field(repr=False)


def mask_address(email: str) -> str:
    """``a***@example.com``: enough to recognise one's own mailbox, not to read it aloud.

    The domain stays whole: it is what tells someone which of their mailboxes to open.
    """
    local, at, domain = email.partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"
