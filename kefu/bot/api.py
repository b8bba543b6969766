"""Bot API under /api/v1/bot."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/bot", tags=["bot"])
