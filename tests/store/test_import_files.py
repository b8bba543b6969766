"""Order files: CSV (UTF-8 and GBK) and XLSX, row-level errors, --skip-invalid, the CLI."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from typer.testing import CliRunner

from kefu.cli import app as cli_app
from kefu.core.audit import Actor
from kefu.core.config import get_settings
from kefu.core.db import Database
from kefu.store.importer import COLUMNS, ImportReport, import_order_file, template_csv
from kefu.store.models import Customer, Order, OrderItem, Store
from tests.store.conftest import MakeStore

HEADER = ",".join(c.header for c in COLUMNS)
ACTOR = Actor.system("test")


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def _row(order: str = "T1", qty: str = "1", price: str = "10.00", **cells: str) -> str:
    """A template-shaped row with overrides by column header."""
    values = {
        "订单号": order,
        "下单时间": "2026-11-20 14:30:00",
        "付款时间": "2026-11-20 14:31:00",
        "订单状态": "待发货",
        "买家ID": "buyer-1",
        "买家姓名": "张三",
        "收货人": "",
        "手机": "13812345678",
        "省": "浙江省",
        "市": "杭州市",
        "区": "西湖区",
        "详细地址": "文三路 100 号",
        "子订单号": "",
        "商品编码": "",
        "SKU编码": "",
        "商品名称": "T恤",
        "规格": "白色 L",
        "数量": qty,
        "单价": price,
        "实付": "",
        "运费": "0",
        "买家留言": "",
        "卖家备注": "",
        "更新时间": "",
    }
    values.update(cells)
    return ",".join(values[c.header] for c in COLUMNS)


async def _import(
    db: Database, store: Store, name: str, data: bytes, skip: bool = False
) -> ImportReport:
    async with db.sessionmaker() as s:
        report = await import_order_file(s, ACTOR, store, name, data, skip_invalid=skip)
        await s.commit()
        return report


async def _count(db: Database, model: type) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_template_imports_and_reimport_changes_nothing(
    db: Database, make_store: MakeStore
) -> None:
    store = await make_store("tpl")
    report = await _import(db, store, "订单导入模板.csv", template_csv())
    assert report.ok and report.imported
    assert (report.rows, report.orders) == (2, 1)
    assert report.counts["created"] == 1
    async with db.sessionmaker() as s:
        order = await s.scalar(select(Order))
        assert order is not None
        lines = (await s.scalars(select(OrderItem).order_by(OrderItem.external_id))).all()
        buyer = await s.scalar(select(Customer))
    assert order.external_id == "T20261120001"
    assert order.status == "WAIT_SELLER_SEND_GOODS"
    # 14:30 in Shanghai is 06:30 UTC.
    assert order.placed_at == datetime(2026, 11, 20, 6, 30, tzinfo=UTC)
    assert order.total_amount == Decimal("257.00")  # 199 + 2×25 + 8 shipping
    assert order.paid_amount == Decimal("247.00")  # 189 + 50 + 8
    assert order.discount_amount == Decimal("10.00")
    assert [ln.quantity for ln in lines] == [1, 2]
    assert buyer is not None and buyer.external_id == "tb_zhangsan" and buyer.phone_tail == "5678"

    again = await _import(db, store, "订单导入模板.csv", template_csv())
    assert again.counts["unchanged"] == 1 and again.counts["created"] == 0
    assert await _count(db, Order) == 1


async def test_bad_rows_import_nothing_and_are_reported(
    db: Database, make_store: MakeStore
) -> None:
    store = await make_store("bad")
    data = _csv(
        _row("T1"),
        _row("T2", qty="0"),
        _row("T3", price="abc", 订单状态="已拍下"),
        _row("T4", 下单时间="昨天"),
        _row("T1", qty="2", 省="江苏省"),
    )
    report = await _import(db, store, "orders.csv", data)
    assert not report.imported
    assert await _count(db, Order) == 0
    found = {(e.row, e.column): e.message_zh for e in report.errors}
    assert found[(3, "数量")] == "数量应为大于 0 的整数"
    assert found[(4, "单价")] == "应为金额，例如 199.00"
    assert found[(4, "订单状态")].startswith("无法识别的订单状态")
    assert found[(5, "下单时间")].startswith("时间格式不正确")
    assert "与第 2 行同一订单的值不一致" in found[(6, "省")]
    assert str(report.errors[0]) == "第 3 行【数量】数量应为大于 0 的整数"

    skipped = await _import(db, store, "orders.csv", data, skip=True)
    assert skipped.imported
    assert skipped.counts["created"] == 0  # T1 is bad too (its second row disagrees)
    assert skipped.skipped_orders == ["T1", "T2", "T3", "T4"]

    mixed = _csv(_row("OK1"), _row("OK1", qty="3"), _row("BAD", qty="-1"))
    report = await _import(db, store, "mixed.csv", mixed, skip=True)
    assert report.counts["created"] == 1 and report.skipped_orders == ["BAD"]
    async with db.sessionmaker() as s:
        order = await s.scalar(select(Order).where(Order.external_id == "OK1"))
    assert order is not None and order.total_amount == Decimal("40.00")


async def test_headers_aliases_gbk_and_rejections(db: Database, make_store: MakeStore) -> None:
    store = await make_store("alias")
    english = (
        b"order_id,placed_at,status,title,quantity,unit_price,phone,updated_at\n"
        b"E1,2026-11-20T10:00:00+08:00,WAIT_BUYER_PAY,Mug,2,15.5,13900001111,"
        b"2026-11-20 10:05\n"
    )
    report = await _import(db, store, "en.csv", english)
    assert report.ok, report.errors
    async with db.sessionmaker() as s:
        order = await s.scalar(select(Order).where(Order.external_id == "E1"))
    assert order is not None and order.paid_amount == 0 and order.total_amount == Decimal("31.00")

    gbk = _csv(_row("G1")).decode().encode("gb18030")
    assert (await _import(db, store, "gbk.csv", gbk)).counts["created"] == 1

    missing = await _import(db, store, "x.csv", b"order_id,title\nA,B\n")
    assert {e.column for e in missing.errors} >= {"下单时间", "订单状态", "数量", "单价"}
    assert all(e.message_zh == "缺少必需的列" for e in missing.errors)
    wrong_type = await _import(db, store, "orders.pdf", b"%PDF-1.4")
    assert wrong_type.errors[0].message_zh == "只支持 .csv 和 .xlsx 文件"
    fake_xlsx = await _import(db, store, "orders.xlsx", b"not a zip")
    assert fake_xlsx.errors[0].message_zh == "文件不是有效的 XLSX 表格"


async def test_xlsx_with_native_cells(db: Database, make_store: MakeStore) -> None:
    store = await make_store("xl", timezone="Asia/Shanghai")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([c.header for c in COLUMNS])
    placed = datetime(2026, 11, 21, 9, 15)
    for sku, qty, price in (("S-1", 1, 88.8), ("S-2", 3, 12)):
        row: dict[str, object] = {c.header: None for c in COLUMNS}
        row.update(
            {
                "订单号": 202611210001,  # numbers in Excel come back as numbers
                "下单时间": placed,
                "订单状态": "WAIT_SELLER_SEND_GOODS",
                "SKU编码": sku,
                "商品名称": "手机壳",
                "数量": qty,
                "单价": price,
                "运费": 6,
            }
        )
        sheet.append([row[c.header] for c in COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    report = await _import(db, store, "orders.xlsx", buffer.getvalue())
    assert report.ok, report.errors
    async with db.sessionmaker() as s:
        order = await s.scalar(select(Order))
    assert order is not None
    assert order.external_id == "202611210001"
    assert order.placed_at == datetime(2026, 11, 21, 1, 15, tzinfo=UTC)
    assert order.total_amount == Decimal("130.80")  # 88.80 + 36 + 6


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the CLI's settings at the test database."""
    monkeypatch.setenv("KEFU_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_cli_exit_codes_and_report(
    db: Database, make_store: MakeStore, cli_database: str, tmp_path: Path
) -> None:
    await make_store("cli")
    runner = CliRunner()

    async def run(*args: str) -> tuple[int, str, str]:
        result = await asyncio.to_thread(runner.invoke, cli_app, ["import", "orders", *args])
        return result.exit_code, result.stdout, result.stderr

    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv(_row("C1"), _row("C2", qty="x")))
    code, out, err = await run(str(bad), "--store", "cli")
    assert code == 1
    assert "第 3 行【数量】" in err and "未导入任何订单" in err
    assert await _count(db, Order) == 0

    code, out, err = await run(str(bad), "--store", "cli", "--skip-invalid")
    assert code == 0, err
    assert "新建 1" in out and "跳过 1 个有错误的订单" in out
    code, out, _ = await run(str(bad), "--store", "cli", "--skip-invalid")
    assert "未变 1" in out
    assert await _count(db, Order) == 1

    code, _, err = await run(str(bad), "--store", "nope")
    assert code == 1 and "店铺 nope 不存在" in err

    template = tmp_path / "t.csv"
    result = await asyncio.to_thread(runner.invoke, cli_app, ["import", "template", str(template)])
    assert result.exit_code == 0 and template.read_bytes() == template_csv()
