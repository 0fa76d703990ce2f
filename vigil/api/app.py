"""The HTTP application: routers under ``/api``, problem details, services on app.state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from vigil import __version__
from vigil.api.headers import SecurityHeaders
from vigil.api.problems import install_problem_handlers
from vigil.api.routers import (
    API_PREFIX,
    audit,
    auth,
    cameras,
    events,
    exports,
    groups,
    library,
    library_search,
    library_shares,
    live,
    me,
    mfa,
    org,
    playback,
    recordings,
    storage,
    system,
    uploads,
    users,
)
from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings
from vigil.web.pages import install_pages


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The API over ``services``; with none, the app starts and stops its own."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            yield
            return
        started = await start_services(settings)
        app.state.services = started
        try:
            yield
        finally:
            await stop_services(started)

    app = FastAPI(
        title="Vigil",
        version=__version__,
        summary="Record, watch and search IP cameras.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    if services is not None:
        app.state.services = services
    install_problem_handlers(app)
    people = (auth, me, mfa, org, users, groups, audit)
    media = (cameras, recordings, playback, live, storage, exports, events, uploads)
    shelves = (library, library_search, library_shares)
    for module in (system, *people, *media, *shelves):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(library_shares.public, prefix=API_PREFIX)
    install_pages(app)
    app.add_middleware(SecurityHeaders)
    if settings.server.trusted_proxies:
        # Outermost: the client address every later step sees (throttling, the audit log)
        # comes from X-Forwarded-For only when the peer is one of these proxies.
        trusted = [str(network) for network in settings.server.trusted_proxies]
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    return app
