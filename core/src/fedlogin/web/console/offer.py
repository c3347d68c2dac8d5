"""Which identity providers a login page offers, in which order: the settings' and brands' list.

The form lists every provider: the offered ones first, in their order, then the others. A
checkbox offers a provider; hidden ``order`` fields carry the displayed order; the up and
down buttons (``move=up:ID``) work without JavaScript by re-rendering the form with the
row moved (console.js moves it in place). Saving stores the offered providers in order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import attrs
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from fedlogin.store.tables import IdentityProvider
from fedlogin.web.console import forms


@attrs.frozen
class OfferRow:
    identifier: str
    name: str
    enabled: bool
    offered: bool


@attrs.frozen
class OfferInput:
    """The list as submitted: the display order and the offered identifiers."""

    order: tuple[str, ...]
    offered: frozenset[str]
    moved: bool = False

    @property
    def identity_providers(self) -> list[str]:
        return [identifier for identifier in self.order if identifier in self.offered]


def all_providers(session: Session) -> list[IdentityProvider]:
    query = select(IdentityProvider).order_by(col(IdentityProvider.identifier))
    return list(session.exec(query).all())


def offer_rows(
    providers: Sequence[IdentityProvider], order: Sequence[str], offered: Collection[str]
) -> list[OfferRow]:
    """Every provider: the ones in ``order`` first (as ordered), then the rest by identifier."""
    by_id = {p.identifier: p for p in providers}
    ranked = [i for i in dict.fromkeys(order) if i in by_id]
    ranked += sorted(i for i in by_id if i not in ranked)
    return [OfferRow(i, by_id[i].name, by_id[i].enabled, i in offered) for i in ranked]


def read_offer(form: FormData) -> OfferInput:
    order = list(dict.fromkeys(forms.names(form, "order")))
    offered = frozenset(forms.names(form, "offered"))
    move = forms.text(form, "move")
    direction, _, identifier = move.partition(":")
    if identifier in order and direction in ("up", "down"):
        index = order.index(identifier)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(order):
            order[index], order[other] = order[other], order[index]
        return OfferInput(tuple(order), offered, moved=True)
    return OfferInput(tuple(order), offered)
