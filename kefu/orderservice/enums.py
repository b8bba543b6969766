"""States of the order-service work items, with their (Chinese, English) labels."""

from __future__ import annotations

from enum import StrEnum


class FlagKind(StrEnum):
    duplicate_purchase = "duplicate_purchase"
    merge_shipments = "merge_shipments"


class FlagStatus(StrEnum):
    open = "open"
    # duplicate_purchase outcomes
    confirmed_intended = "confirmed_intended"
    cancelled_duplicate = "cancelled_duplicate"
    # merge_shipments outcomes
    merged = "merged"
    declined = "declined"


DUPLICATE_OUTCOMES = frozenset({FlagStatus.confirmed_intended, FlagStatus.cancelled_duplicate})
MERGE_OUTCOMES = frozenset({FlagStatus.merged, FlagStatus.declined})


class StockoutChoice(StrEnum):
    wait = "wait"
    # Not `replace`: that would shadow str.replace.
    swap = "replace"
    refund = "refund"


class AddressStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    changed = "changed"
    no_answer = "no_answer"


LABELS: dict[str, tuple[str, str]] = {
    FlagKind.duplicate_purchase: ("重复购买", "Duplicate purchase"),
    FlagKind.merge_shipments: ("合并发货", "Merge shipments"),
    FlagStatus.open: ("待处理", "Open"),
    FlagStatus.confirmed_intended: ("买家确认要多份", "Intended by the buyer"),
    FlagStatus.cancelled_duplicate: ("已取消重复订单", "Duplicate cancelled"),
    FlagStatus.merged: ("已合并发货", "Merged"),
    FlagStatus.declined: ("不合并", "Not merged"),
    StockoutChoice.wait: ("等待补货", "Wait for restock"),
    StockoutChoice.swap: ("更换商品", "Replace"),
    StockoutChoice.refund: ("退款", "Refund"),
    AddressStatus.pending: ("待确认", "To confirm"),
    AddressStatus.confirmed: ("地址无误", "Confirmed"),
    AddressStatus.changed: ("已修改地址", "Changed"),
    AddressStatus.no_answer: ("买家未回复", "No answer"),
}
