from __future__ import annotations

from fastapi import APIRouter

from backend.app.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Liveness (no credential needed)")
def health() -> Health:
    return Health(status="ok")
