"""Whether the server is up and can reach its database, and which version it runs."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from vigil import __version__
from vigil.api.deps import ServicesDep
from vigil.api.schemas import Health
from vigil.store.database import DatabaseUnavailable

router = APIRouter(tags=["system"])

# A health check answers quickly even when the database does not.
_CHECK_SECONDS = 3.0


@router.get("/health", responses={503: {"model": Health, "description": "database unavailable"}})
async def health(response: Response, services: ServicesDep) -> Health:
    """200 while the server runs and reaches its database; 503, saying so, while it cannot
    (cameras keep recording meanwhile). For load balancers and monitoring."""
    try:
        await asyncio.wait_for(services.db.check(), _CHECK_SECONDS)
    except (DatabaseUnavailable, TimeoutError):
        response.status_code = 503
        return Health(status="unavailable", database="unavailable", version=__version__)
    return Health(status="ok", database="ok", version=__version__)
