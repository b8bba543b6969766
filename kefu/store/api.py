"""Store data JSON API: import (upsert) endpoints and reads."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["store"])
