"""The widget's rating of a bot answer: public, the signed token in the answer is the
credential (see kefu/bot/rating.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from kefu.bot import rating
from kefu.core.deps import DbSession

router = APIRouter(prefix="/widget/bot-rating", tags=["bot"])


class AnswerRatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    helpful: bool


class AnswerRatingOut(BaseModel):
    rating: int
    thanks: str


@router.post("/{token}")
async def rate_bot_answer(
    token: str, body: AnswerRatingIn, request: Request, session: DbSession
) -> AnswerRatingOut:
    await rating.rate_answer(
        session, token, body.helpful, ip=request.client.host if request.client else None
    )
    if body.helpful:
        return AnswerRatingOut(rating=rating.HELPFUL, thanks="感谢您的反馈！")
    return AnswerRatingOut(rating=rating.UNHELPFUL, thanks="感谢反馈，我们会改进这条回答。")
