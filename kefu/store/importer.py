"""Order files (CSV or XLSX) → the same upsert the REST API uses.

One row per order line; the order's own columns repeat on each of its lines. Headers are
Chinese (订单号, 下单时间, …) with English aliases, in any order; unknown columns are ignored.
Times without a zone are the store's local time. Every problem is reported with its row
number (as a spreadsheet shows it, header = row 1), the column and a reason in Chinese.

A file with any error imports nothing, unless `skip_invalid` is set: then every order with a
bad row is left out as a whole and the rest is imported. Re-importing a file changes nothing:
the order's `updated_at` defaults to the latest time in its row, so the same file always
yields the same payloads, which the service reports as unchanged.

The CLI (`kefu import orders`) and the upload page (/settings/import) both call
`import_order_file`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.config import get_settings
from kefu.core.errors import field_errors
from kefu.store.enums import ORDER_STATUS_LABELS, OrderStatus
from kefu.store.models import Store
from kefu.store.schemas import OrderIn, Outcome
from kefu.store.service import import_orders


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]
    required: bool = False
    per_order: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("order_id", "订单号", ("订单编号", "order_id", "order_no", "external_id"), True),
    Column("placed_at", "下单时间", ("创建时间", "placed_at", "created_at", "order_time"), True),
    Column("paid_at", "付款时间", ("paid_at", "pay_time")),
    Column("status", "订单状态", ("状态", "status", "order_status"), True),
    Column("buyer_id", "买家ID", ("买家编号", "买家会员名", "buyer_id", "customer_id")),
    Column("buyer_name", "买家姓名", ("买家", "buyer_name", "customer_name")),
    Column("receiver_name", "收货人", ("收货人姓名", "receiver_name", "receiver")),
    Column("phone", "手机", ("手机号", "联系电话", "收货人手机", "phone", "mobile")),
    Column("province", "省", ("省份", "province")),
    Column("city", "市", ("城市", "city")),
    Column("district", "区", ("区县", "district")),
    Column("detail", "详细地址", ("收货地址", "address", "address_detail", "detail")),
    Column("item_id", "子订单号", ("子订单编号", "item_id", "line_id"), per_order=False),
    Column("product_code", "商品编码", ("商品ID", "product_code", "product_id"), per_order=False),
    Column("sku_code", "SKU编码", ("sku编码", "sku", "sku_code", "sku_id"), per_order=False),
    Column("title", "商品名称", ("商品标题", "宝贝标题", "title", "product_name"), True, False),
    Column("spec", "规格", ("商品属性", "颜色尺码", "spec", "sku_desc"), per_order=False),
    Column("quantity", "数量", ("购买数量", "quantity", "qty"), True, False),
    Column("unit_price", "单价", ("价格", "unit_price", "price"), True, False),
    Column("paid", "实付", ("实付金额", "paid", "paid_amount"), per_order=False),
    Column("shipping_fee", "运费", ("邮费", "shipping_fee", "freight")),
    Column("buyer_message", "买家留言", ("buyer_message",)),
    Column("seller_memo", "卖家备注", ("seller_memo",)),
    Column("updated_at", "更新时间", ("修改时间", "updated_at", "modified_at")),
)
BY_KEY = {c.key: c for c in COLUMNS}


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-/（）()]", "", str(header)).lower()


_HEADER_INDEX = {_norm(a): c for c in COLUMNS for a in (c.header, *c.aliases)}

# Status by code, by its Chinese label, and by the short words shops' exports use.
_STATUS_WORDS: dict[str, OrderStatus] = {s.value.lower(): s for s in OrderStatus}
_STATUS_WORDS.update({zh: s for s, (zh, _en) in ORDER_STATUS_LABELS.items()})
_STATUS_WORDS.update(
    {
        "等待付款": OrderStatus.WAIT_BUYER_PAY,
        "待付款": OrderStatus.WAIT_BUYER_PAY,
        "待发货": OrderStatus.WAIT_SELLER_SEND_GOODS,
        "已付款": OrderStatus.WAIT_SELLER_SEND_GOODS,
        "已发货": OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        "待收货": OrderStatus.WAIT_BUYER_CONFIRM_GOODS,
        "已签收": OrderStatus.TRADE_BUYER_SIGNED,
        "交易成功": OrderStatus.TRADE_FINISHED,
        "已完成": OrderStatus.TRADE_FINISHED,
        "交易关闭": OrderStatus.TRADE_CLOSED,
        "已关闭": OrderStatus.TRADE_CLOSED,
        "已取消": OrderStatus.TRADE_CLOSED_BY_TAOBAO,
    }
)
_UNPAID = (OrderStatus.WAIT_BUYER_PAY, OrderStatus.TRADE_CLOSED_BY_TAOBAO)
_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message_zh: str
    message_en: str = ""
    order_id: str = ""

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        if self.column:
            return f"{where}【{self.column}】{self.message_zh}"
        return f"{where}：{self.message_zh}"


@dataclass
class ImportReport:
    rows: int = 0
    orders: int = 0
    errors: list[RowError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    imported: bool = False
    skipped_orders: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class FileRejected(Exception):
    """The file as a whole cannot be read (type, encoding, missing columns)."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


# =========================================================================== reading


def read_table(filename: str, data: bytes) -> Iterator[tuple[int, list[Any]]]:
    """(row number, cells) of the first sheet, header included; CSV or XLSX by extension."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        if not data.startswith(b"PK\x03\x04"):
            raise FileRejected("文件不是有效的 XLSX 表格", "Not a valid XLSX file")
        return _read_xlsx(data)
    if name.endswith(".csv") or name.endswith(".txt"):
        return _read_csv(data)
    if name.endswith(".xls"):
        raise FileRejected(
            "不支持旧版 .xls，请在 Excel 中另存为 .xlsx 或 .csv",
            "Old .xls is not supported; save as .xlsx or .csv",
        )
    raise FileRejected("只支持 .csv 和 .xlsx 文件", "Only .csv and .xlsx files are supported")


def _read_csv(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    # Excel in China saves CSV as GBK; everything else is UTF-8 (maybe with a BOM).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise FileRejected("无法识别文件编码，请保存为 UTF-8", "Unknown encoding; use UTF-8")
    if "\x00" in text:
        raise FileRejected("文件不是文本 CSV", "The file is not a text CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    yield from enumerate(reader, 1)


def _read_xlsx(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileRejected("文件不是有效的 XLSX 表格", "Not a valid XLSX file") from exc
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, list(row)
    finally:
        book.close()


# =========================================================================== parsing


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class _CellError(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _money(value: Any) -> Decimal:
    raw = _text(value).replace("¥", "").replace("￥", "").replace(",", "").replace("元", "")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise _CellError("应为金额，例如 199.00", "Must be an amount like 199.00") from None
    if not amount.is_finite() or amount < 0:
        raise _CellError("金额不能为负数", "Must not be negative")
    if amount != amount.quantize(Decimal("0.01")):
        raise _CellError("金额最多两位小数", "At most two decimals")
    return amount.quantize(Decimal("0.01"))


def _quantity(value: Any) -> int:
    raw = _text(value)
    try:
        number = Decimal(raw)
    except InvalidOperation:
        raise _CellError("应为正整数", "Must be a whole number") from None
    if number != number.to_integral_value() or number <= 0:
        raise _CellError("数量应为大于 0 的整数", "Must be a whole number above 0")
    return int(number)


def _when(value: Any, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        raw = _text(value)
        parsed_or_none: datetime | None = None
        try:
            parsed_or_none = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            for fmt in _FORMATS:
                try:
                    parsed_or_none = datetime.strptime(raw, fmt)
                    break
                except ValueError:
                    continue
        if parsed_or_none is None:
            raise _CellError(
                "时间格式不正确，应为 2026-11-20 14:30:00", "Use a time like 2026-11-20 14:30:00"
            )
        parsed = parsed_or_none
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _status(value: Any) -> OrderStatus:
    raw = _text(value)
    found = _STATUS_WORDS.get(raw) or _STATUS_WORDS.get(raw.lower())
    if found is None:
        raise _CellError(
            "无法识别的订单状态（可用：待付款、待发货、已发货、交易成功、交易关闭 或 TOP 状态码）",
            "Unknown order status",
        )
    return found


@dataclass
class _Line:
    row: int
    cells: dict[str, Any]


@dataclass
class _OrderRows:
    order_id: str
    lines: list[_Line] = field(default_factory=list)


def _map_header(header: Sequence[Any]) -> tuple[dict[int, Column], list[RowError]]:
    mapping: dict[int, Column] = {}
    errors: list[RowError] = []
    for index, name in enumerate(header):
        column = _HEADER_INDEX.get(_norm(_text(name)))
        if column is None:
            continue
        if column in mapping.values():
            errors.append(RowError(1, _text(name), "列重复", "Duplicate column"))
            continue
        mapping[index] = column
    present = set(mapping.values())
    for column in COLUMNS:
        if column.required and column not in present:
            errors.append(
                RowError(1, column.header, "缺少必需的列", f"Missing required column {column.key}")
            )
    return mapping, errors


@dataclass
class ParsedFile:
    orders: list[tuple[OrderIn, list[int]]]  # valid orders with their row numbers
    errors: list[RowError]
    rows: int  # data rows
    order_count: int  # distinct order numbers, valid or not


def parse_orders(filename: str, data: bytes, timezone: str) -> ParsedFile:
    """Read and validate an order file without touching the database."""
    zone = ZoneInfo(timezone)
    table = read_table(filename, data)
    header: list[Any] | None = None
    mapping: dict[int, Column] = {}
    errors: list[RowError] = []
    grouped: dict[str, _OrderRows] = {}
    rows = 0
    for number, raw in table:
        if header is None:
            if not any(_text(c) for c in raw):
                continue
            header = raw
            mapping, errors = _map_header(header)
            if errors:
                return ParsedFile([], errors, 0, 0)
            continue
        if not any(_text(c) for c in raw):
            continue
        rows += 1
        cells = {col.key: raw[i] if i < len(raw) else None for i, col in mapping.items()}
        order_id = _text(cells.get("order_id"))
        if not order_id:
            errors.append(RowError(number, "订单号", "必填", "Required"))
            continue
        grouped.setdefault(order_id, _OrderRows(order_id)).lines.append(_Line(number, cells))
    if header is None:
        raise FileRejected("文件是空的", "The file is empty")

    orders: list[tuple[OrderIn, list[int]]] = []
    for group in grouped.values():
        built, problems = _build_order(group, zone)
        errors.extend(replace(e, order_id=group.order_id) for e in problems)
        if built is not None:
            orders.append((built, [ln.row for ln in group.lines]))
    errors.sort(key=lambda e: e.row)
    return ParsedFile(orders, errors, rows, len(grouped))


def _build_order(group: _OrderRows, zone: ZoneInfo) -> tuple[OrderIn | None, list[RowError]]:
    errors: list[RowError] = []
    first = group.lines[0]

    def cell(line: _Line, key: str, parse: Any = _text, *, required: bool = False) -> Any:
        value = line.cells.get(key)
        if value is None or _text(value) == "":
            if required or BY_KEY[key].required:
                errors.append(RowError(line.row, BY_KEY[key].header, "必填", "Required"))
            return None
        try:
            return parse(value)
        except _CellError as exc:
            errors.append(RowError(line.row, BY_KEY[key].header, exc.zh, exc.en))
            return None

    # The order's own columns must agree on every line of the order.
    for line in group.lines[1:]:
        for column in COLUMNS:
            if column.per_order and column.key != "order_id":
                a, b = _text(first.cells.get(column.key)), _text(line.cells.get(column.key))
                if a != b:
                    errors.append(
                        RowError(
                            line.row,
                            column.header,
                            f"与第 {first.row} 行同一订单的值不一致（{a or '空'} ≠ {b or '空'}）",
                            "Differs from the order's first row",
                        )
                    )

    placed_at = cell(first, "placed_at", lambda v: _when(v, zone))
    paid_at = cell(first, "paid_at", lambda v: _when(v, zone))
    updated_at = cell(first, "updated_at", lambda v: _when(v, zone))
    status = cell(first, "status", _status)
    shipping = cell(first, "shipping_fee", _money) or Decimal("0")
    items: list[dict[str, Any]] = []
    for line in group.lines:
        quantity = cell(line, "quantity", _quantity)
        price = cell(line, "unit_price", _money)
        paid = cell(line, "paid", _money)
        title = cell(line, "title")
        if quantity is None or price is None or title is None:
            continue
        items.append(
            {
                "external_id": cell(line, "item_id") or None,
                "product_external_id": cell(line, "product_code") or None,
                "sku_external_id": cell(line, "sku_code") or None,
                "title": title,
                "sku_desc": cell(line, "spec") or "",
                "quantity": quantity,
                "unit_price": price,
                "paid_amount": paid if paid is not None else price * quantity,
            }
        )
    if errors or placed_at is None or status is None:
        return None, errors

    goods = sum((i["unit_price"] * i["quantity"] for i in items), Decimal("0"))
    paid_goods = sum((i["paid_amount"] for i in items), Decimal("0"))
    buyer_name = cell(first, "buyer_name") or ""
    phone = cell(first, "phone") or ""
    payload: dict[str, Any] = {
        "external_id": group.order_id,
        "status": status,
        "customer_external_id": cell(first, "buyer_id") or None,
        "buyer": {"name": buyer_name, "phone": phone or None} if buyer_name or phone else None,
        "total_amount": goods + shipping,
        "shipping_fee": shipping,
        "discount_amount": max(goods - paid_goods, Decimal("0")),
        "paid_amount": Decimal("0") if status in _UNPAID else paid_goods + shipping,
        "receiver": {
            "name": cell(first, "receiver_name") or buyer_name,
            "phone": phone,
            "province": cell(first, "province") or "",
            "city": cell(first, "city") or "",
            "district": cell(first, "district") or "",
            "detail": cell(first, "detail") or "",
        },
        "buyer_message": cell(first, "buyer_message") or "",
        "seller_memo": cell(first, "seller_memo") or "",
        "placed_at": placed_at,
        "paid_at": paid_at,
        "items": items,
        "updated_at": updated_at or max(t for t in (placed_at, paid_at) if t is not None),
    }
    try:
        return OrderIn.model_validate(payload), []
    except ValidationError as exc:
        return None, [_row_error(group, e) for e in field_errors(list(exc.errors()))]


# Payload fields → the column a person should look at.
_FIELD_COLUMNS = {
    "buyer.phone": "phone",
    "receiver.phone": "phone",
    "receiver.name": "receiver_name",
    "receiver.province": "province",
    "receiver.city": "city",
    "receiver.district": "district",
    "receiver.detail": "detail",
    "buyer.name": "buyer_name",
    "customer_external_id": "buyer_id",
    "external_id": "order_id",
    "buyer_message": "buyer_message",
    "seller_memo": "seller_memo",
    "sku_desc": "spec",
    "title": "title",
    "external_id@item": "item_id",
    "sku_external_id": "sku_code",
    "product_external_id": "product_code",
    "items": "title",
}


def _row_error(group: _OrderRows, error: dict[str, Any]) -> RowError:
    path = error["field"]
    row = group.lines[0].row
    parts = path.split(".")
    if parts[0] == "items" and len(parts) >= 3 and parts[1].isdigit():
        index = int(parts[1])
        row = group.lines[index].row if index < len(group.lines) else row
        key = "external_id@item" if parts[2] == "external_id" else parts[2]
    else:
        key = path
    column = BY_KEY[_FIELD_COLUMNS[key]].header if key in _FIELD_COLUMNS else path
    return RowError(row, column, error["message_zh"], error["message_en"])


# =========================================================================== importing


async def import_order_file(
    session: AsyncSession,
    actor: Actor,
    store: Store,
    filename: str,
    data: bytes,
    *,
    skip_invalid: bool = False,
) -> ImportReport:
    """Parse and import an order file; see the module docstring for the all-or-nothing rule.
    A file that cannot be read at all is reported as one error on row 0."""
    report = ImportReport()
    settings = get_settings()
    if len(data) > settings.upload_max_bytes:
        limit_mb = settings.upload_max_bytes // (1024 * 1024)
        report.errors.append(
            RowError(
                0, "", f"文件太大（最大 {limit_mb} MB）", f"File too large (max {limit_mb} MB)"
            )
        )
        return report
    try:
        parsed = parse_orders(filename, data, store.timezone)
    except FileRejected as exc:
        report.errors.append(RowError(0, "", exc.zh, exc.en))
        return report
    report.rows, report.errors, report.orders = parsed.rows, parsed.errors, parsed.order_count
    if parsed.errors and not skip_invalid:
        return report
    # An order with a bad row was never built, so `parsed.orders` holds only whole orders.
    valid = [order for order, _rows in parsed.orders]
    report.skipped_orders = sorted({e.order_id for e in parsed.errors if e.order_id})
    rows, errors = parsed.rows, parsed.errors
    batch = settings.import_batch_max
    for start in range(0, len(valid), batch):
        chunk = list(enumerate(valid[start : start + batch], start))
        for result in await import_orders(session, actor, store, chunk, audit="batch"):
            report.counts[result.outcome.value] += 1
    report.imported = True
    await record_audit(
        session, actor, "order.file_import", "store", store.id,
        after={"file": filename[:200], "rows": rows, "errors": len(errors),
               "skip_invalid": skip_invalid, **report.counts},
        store_id=store.id, only_changes=False,
    )  # fmt: skip
    return report


TEMPLATE_ROWS = (
    (
        "T20261120001", "2026-11-20 14:30:00", "2026-11-20 14:31:05", "待发货", "tb_zhangsan",
        "张三", "张三", "13812345678", "浙江省", "杭州市", "西湖区", "文三路 100 号 3 幢 201",
        "T20261120001-1", "P1001", "P1001-RED-M", "纯棉连衣裙", "红色 M", "1", "199.00",
        "189.00", "8.00", "请尽快发货", "", "2026-11-20 14:31:05",
    ),
    (
        "T20261120001", "2026-11-20 14:30:00", "2026-11-20 14:31:05", "待发货", "tb_zhangsan",
        "张三", "张三", "13812345678", "浙江省", "杭州市", "西湖区", "文三路 100 号 3 幢 201",
        "T20261120001-2", "P2002", "P2002-3PK", "棉袜 3 双装", "均码", "2", "25.00",
        "50.00", "8.00", "请尽快发货", "", "2026-11-20 14:31:05",
    ),
)  # fmt: skip


def template_csv() -> bytes:
    """The downloadable template: every column header and one two-line example order.
    UTF-8 with a BOM so that Excel opens the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.header for c in COLUMNS])
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue().encode("utf-8-sig")
