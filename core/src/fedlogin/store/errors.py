"""Errors of the store's services (all :class:`~fedlogin.errors.FedloginError`)."""

from __future__ import annotations

from typing import Any

from fedlogin.errors import FedloginError


class VersionConflict(FedloginError):
    """Someone else changed the object since the admin loaded it (optimistic locking)."""

    code = "version_conflict"
    status = 409


class ConfirmationRequired(FedloginError):
    """Deleting would unlink users: the admin must confirm. ``linked_users`` says how many."""

    code = "confirmation_required"
    status = 409

    def __init__(self, message: str, *, linked_users: int) -> None:
        super().__init__(message)
        self.linked_users = linked_users

    def details(self) -> dict[str, Any]:
        return {"linked_users": self.linked_users}
