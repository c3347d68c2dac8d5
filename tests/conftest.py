"""Fixtures of the cross-cutting suites: the real and the hostile OpenID providers."""

from __future__ import annotations

from tests.support.hostile_op import hostile_op, hostile_op_factory
from tests.support.oidc_provider import oidc_provider_factory

__all__ = ["hostile_op", "hostile_op_factory", "oidc_provider_factory"]
