"""Errors as RFC 9457 problem details, with the message in Chinese and English.

Raise `KefuError` (or a subclass) anywhere below a route; the handlers here turn it, and
validation errors, into `application/problem+json` with `title` in the user's locale plus
`title_zh` and `title_en`. No stack trace ever reaches a client.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.core.i18n import current_locale

log = structlog.get_logger(__name__)


class KefuError(Exception):
    status = 400
    code = "bad_request"
    zh = "请求有误"
    en = "Bad request"

    def __init__(
        self,
        zh: str | None = None,
        en: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        self.zh = zh or self.zh
        self.en = en or self.en
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.errors = errors or []
        super().__init__(self.en)


class NotFound(KefuError):
    status, code, zh, en = 404, "not_found", "找不到该资源", "Not found"


class Forbidden(KefuError):
    status, code, zh, en = 403, "forbidden", "您没有执行此操作的权限", "You do not have permission"


class Unauthorized(KefuError):
    status, code, zh, en = 401, "unauthorized", "请先登录", "Please sign in"


class Conflict(KefuError):
    status, code, zh, en = 409, "conflict", "数据冲突", "Conflict"


class TooManyRequests(KefuError):
    status, code, zh, en = 429, "rate_limited", "请求过于频繁，请稍后再试", "Too many requests"


class Invalid(KefuError):
    status, code, zh, en = 422, "invalid", "提交的数据有误", "The data is not valid"


_FIELD_MESSAGES_ZH = {
    "missing": "必填",
    "string_too_short": "太短",
    "string_too_long": "太长",
    "int_parsing": "应为整数",
    "float_parsing": "应为数字",
    "decimal_parsing": "应为数字",
    "datetime_parsing": "日期时间格式不正确",
    "datetime_from_date_parsing": "日期时间格式不正确",
    "date_parsing": "日期格式不正确",
    "enum": "不是允许的取值",
    "literal_error": "不是允许的取值",
    "greater_than_equal": "数值太小",
    "greater_than": "数值太小",
    "less_than_equal": "数值太大",
    "string_pattern_mismatch": "格式不正确",
    "json_invalid": "不是有效的 JSON",
    "list_type": "应为列表",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "string_type": "应为文本",
    "value_error": "取值不正确",
    "too_long": "条目太多",
    "extra_forbidden": "不允许的字段",
    "timezone_aware": "需要带时区的时间",
}


def field_errors(errors: list[Any]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc[:1] == ["body"]:  # FastAPI's request-body prefix; a field named body stays
            loc = loc[1:]
        zh = _FIELD_MESSAGES_ZH.get(err.get("type", ""), "取值不正确")
        if err.get("type") == "value_error" and err.get("ctx", {}).get("error"):
            zh = str(err["ctx"]["error"])
        out.append({"field": ".".join(loc), "message_zh": zh, "message_en": err.get("msg", "")})
    return out


def problem(
    request: Request | None,
    status: int,
    code: str,
    zh: str,
    en: str,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    locale = current_locale.get()
    body: dict[str, Any] = {
        "type": f"https://kefu.dev/problems/{code}",
        "title": zh if locale == "zh_CN" else en,
        "status": status,
        "code": code,
        "title_zh": zh,
        "title_en": en,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KefuError)
    async def _kefu(request: Request, exc: KefuError) -> JSONResponse:
        return problem(request, exc.status, exc.code, exc.zh, exc.en, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            request, 422, "invalid", Invalid.zh, Invalid.en, field_errors(list(exc.errors()))
        )

    @app.exception_handler(ValidationError)
    async def _pyd_validation(request: Request, exc: ValidationError) -> JSONResponse:
        return problem(
            request, 422, "invalid", Invalid.zh, Invalid.en, field_errors(list(exc.errors()))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        texts = {
            404: ("找不到该页面或资源", "Not found"),
            405: ("不支持该请求方法", "Method not allowed"),
            401: (Unauthorized.zh, Unauthorized.en),
            403: (Forbidden.zh, Forbidden.en),
        }
        zh, en = texts.get(exc.status_code, ("请求有误", str(exc.detail)))
        return problem(request, exc.status_code, f"http_{exc.status_code}", zh, en)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(
            request, 500, "internal", "服务器内部错误，请稍后重试", "Internal server error"
        )
