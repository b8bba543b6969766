"""FAQ import and export: the shop's kb.json imports as 37 entries and importing it again
changes nothing; an XLSX export imports back unchanged; bad rows are reported by row number in
Chinese and nothing is imported unless skip-invalid is asked for."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import AuditEntry
from kefu.core.db import utcnow
from kefu.knowledge import importer, service
from kefu.knowledge.models import Faq, KnowledgeVersion
from kefu.knowledge.schemas import FaqIn
from tests.knowledge.conftest import EDITOR
from tests.store.conftest import MakeStore


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_kb_json_imports_37_entries_and_again_changes_nothing(
    session: AsyncSession, kb_bytes: bytes, kb_items: list[dict[str, Any]]
) -> None:
    report = await importer.import_faq_json(session, EDITOR, kb_bytes)
    assert (report.total, report.created, report.errors, report.applied) == (37, 37, [], True)
    await session.commit()

    f10 = await session.scalar(select(Faq).where(Faq.external_id == "F10"))
    assert f10 is not None
    source = next(i for i in kb_items if i["id"] == "F10")
    assert (f10.question, f10.similar, f10.category) == (
        source["question"],
        source["similar"],
        source["category"],
    )
    assert f10.answer_text == source["answer"]
    audits, versions = await _count(session, AuditEntry), await _count(session, KnowledgeVersion)

    again = await importer.import_faq_json(session, EDITOR, kb_bytes)
    await session.commit()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 37)
    assert await _count(session, Faq) == 37
    assert await _count(session, AuditEntry) == audits  # no edits, so no audit noise
    assert await _count(session, KnowledgeVersion) == versions

    # The same file with one answer changed updates exactly that entry.
    kb_items[0]["answer"] = "付款后24小时内发货。"
    third = await importer.import_faq_json(session, EDITOR, kb_items)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 36)


async def test_reimport_brings_back_a_deleted_entry(session: AsyncSession, kb_bytes: bytes) -> None:
    await importer.import_faq_json(session, EDITOR, kb_bytes)
    f01 = await session.scalar(select(Faq).where(Faq.external_id == "F01"))
    assert f01 is not None
    await service.delete_faq(session, EDITOR, f01.id)
    report = await importer.import_faq_json(session, EDITOR, kb_bytes)
    assert (report.created, report.updated) == (0, 1)
    assert f01.deleted_at is None
    assert await _count(session, Faq) == 37


async def test_bad_rows_are_reported_in_chinese_and_nothing_is_imported(
    session: AsyncSession, make_store: MakeStore
) -> None:
    await make_store(code="tmall-main")
    rows = [
        {"id": "A1", "question": "包邮吗？", "answer": "满99包邮", "stores": ["tmall-main"]},
        {"id": "A2", "question": "", "answer": "没有问题"},
        {"id": "A3", "question": "发什么快递", "answer": "中通", "stores": ["no-such-shop"]},
        {"id": "A1", "question": "重复编号", "answer": "x"},
        {"id": "A5", "question": "活动", "answer": "x", "valid_from": "下周一"},
        {"id": "A6", "question": "渠道", "answer": "x", "channels": ["微博"]},
        "不是对象",
        {"id": "A8", "question": "可以吗", "answer": "可以", "channels": ["邮件", "web"]},
    ]
    report = await importer.import_faq_json(session, EDITOR, rows)
    assert not report.applied
    assert await _count(session, Faq) == 0
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "question"),
        (3, "stores"),
        (4, "id"),
        (5, "valid_from"),
        (6, "channels"),
        (7, ""),
    ]
    texts = [e.text_zh for e in report.errors]
    assert texts[0] == "第 2 行（标准问题）：标准问题不能为空"
    assert "店铺编码“no-such-shop”不存在" in texts[1]
    assert "与第 1 行重复" in texts[2]
    assert "时间“下周一”格式不正确" in texts[3]

    skipped = await importer.import_faq_json(session, EDITOR, rows, skip_invalid=True)
    assert skipped.applied and (skipped.created, skipped.skipped) == (2, 6)
    a8 = await session.scalar(select(Faq).where(Faq.external_id == "A8"))
    assert a8 is not None and a8.channels == ["web", "email"]


async def test_unreadable_files_are_refused(session: AsyncSession) -> None:
    for call, data in (
        (importer.import_faq_json, b"{not json"),
        (importer.import_faq_json, b'{"hello": 1}'),
        (importer.import_faq_xlsx, b"PK not really a workbook"),
    ):
        try:
            await call(session, EDITOR, data)
        except importer.ImportFileInvalid as exc:
            assert exc.zh and exc.en
        else:
            raise AssertionError(f"{data!r} was accepted")


async def test_xlsx_round_trip(session: AsyncSession, make_store: MakeStore) -> None:
    store = await make_store(code="jd-shop")
    start = utcnow().replace(second=0, microsecond=0) + timedelta(days=1)
    await service.create_faq(
        session,
        EDITOR,
        FaqIn(
            external_id="P1",
            question="双十一有什么活动？",
            similar=["11.11优惠", "大促几号开始"],
            answer="**满300减50**，详见[活动页](https://shop.example.com/1111)",
            category="活动",
            all_stores=False,
            store_ids=[store.id],
            channels=["web", "help"],
            valid_from=start,
            valid_until=start + timedelta(days=3),
        ),
    )
    await service.create_faq(
        session, EDITOR, FaqIn(question="是正品吗？", answer="假一赔十", enabled=False)
    )
    await session.commit()
    before = json.loads(await importer.export_faq_json(session))

    data = await importer.export_faq_xlsx(session)
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [c.value for c in sheet[1]][:5] == ["编号", "分类", "标准问题", "相似问题", "答案"]
    p1 = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[0] == "P1")
    assert p1[3] == "11.11优惠\n大促几号开始"
    assert (p1[5], p1[6]) == ("jd-shop", "网页聊天、帮助中心")

    report = await importer.import_faq_xlsx(session, EDITOR, data)
    assert (report.total, report.unchanged, report.errors) == (2, 2, [])
    assert json.loads(await importer.export_faq_json(session)) == before
    p1_json = next(r for r in before if r["id"] == "P1")
    assert p1_json["stores"] == ["jd-shop"] and p1_json["channels"] == ["web", "help"]


async def test_xlsx_with_english_headers_and_row_numbers(session: AsyncSession) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["id", "question", "answer", "similar", "enabled"])
    sheet.append(["X1", "能开发票吗", "可以", "发票怎么开\n能开专票吗", "是"])
    sheet.append([None, None, None, None, None])  # blank rows are ignored
    sheet.append(["X2", "会掉色吗", None, None, "maybe"])
    buffer = io.BytesIO()
    book.save(buffer)
    report = await importer.import_faq_xlsx(session, EDITOR, buffer.getvalue())
    assert [(e.row, e.field) for e in report.errors] == [(4, "enabled")]
    assert not report.applied
    report = await importer.import_faq_xlsx(session, EDITOR, buffer.getvalue(), skip_invalid=True)
    x1 = await session.scalar(select(Faq).where(Faq.external_id == "X1"))
    assert x1 is not None and x1.similar == ["发票怎么开", "能开专票吗"]
