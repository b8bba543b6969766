from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from kefu.core.config import Settings
from kefu.core.errors import install_error_handlers
from kefu.core.i18n import negotiate
from kefu.core.masking import mask_address_detail, mask_email, mask_name, mask_phone


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("", ""),
        (None, ""),
        ("021-6543210", "******3210"),
    ],
)
def test_mask_phone(raw: str | None, masked: str) -> None:
    assert mask_phone(raw) == masked


def test_mask_other_pii() -> None:
    assert mask_email("lilei@example.com") == "l***@example.com"
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_address_detail("文三路 100 号 3 幢 502") == "******"


@pytest.mark.parametrize(
    ("accept", "cookie", "locale"),
    [
        (None, None, "zh_CN"),
        ("en-US,en;q=0.9", None, "en"),
        ("zh-TW,zh;q=0.9", None, "zh_CN"),
        ("en-US", "zh_CN", "zh_CN"),
        ("fr-FR", None, "zh_CN"),
        (None, "xx", "zh_CN"),
    ],
)
def test_locale_negotiation(accept: str | None, cookie: str | None, locale: str) -> None:
    assert negotiate(accept, cookie) == locale


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("KEFU_LOGIN_MAX_FAILURES", "3")
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.login_max_failures == 3
    assert not settings.is_sqlite
    assert "dev-insecure" not in repr(settings)  # secrets never printed


class Payload(BaseModel):
    quantity: int = Field(gt=0)
    placed_at: datetime


async def test_validation_error_is_problem_json_with_chinese_field_messages() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(payload: Payload) -> dict[str, int]:
        return {"quantity": payload.quantity}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/things", json={"quantity": 0, "placed_at": "tomorrow"})
        crash = await client.get("/boom")
    assert response.status_code == 422
    body = response.json()
    assert body["title"] == "提交的数据有误"
    fields = {e["field"]: e["message_zh"] for e in body["errors"]}
    assert fields["quantity"] == "数值太小"
    assert fields["placed_at"] == "日期时间格式不正确"
    assert crash.status_code == 500
    assert "secret internals" not in crash.text
    assert crash.json()["title_zh"] == "服务器内部错误，请稍后重试"
