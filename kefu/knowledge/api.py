"""JSON routes of the knowledge base under /api/v1/knowledge."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, KefuError
from kefu.knowledge import importer, service
from kefu.knowledge.models import Article, Faq
from kefu.knowledge.schemas import (
    ArticleIn,
    ArticleOut,
    ArticlePage,
    EnabledIn,
    FaqIn,
    FaqOut,
    FaqPage,
    ImportReportOut,
    RowErrorOut,
    VersionOut,
)

router = APIRouter(prefix="/knowledge", tags=["knowledge"])

Reader = Annotated[Principal, Require(Permission.knowledge_read)]
Writer = Annotated[Principal, Require(Permission.knowledge_write)]


def faq_out(faq: Faq, store_ids: list[int]) -> FaqOut:
    return FaqOut(
        id=faq.id,
        external_id=faq.external_id,
        question=faq.question,
        similar=list(faq.similar or []),
        answer=faq.answer,
        answer_html=faq.answer_html,
        answer_text=faq.answer_text,
        category=faq.category,
        all_stores=faq.all_stores,
        store_ids=store_ids,
        channels=list(faq.channels or []),
        valid_from=faq.valid_from,
        valid_until=faq.valid_until,
        enabled=faq.enabled,
        status=service.faq_status(faq),
        version=faq.version,
        updated_at=faq.updated_at,
        updated_by=faq.updated_by,
    )


def article_out(article: Article) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        title=article.title,
        body=article.body,
        body_html=article.body_html,
        category=article.category,
        tags=list(article.tags or []),
        version=article.version,
        updated_at=article.updated_at,
        updated_by=article.updated_by,
    )


async def _faq_out(session: DbSession, faq: Faq) -> FaqOut:
    return faq_out(faq, (await service.faq_store_ids(session, [faq.id]))[faq.id])


# --------------------------------------------------------------------------- FAQ


@router.get("/faqs", response_model=FaqPage)
async def list_faqs(
    session: DbSession,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=60)] = "",
    store_id: int | None = None,
    enabled: bool | None = None,
    validity: Literal["current", "scheduled", "expired"] | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = service.PER_PAGE,
) -> FaqPage:
    filters = service.FaqFilters(q, category, store_id, enabled, validity)
    rows, total = await service.list_faqs(session, filters, page, per_page)
    stores = await service.faq_store_ids(session, [f.id for f in rows])
    return FaqPage(
        items=[faq_out(f, stores[f.id]) for f in rows], total=total, page=page, per_page=per_page
    )


@router.post("/faqs", response_model=FaqOut, status_code=201)
async def create_faq(session: DbSession, principal: Writer, body: FaqIn) -> FaqOut:
    faq = await service.create_faq(session, principal.actor, body)
    return await _faq_out(session, faq)


@router.get("/faqs/export")
async def export_faqs(
    session: DbSession, principal: Reader, format: Literal["json", "xlsx"] = "json"
) -> Response:
    return await export_response(session, format)


async def export_response(session: DbSession, fmt: Literal["json", "xlsx"]) -> Response:
    if fmt == "xlsx":
        data = await importer.export_faq_xlsx(session)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        data = await importer.export_faq_json(session)
        media = "application/json; charset=utf-8"
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="kefu-faq.{fmt}"'},
    )


async def read_upload(request: Request, file: UploadFile) -> tuple[bytes, str]:
    """The uploaded bytes and their format, refusing files over the size limit."""
    limit = request.app.state.settings.upload_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise KefuError(
            f"文件太大，最大 {limit // (1024 * 1024)} MB",
            f"The file is larger than {limit // (1024 * 1024)} MB",
            status=413,
            code="too_large",
        )
    name = (file.filename or "").lower()
    if name.endswith(".xlsx") or data[:2] == b"PK":
        return data, "xlsx"
    return data, "json"


async def run_import(
    session: DbSession, principal: Principal, data: bytes, fmt: str, skip_invalid: bool
) -> importer.ImportReport:
    try:
        if fmt == "xlsx":
            return await importer.import_faq_xlsx(
                session, principal.actor, data, skip_invalid=skip_invalid
            )
        return await importer.import_faq_json(
            session, principal.actor, data, skip_invalid=skip_invalid
        )
    except importer.ImportFileInvalid as exc:
        raise Invalid(exc.zh, exc.en) from None


@router.post("/faqs/import", response_model=ImportReportOut)
async def import_faqs(
    request: Request,
    session: DbSession,
    principal: Writer,
    file: Annotated[UploadFile, File()],
    skip_invalid: Annotated[bool, Form()] = False,
) -> Response:
    data, fmt = await read_upload(request, file)
    report = await run_import(session, principal, data, fmt, skip_invalid)
    body = ImportReportOut(
        total=report.total,
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=report.skipped,
        applied=report.applied,
        errors=[RowErrorOut(**e.__dict__) for e in report.errors],
    )
    # Nothing imported because of bad rows: 422, so scripts notice.
    return Response(
        body.model_dump_json(),
        status_code=200 if report.applied else 422,
        media_type="application/json",
    )


@router.get("/faqs/{faq_id}", response_model=FaqOut)
async def get_faq(session: DbSession, principal: Reader, faq_id: int) -> FaqOut:
    return await _faq_out(session, await service.get_faq(session, faq_id))


@router.put("/faqs/{faq_id}", response_model=FaqOut)
async def update_faq(
    session: DbSession,
    principal: Writer,
    faq_id: int,
    body: FaqIn,
    expected_version: int | None = None,
) -> FaqOut:
    faq = await service.update_faq(
        session, principal.actor, faq_id, body, expected_version=expected_version
    )
    return await _faq_out(session, faq)


@router.post("/faqs/{faq_id}/enabled", response_model=FaqOut)
async def set_enabled(
    session: DbSession, principal: Writer, faq_id: int, body: EnabledIn
) -> FaqOut:
    faq = await service.set_faq_enabled(session, principal.actor, faq_id, body.enabled)
    return await _faq_out(session, faq)


@router.delete("/faqs/{faq_id}", status_code=204)
async def delete_faq(session: DbSession, principal: Writer, faq_id: int) -> Response:
    await service.delete_faq(session, principal.actor, faq_id)
    return Response(status_code=204)


@router.get("/faqs/{faq_id}/history", response_model=list[VersionOut])
async def faq_history(session: DbSession, principal: Reader, faq_id: int) -> list[VersionOut]:
    await service.get_faq(session, faq_id, include_deleted=True)
    return [VersionOut(**v.__dict__) for v in await service.history(session, "faq", faq_id)]


# --------------------------------------------------------------------------- articles


@router.get("/articles", response_model=ArticlePage)
async def list_articles(
    session: DbSession,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=60)] = "",
    tag: Annotated[str, Query(max_length=30)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = service.PER_PAGE,
) -> ArticlePage:
    rows, total = await service.list_articles(
        session, service.ArticleFilters(q, category, tag), page, per_page
    )
    return ArticlePage(
        items=[article_out(a) for a in rows], total=total, page=page, per_page=per_page
    )


@router.post("/articles", response_model=ArticleOut, status_code=201)
async def create_article(session: DbSession, principal: Writer, body: ArticleIn) -> ArticleOut:
    return article_out(await service.create_article(session, principal.actor, body))


@router.get("/articles/{article_id}", response_model=ArticleOut)
async def get_article(session: DbSession, principal: Reader, article_id: int) -> ArticleOut:
    return article_out(await service.get_article(session, article_id))


@router.put("/articles/{article_id}", response_model=ArticleOut)
async def update_article(
    session: DbSession,
    principal: Writer,
    article_id: int,
    body: ArticleIn,
    expected_version: int | None = None,
) -> ArticleOut:
    article = await service.update_article(
        session, principal.actor, article_id, body, expected_version=expected_version
    )
    return article_out(article)


@router.delete("/articles/{article_id}", status_code=204)
async def delete_article(session: DbSession, principal: Writer, article_id: int) -> Response:
    await service.delete_article(session, principal.actor, article_id)
    return Response(status_code=204)


@router.get("/articles/{article_id}/history", response_model=list[VersionOut])
async def article_history(
    session: DbSession, principal: Reader, article_id: int
) -> list[VersionOut]:
    await service.get_article(session, article_id)
    return [VersionOut(**v.__dict__) for v in await service.history(session, "article", article_id)]
