"""FAQ import and export, JSON and XLSX.

JSON: a list of entries (or `{"entries": [...]}`), each `{"id", "category", "question",
"similar", "answer"}` as in `datasets/faq_bench/kb.json`, optionally with `enabled`,
`stores` (store codes; absent or empty = every store), `channels`, `valid_from`, `valid_until`
(ISO 8601; without an offset the shop's time zone is meant). Export writes the same layout.

XLSX: one sheet, a header row, one entry per row; columns by header (Chinese or English):
编号/id, 分类/category, 标准问题/question, 相似问题/similar (one per line), 答案/answer,
适用店铺/stores, 适用渠道/channels, 生效时间/valid_from, 失效时间/valid_until, 状态/enabled.

Imports match entries on the file's id, so importing the same file again changes nothing.
Every row is checked first; if any row is wrong nothing is imported and the report lists each
problem with its row number in Chinese and English — unless `skip_invalid` is set, in which
case the good rows are imported and the bad ones reported as skipped.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor
from kefu.core.config import get_settings
from kefu.core.errors import field_errors
from kefu.core.i18n import lazy_pair
from kefu.knowledge import service
from kefu.knowledge.models import Faq
from kefu.knowledge.schemas import CHANNEL_LABELS, CHANNELS, FaqIn
from kefu.store.models import Store

MAX_ROWS = 5000

# Column header (lower-cased) → field. Exports use the first, Chinese, name of each.
COLUMNS: list[tuple[str, tuple[str, ...]]] = [
    ("id", ("编号", "id", "外部编号", "external_id")),
    ("category", ("分类", "category")),
    ("question", ("标准问题", "question", "问题")),
    ("similar", ("相似问题", "similar", "similar_questions")),
    ("answer", ("答案", "answer", "回答")),
    ("stores", ("适用店铺", "stores", "店铺")),
    ("channels", ("适用渠道", "channels", "渠道")),
    ("valid_from", ("生效时间", "valid_from")),
    ("valid_until", ("失效时间", "valid_until")),
    ("enabled", ("状态", "enabled", "启用")),
]
_HEADER_TO_FIELD = {name.lower(): key for key, names in COLUMNS for name in names}

FIELD_LABELS = {
    "id": "编号",
    "category": "分类",
    "question": "标准问题",
    "similar": "相似问题",
    "answer": "答案",
    "stores": "适用店铺",
    "channels": "适用渠道",
    "valid_from": "生效时间",
    "valid_until": "失效时间",
    "enabled": "状态",
    "": "整行",
}
_TRUE = {"1", "true", "yes", "y", "是", "启用", "开启", "on"}
_FALSE = {"0", "false", "no", "n", "否", "停用", "禁用", "关闭", "off"}
_LIST_SPLIT = re.compile(r"[,，、;；\s]+")


@dataclass(frozen=True)
class RowError:
    row: int
    external_id: str | None
    field: str
    message_zh: str
    message_en: str

    @property
    def field_label(self) -> str:
        zh = FIELD_LABELS.get(self.field, self.field)
        return lazy_pair(zh, self.field or "row")

    @property
    def text_zh(self) -> str:
        return f"第 {self.row} 行（{FIELD_LABELS.get(self.field, self.field)}）：{self.message_zh}"


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    applied: bool = False
    errors: list[RowError] = field(default_factory=list)


class _RowInvalid(Exception):
    def __init__(self, field_name: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field, self.zh, self.en = field_name, zh, en


# --------------------------------------------------------------------------- parsing cells


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _list(value: Any, *, lines_only: bool = False) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value if _text(v)]
    text = _text(value)
    parts = text.splitlines() if lines_only else _LIST_SPLIT.split(text)
    return [p.strip() for p in parts if p.strip()]


def _when(value: Any, field_name: str, tz: ZoneInfo) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    else:
        text = _text(value).replace("/", "-")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _RowInvalid(
                field_name,
                f"时间“{text}”格式不正确，应为 2026-11-11 00:00 这样的格式",
                f"Time {text!r} is not valid; use e.g. 2026-11-11 00:00",
            ) from None
    return parsed.replace(tzinfo=tz) if parsed.tzinfo is None else parsed


def _enabled(value: Any) -> bool:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _RowInvalid(
        "enabled",
        f"状态“{text}”无法识别，请填“启用”或“停用”",
        f"Status {text!r} not recognised; use 启用 or 停用",
    )


_CHANNEL_BY_NAME = {
    **{c: c for c in CHANNELS},
    **{zh: c for c, (zh, _en) in CHANNEL_LABELS.items()},
    **{en.lower(): c for c, (_zh, en) in CHANNEL_LABELS.items()},
    "网页": "web",
    "h5": "h5",
    "移动端": "h5",
}


def _channels(value: Any) -> list[str]:
    out: list[str] = []
    for name in _list(value):
        if name in ("全部", "全部渠道", "all"):
            return []
        code = _CHANNEL_BY_NAME.get(name) or _CHANNEL_BY_NAME.get(name.lower())
        if code is None:
            raise _RowInvalid(
                "channels",
                f"渠道“{name}”不存在，可选：{'、'.join(CHANNELS)}",
                f"Unknown channel {name!r}; choose from {', '.join(CHANNELS)}",
            )
        out.append(code)
    return out


def _stores(value: Any, by_code: Mapping[str, int]) -> list[int]:
    ids: list[int] = []
    for code in _list(value):
        if code in ("全部", "全部店铺", "all", "*"):
            return []
        if code not in by_code:
            raise _RowInvalid(
                "stores", f"店铺编码“{code}”不存在", f"No store with the code {code!r}"
            )
        ids.append(by_code[code])
    return ids


def _to_faq_in(raw: Mapping[str, Any], by_code: Mapping[str, int], tz: ZoneInfo) -> FaqIn:
    if not isinstance(raw, Mapping):
        raise _RowInvalid("", "应为一个对象（含 question、answer 等字段）", "Expected an object")
    store_ids = _stores(raw.get("stores"), by_code)
    data = {
        "external_id": _text(raw.get("id")) or None,
        "question": _text(raw.get("question")),
        "similar": _list(raw.get("similar") or raw.get("similar_questions"), lines_only=True),
        "answer": _text(raw.get("answer")),
        "category": _text(raw.get("category")),
        "all_stores": not store_ids,
        "store_ids": store_ids,
        "channels": _channels(raw.get("channels")),
        "valid_from": _when(raw.get("valid_from"), "valid_from", tz),
        "valid_until": _when(raw.get("valid_until"), "valid_until", tz),
        "enabled": _enabled(raw.get("enabled")),
    }
    if not data["question"]:
        raise _RowInvalid("question", "标准问题不能为空", "The question is empty")
    if not data["answer"]:
        raise _RowInvalid("answer", "答案不能为空", "The answer is empty")
    try:
        return FaqIn.model_validate(data)
    except ValidationError as exc:
        first = field_errors(list(exc.errors()))[0]
        name = first["field"].split(".")[0]
        name = {"external_id": "id", "store_ids": "stores", "all_stores": "stores"}.get(name, name)
        return_zh = first["message_zh"]
        raise _RowInvalid(name, return_zh, first["message_en"]) from None


# --------------------------------------------------------------------------- import


async def _import_rows(
    session: AsyncSession,
    actor: Actor,
    rows: Iterable[tuple[int, Any]],
    *,
    skip_invalid: bool,
) -> ImportReport:
    report = ImportReport()
    tz = ZoneInfo(get_settings().default_timezone)
    by_code = {code: sid for code, sid in (await session.execute(select(Store.code, Store.id)))}
    valid: list[tuple[int, FaqIn]] = []
    seen: dict[str, int] = {}
    for row_no, raw in rows:
        report.total += 1
        ext = _text(raw.get("id")) if isinstance(raw, Mapping) else ""
        try:
            data = _to_faq_in(raw, by_code, tz)
            if data.external_id and data.external_id in seen:
                raise _RowInvalid(
                    "id",
                    f"编号“{data.external_id}”与第 {seen[data.external_id]} 行重复",
                    f"The id {data.external_id!r} repeats row {seen[data.external_id]}",
                )
            if data.external_id:
                seen[data.external_id] = row_no
            valid.append((row_no, data))
        except _RowInvalid as exc:
            report.errors.append(RowError(row_no, ext or None, exc.field, exc.zh, exc.en))
        if report.total > MAX_ROWS:
            report.errors.append(
                RowError(
                    row_no, None, "", f"一次最多导入 {MAX_ROWS} 条", f"At most {MAX_ROWS} rows"
                )
            )
            return report
    if report.errors and not skip_invalid:
        return report
    report.skipped = len(report.errors)
    existing = {
        f.external_id: f
        for f in (
            await session.scalars(
                select(Faq).where(
                    Faq.external_id.in_([d.external_id for _, d in valid if d.external_id])
                )
            )
        ).all()
    }
    for _row_no, data in valid:
        current = existing.get(data.external_id) if data.external_id else None
        if current is None:
            await service.create_faq(session, actor, data)
            report.created += 1
            continue
        version = current.version
        await service.update_faq(session, actor, current.id, data, restore=True)
        if current.version == version:
            report.unchanged += 1
        else:
            report.updated += 1
    report.applied = True
    return report


def _json_items(data: bytes | str | Any) -> list[Any]:
    if isinstance(data, (bytes, str)):
        try:
            text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportFileInvalid(
                f"文件不是有效的 JSON：{exc}", f"The file is not valid JSON: {exc}"
            ) from None
    if isinstance(data, Mapping):
        data = data.get("entries") or data.get("faqs") or data.get("items")
    if not isinstance(data, list):
        raise ImportFileInvalid(
            "JSON 应为问答列表，或包含 entries 列表的对象",
            'The JSON must be a list of entries or an object with an "entries" list',
        )
    return data


class ImportFileInvalid(Exception):
    """The file as a whole cannot be read (not JSON, not a workbook, no header)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


async def import_faq_json(
    session: AsyncSession, actor: Actor, data: bytes | str | Any, *, skip_invalid: bool = False
) -> ImportReport:
    """Import FAQ entries from JSON (bytes, text, or already parsed). Rows are numbered from
    1 in file order. Raises `ImportFileInvalid` when the file is not JSON at all."""
    items = _json_items(data)
    return await _import_rows(session, actor, enumerate(items, 1), skip_invalid=skip_invalid)


def _xlsx_rows(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportFileInvalid(
            "文件不是有效的 Excel（.xlsx）表格", "The file is not a valid .xlsx workbook"
        ) from None
    sheet = book.active
    if sheet is None:
        raise ImportFileInvalid("表格中没有工作表", "The workbook has no sheet")
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    fields = [_HEADER_TO_FIELD.get(_text(h).lower()) for h in (header or ())]
    if "question" not in fields or "answer" not in fields:
        raise ImportFileInvalid(
            "第 1 行应为表头，且至少包含“标准问题”和“答案”两列",
            'Row 1 must be a header with at least the columns "question" and "answer"',
        )
    out: list[tuple[int, dict[str, Any]]] = []
    for row_no, values in enumerate(rows, 2):
        if not any(_text(v) for v in values):
            continue
        out.append((row_no, {f: v for f, v in zip(fields, values, strict=False) if f}))
    book.close()
    return out


async def import_faq_xlsx(
    session: AsyncSession, actor: Actor, data: bytes, *, skip_invalid: bool = False
) -> ImportReport:
    """Import FAQ entries from an .xlsx workbook; rows are numbered as Excel shows them."""
    rows = _xlsx_rows(data)
    return await _import_rows(session, actor, rows, skip_invalid=skip_invalid)


# --------------------------------------------------------------------------- export


async def _export_records(session: AsyncSession) -> list[dict[str, Any]]:
    faqs = (
        await session.scalars(select(Faq).where(Faq.deleted_at.is_(None)).order_by(Faq.id))
    ).all()
    stores = await service.faq_store_ids(session, [f.id for f in faqs])
    codes = {sid: code for sid, code in (await session.execute(select(Store.id, Store.code)))}
    tz = ZoneInfo(get_settings().default_timezone)

    def local(value: datetime | None) -> str | None:
        return value.astimezone(tz).isoformat() if value else None

    return [
        {
            "id": f.external_id or str(f.id),
            "category": f.category,
            "question": f.question,
            "similar": list(f.similar or []),
            "answer": f.answer,
            "enabled": f.enabled,
            "stores": [] if f.all_stores else [codes[s] for s in stores[f.id] if s in codes],
            "channels": list(f.channels or []),
            "valid_from": local(f.valid_from),
            "valid_until": local(f.valid_until),
        }
        for f in faqs
    ]


async def export_faq_json(session: AsyncSession) -> bytes:
    """Every entry (not deleted) as UTF-8 JSON in the import layout, kb.json compatible."""
    records = await _export_records(session)
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


async def export_faq_xlsx(session: AsyncSession) -> bytes:
    records = await _export_records(session)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "FAQ"
    sheet.append([names[0] for _key, names in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="2563EB")
    for rec in records:
        sheet.append(
            [
                rec["id"],
                rec["category"],
                rec["question"],
                "\n".join(rec["similar"]),
                rec["answer"],
                "、".join(rec["stores"]),
                "、".join(CHANNEL_LABELS[c][0] for c in rec["channels"]),
                (rec["valid_from"] or "")[:16].replace("T", " "),
                (rec["valid_until"] or "")[:16].replace("T", " "),
                "启用" if rec["enabled"] else "停用",
            ]
        )
    widths = [10, 10, 30, 36, 60, 16, 16, 18, 18, 8]
    for column, width in zip("ABCDEFGHIJ", widths, strict=True):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
