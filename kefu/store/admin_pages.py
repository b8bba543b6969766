"""Store administration pages: stores and their webhook secrets, file import upload.

`/settings/stores` needs `stores.manage` (admins): list, create, rotate a webhook secret.
`/settings/import` needs `store.import`: upload an order file (CSV/XLSX) and read the report;
it calls the same `import_order_file` as `kefu import orders`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.config import get_settings
from kefu.core.deps import DbSession
from kefu.core.errors import Invalid, KefuError, field_errors
from kefu.core.i18n import gettext as _
from kefu.store import service
from kefu.store.enums import Platform
from kefu.store.importer import COLUMNS, ImportReport, RowError, import_order_file, template_csv
from kefu.store.schemas import StoreCreate
from kefu.web.templating import flash, render

router = APIRouter(include_in_schema=False)

StoreAdmin = Annotated[Principal, Require(Permission.stores_manage)]
Importer = Annotated[Principal, Require(Permission.store_import)]

PLATFORMS = [
    (Platform.tmall, "天猫", "Tmall"),
    (Platform.taobao, "淘宝", "Taobao"),
    (Platform.jd, "京东", "JD"),
    (Platform.pdd, "拼多多", "Pinduoduo"),
    (Platform.douyin, "抖音", "Douyin"),
    (Platform.own, "自营商城", "Own shop"),
]
ALLOWED_SUFFIXES = (".csv", ".xlsx")


# ----------------------------------------------------------------------------- stores


async def _stores_page(
    request: Request,
    session: DbSession,
    *,
    form: dict[str, Any] | None = None,
    error: KefuError | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "store/admin/stores.html",
        {
            "section": "settings",
            "stores": await service.list_stores(session),
            "platforms": PLATFORMS,
            "form": form or {"platform": "tmall", "timezone": "Asia/Shanghai"},
            "error": error,
            "base_url": get_settings().base_url.rstrip("/"),
        },
        status_code=status_code,
    )


@router.get("/settings/stores", response_class=HTMLResponse)
async def stores_page(request: Request, session: DbSession, principal: StoreAdmin) -> HTMLResponse:
    return await _stores_page(request, session)


@router.post("/settings/stores", response_class=HTMLResponse)
async def create_store(
    request: Request,
    session: DbSession,
    principal: StoreAdmin,
    code: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    platform: Annotated[str, Form()] = "own",
    timezone: Annotated[str, Form()] = "Asia/Shanghai",
    return_address: Annotated[str, Form()] = "",
    service_phone: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "code": code.strip().lower(),
        "name": name,
        "platform": platform,
        "timezone": timezone,
        "return_address": return_address,
        "service_phone": service_phone,
    }
    try:
        data = StoreCreate.model_validate(form)
        store = await service.create_store(session, principal.actor, data)
    except ValidationError as exc:
        problems = field_errors(list(exc.errors()))
        labels = {"code": "店铺代码", "name": "名称", "platform": "平台", "timezone": "时区"}
        text = "；".join(
            f"{labels.get(p['field'], p['field'])}：{p['message_zh']}" for p in problems
        )
        error = Invalid(
            text, "; ".join(f"{p['field']}: {p['message_en']}" for p in problems), errors=problems
        )
        return await _stores_page(request, session, form=form, error=error, status_code=422)
    except KefuError as exc:
        return await _stores_page(request, session, form=form, error=exc, status_code=exc.status)
    flash(request, _("Store %(name)s created.") % {"name": store.name})
    return RedirectResponse("/settings/stores", status_code=303)


@router.post("/settings/stores/{store_id}/rotate-secret")
async def rotate_secret(
    request: Request, store_id: int, session: DbSession, principal: StoreAdmin
) -> Response:
    store = await service.rotate_webhook_secret(session, principal.actor, store_id)
    flash(
        request,
        _("New webhook secret for %(name)s. Update it in your shop system now.")
        % {"name": store.name},
    )
    return RedirectResponse(f"/settings/stores#store-{store.id}", status_code=303)


# ----------------------------------------------------------------------------- import


async def _import_page(
    request: Request,
    session: DbSession,
    *,
    report: ImportReport | None = None,
    chosen: str = "",
    filename: str = "",
    skip_invalid: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    stores = [s for s in await service.list_stores(session) if s.is_active]
    return render(
        request,
        "store/admin/import.html",
        {
            "section": "settings",
            "stores": stores,
            "chosen": chosen or (stores[0].code if stores else ""),
            "columns": COLUMNS,
            "report": report,
            "filename": filename,
            "skip_invalid": skip_invalid,
            "max_mb": get_settings().upload_max_bytes // (1024 * 1024),
        },
        status_code=status_code,
    )


@router.get("/settings/import", response_class=HTMLResponse)
async def import_page(request: Request, session: DbSession, principal: Importer) -> HTMLResponse:
    return await _import_page(request, session)


@router.get("/settings/import/template.csv")
async def import_template(principal: Importer) -> Response:
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename*=UTF-8''order-import-template.csv"},
    )


@router.post("/settings/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    session: DbSession,
    principal: Importer,
    file: Annotated[UploadFile, File()],
    store: Annotated[str, Form()] = "",
    skip_invalid: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    filename = (file.filename or "").strip()
    limit = get_settings().upload_max_bytes
    report = ImportReport()

    def refuse(zh: str, en: str) -> ImportReport:
        report.errors.append(RowError(0, "", zh, en))
        return report

    if not filename.lower().endswith(ALLOWED_SUFFIXES):
        refuse("只支持 .csv 和 .xlsx 文件", "Only .csv and .xlsx files are supported")
    else:
        data = await file.read(limit + 1)
        if len(data) > limit:
            refuse(f"文件太大（最大 {limit // (1024 * 1024)} MB）", "File too large")
        elif not data:
            refuse("文件是空的", "The file is empty")
        else:
            target = await service.get_active_store(session, store)
            report = await import_order_file(
                session, principal.actor, target, filename, data, skip_invalid=skip_invalid
            )
    status = 200 if report.imported else 422
    return await _import_page(
        request,
        session,
        report=report,
        chosen=store,
        filename=filename,
        skip_invalid=skip_invalid,
        status_code=status,
    )
