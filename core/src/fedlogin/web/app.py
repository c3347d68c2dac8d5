"""The app factory: one Starlette application per process, built from the settings.

``create_app()`` reads the environment; tests pass their own :class:`AppContext` (a test
database, chosen plugins, outbound rules). Each area of the site contributes its routes
from its own module, so this file only says where they are mounted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from fedlogin.config import Config
from fedlogin.web import (
    account,
    api,
    console,
    linking,
    login,
    password_login,
    setup,
    verification,
)
from fedlogin.web.context import AppContext
from fedlogin.web.errors import EXCEPTION_HANDLERS

STATIC_DIR = Path(__file__).parent / "static"


def create_app(context: AppContext | None = None) -> Starlette:
    context = context or AppContext.create(Config.from_env())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await context.close()

    app = Starlette(
        routes=site_routes(),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.context = context
    return app


def site_routes() -> list[BaseRoute]:
    return [
        Mount("/api/v1", routes=api.routes()),
        *setup.ROUTES,
        *login.ROUTES,
        *password_login.ROUTES,
        *account.ROUTES,
        *verification.ROUTES,
        *linking.ROUTES,
        *console.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
