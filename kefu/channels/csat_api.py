"""The widget's CSAT endpoint: the signed token in the survey message is the credential."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.conversations import csat
from kefu.core.deps import DbSession

router = APIRouter(prefix="/widget/csat", tags=["channels"])


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=1000)


@router.post("/{token}", status_code=201)
async def rate_conversation(
    token: str, body: RatingIn, request: Request, session: DbSession
) -> dict[str, Any]:
    rating = await csat.rate(
        session,
        token,
        body.score,
        body.comment,
        ip=request.client.host if request.client else None,
    )
    return {"score": rating.score, "thanks": "感谢您的评价！"}
