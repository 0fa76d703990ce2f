"""Whether the server is up, and which version it runs."""

from __future__ import annotations

from fastapi import APIRouter

from vigil import __version__
from vigil.api.schemas import Health

router = APIRouter(tags=["system"])


@router.get("/health")
async def health() -> Health:
    """Answers while the server runs."""
    return Health(status="ok", version=__version__)
