"""After-sales cases under /api/v1/aftersales."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/aftersales", tags=["aftersales"])
