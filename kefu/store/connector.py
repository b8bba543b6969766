"""The store connector: the one interface through which Kefu changes an order in the shop.

After-sales, the bot and the order pages never touch order tables to cancel, refund or
reship; they call `get_connector(session, store)` and one of the `StoreConnector` methods.
A connector for a real platform (Taobao, JD, …) would call the platform's API; the built-in
`LocalConnector` applies the action to Kefu's own tables, which is right for a shop whose
system of record is Kefu, for the demo, and for tests.

Every action checks the order-state rules of DOMAIN.md §2 first and explains a refusal in
Chinese and English (`ActionRefused`, HTTP 409). Successful actions are audited with the
values before and after and announce themselves on `store:{id}` after commit.

Refunds are idempotent by `idempotency_key`: a retried key returns the first refund and never
pays twice; the amount can never exceed what was paid minus what was already refunded, which
is enforced by a single conditional UPDATE so two concurrent refunds cannot both pass.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.audit import Actor, record_audit
from kefu.core.db import utcnow
from kefu.core.errors import Conflict, Invalid, KefuError, NotFound
from kefu.core.events import queue_event
from kefu.core.masking import mask_address_detail, mask_name, mask_phone
from kefu.store.enums import CLOSED, NOT_SHIPPED, ORDER_STATUS_LABELS, OrderStatus, RefundStatus
from kefu.store.models import Order, OrderItem, OrderNote, Refund, Shipment, Store

CENT = Decimal("0.01")


class ActionRefused(KefuError):
    """The order's state does not allow the action; the message says why."""

    status, code = 409, "action_refused"
    zh, en = "当前订单状态不允许此操作", "The order's state does not allow this"


@dataclass(frozen=True)
class NewAddress:
    receiver_name: str
    phone: str
    province: str
    city: str
    district: str
    detail: str

    def validate(self) -> None:
        missing = [
            name
            for name, label in (
                ("receiver_name", "收货人"),
                ("phone", "手机"),
                ("province", "省"),
                ("city", "市"),
                ("detail", "详细地址"),
            )
            if not getattr(self, name).strip()
        ]
        if missing:
            raise Invalid(
                "新地址不完整：请填写收货人、手机、省、市和详细地址",
                f"The new address is incomplete: {', '.join(missing)}",
            )


@dataclass(frozen=True)
class ActionResult:
    """What a connector did, in words a person can read, plus machine-readable data."""

    action: str
    order_id: int
    message_zh: str
    message_en: str
    data: dict[str, Any] = field(default_factory=dict)
    # True when an idempotent retry found the action already done.
    replayed: bool = False


@runtime_checkable
class StoreConnector(Protocol):
    async def cancel_order(self, order_id: int, *, reason: str, actor: Actor) -> ActionResult: ...

    async def change_address(
        self, order_id: int, address: NewAddress, *, actor: Actor
    ) -> ActionResult: ...

    async def add_note(self, order_id: int, body: str, *, actor: Actor) -> ActionResult: ...

    async def refund(
        self,
        order_id: int,
        amount: Decimal,
        *,
        reason: str,
        idempotency_key: str,
        actor: Actor,
        item_id: int | None = None,
    ) -> ActionResult: ...

    async def reship(
        self,
        order_id: int,
        *,
        reason: str,
        actor: Actor,
        carrier: str = "",
        tracking_no: str = "",
    ) -> ActionResult: ...


def _label(status: str) -> str:
    try:
        return ORDER_STATUS_LABELS[OrderStatus(status)][0]
    except ValueError:
        return status


def _label_en(status: str) -> str:
    try:
        return ORDER_STATUS_LABELS[OrderStatus(status)][1]
    except ValueError:
        return status


def _address_view(order: Order) -> dict[str, Any]:
    return {
        "receiver_name": mask_name(order.receiver_name),
        "receiver_phone": mask_phone(order.receiver_phone),
        "province": order.province,
        "city": order.city,
        "district": order.district,
        # Masked, with a short fingerprint so the audit shows that the street part changed.
        "address_detail": mask_address_detail(order.address_detail)
        + " #"
        + hashlib.sha256(order.address_detail.encode()).hexdigest()[:6],
    }


class LocalConnector:
    """Applies actions to Kefu's own order tables (the shop's system of record is Kefu)."""

    def __init__(self, session: AsyncSession, store: Store) -> None:
        self.session = session
        self.store = store

    # ------------------------------------------------------------------ helpers

    async def _order(self, order_id: int, *, lock: bool = True) -> Order:
        stmt = select(Order).where(Order.id == order_id, Order.store_id == self.store.id)
        if lock:
            stmt = stmt.with_for_update()
        order = await self.session.scalar(stmt)
        if order is None:
            raise NotFound("订单不存在", "Order not found")
        return order

    def _emit(self, kind: str, order: Order, **data: Any) -> None:
        queue_event(
            self.session,
            f"store:{self.store.id}",
            {"type": f"order.{kind}", "store_id": self.store.id, "order_id": order.id, **data},
        )

    def _refuse_unless_not_shipped(self, order: Order, action_zh: str, action_en: str) -> None:
        if order.status not in NOT_SHIPPED:
            raise ActionRefused(
                f"订单{_label(order.status)}，不能{action_zh}：只有未发货（等待付款或待发货）"
                "的订单可以" + action_zh,
                f"The order is {_label_en(order.status).lower()}; only orders not yet shipped "
                f"can be {action_en}",
            )

    # ------------------------------------------------------------------ actions

    async def cancel_order(self, order_id: int, *, reason: str, actor: Actor) -> ActionResult:
        """Unpaid → closed (TRADE_CLOSED_BY_TAOBAO); paid, not shipped → refunded in full and
        closed (TRADE_CLOSED). Shipped orders go through after-sales instead."""
        order = await self._order(order_id)
        self._refuse_unless_not_shipped(order, "取消", "cancelled")
        before = {"status": order.status, "refunded_amount": order.refunded_amount}
        refund: Refund | None = None
        now = utcnow()
        remaining = order.paid_amount - order.refunded_amount
        if order.status == OrderStatus.WAIT_BUYER_PAY or remaining <= 0:
            order.status = OrderStatus.TRADE_CLOSED_BY_TAOBAO.value
        else:
            refund = Refund(
                order_id=order.id,
                amount=remaining,
                reason=reason or "取消订单",
                idempotency_key=f"cancel:{order.id}",
                status=RefundStatus.SUCCESS.value,
                created_at=now,
            )
            self.session.add(refund)
            order.refunded_amount = order.paid_amount
            order.status = OrderStatus.TRADE_CLOSED.value
        order.closed_at = now
        await self.session.flush()
        after = {"status": order.status, "refunded_amount": order.refunded_amount}
        await record_audit(
            self.session, actor, "order.cancel", "order", order.id,
            before=before, after=after, store_id=self.store.id, reason=reason or None,
        )  # fmt: skip
        self._emit("cancelled", order, status=order.status)
        if refund is not None:
            return ActionResult(
                "cancel_order",
                order.id,
                f"订单已取消，已原路退款 ¥{remaining:.2f}",
                f"Order cancelled; ¥{remaining:.2f} refunded",
                {"status": order.status, "refund_id": refund.id, "refunded": str(remaining)},
            )
        return ActionResult(
            "cancel_order", order.id, "订单已取消", "Order cancelled", {"status": order.status}
        )

    async def change_address(
        self, order_id: int, address: NewAddress, *, actor: Actor
    ) -> ActionResult:
        address.validate()
        order = await self._order(order_id)
        self._refuse_unless_not_shipped(order, "修改地址", "re-addressed")
        before = _address_view(order)
        order.receiver_name = address.receiver_name.strip()
        order.receiver_phone = address.phone.strip()
        order.province = address.province.strip()
        order.city = address.city.strip()
        order.district = address.district.strip()
        order.address_detail = address.detail.strip()
        await self.session.flush()
        await record_audit(
            self.session, actor, "order.change_address", "order", order.id,
            before=before, after=_address_view(order), store_id=self.store.id,
        )  # fmt: skip
        self._emit("address_changed", order)
        where = f"{order.province}{order.city}{order.district}"
        return ActionResult(
            "change_address",
            order.id,
            f"收货地址已改为：{where}（{mask_name(order.receiver_name)}）",
            f"Address changed to {where}",
        )

    async def add_note(self, order_id: int, body: str, *, actor: Actor) -> ActionResult:
        text = body.strip()
        if not text:
            raise Invalid("备注不能为空", "The note is empty")
        if len(text) > 2000:
            raise Invalid("备注最多 2000 字", "At most 2000 characters")
        order = await self._order(order_id, lock=False)
        note = OrderNote(
            order_id=order.id, author=actor.name or actor.kind, body=text, created_at=utcnow()
        )
        self.session.add(note)
        await self.session.flush()
        await record_audit(
            self.session, actor, "order.add_note", "order", order.id,
            after={"note_id": note.id, "body": text}, store_id=self.store.id,
        )  # fmt: skip
        self._emit("note_added", order, note_id=note.id)
        return ActionResult("add_note", order.id, "备注已添加", "Note added", {"note_id": note.id})

    async def refund(
        self,
        order_id: int,
        amount: Decimal,
        *,
        reason: str,
        idempotency_key: str,
        actor: Actor,
        item_id: int | None = None,
    ) -> ActionResult:
        key = idempotency_key.strip()
        if not key or len(key) > 80:
            raise Invalid("缺少幂等键（idempotency_key）", "An idempotency_key is required")
        amount = Decimal(amount)
        if amount <= 0 or amount != amount.quantize(CENT):
            raise Invalid("退款金额须大于 0 且最多两位小数", "Refund must be > 0 with 2 decimals")
        # A retry: return the first refund, pay nothing.
        done = await self.session.scalar(select(Refund).where(Refund.idempotency_key == key))
        if done is not None:
            return self._replayed(done, order_id, amount, item_id)
        order = await self._order(order_id)
        if order.status in (OrderStatus.WAIT_BUYER_PAY, OrderStatus.TRADE_CLOSED_BY_TAOBAO):
            raise ActionRefused(
                f"订单{_label(order.status)}，买家尚未付款，无需退款",
                "The buyer has not paid; nothing to refund",
            )
        item: OrderItem | None = None
        if item_id is not None:
            item = await self.session.scalar(
                select(OrderItem).where(OrderItem.id == item_id, OrderItem.order_id == order.id)
            )
            if item is None:
                raise NotFound("该订单中没有这个商品", "No such item in this order")
            item_refunded = sum(
                (
                    r.amount
                    for r in await self.session.scalars(
                        select(Refund).where(Refund.order_item_id == item.id)
                    )
                ),
                Decimal("0"),
            )
            if amount > item.paid_amount - item_refunded:
                raise ActionRefused(
                    f"退款金额 ¥{amount:.2f} 超过该商品可退金额 "
                    f"¥{item.paid_amount - item_refunded:.2f}（实付 ¥{item.paid_amount:.2f}，"
                    f"已退 ¥{item_refunded:.2f}）",
                    f"¥{amount:.2f} exceeds the item's refundable "
                    f"¥{item.paid_amount - item_refunded:.2f}",
                )
        refundable = order.paid_amount - order.refunded_amount
        before = {"status": order.status, "refunded_amount": order.refunded_amount}
        # The guard lives in the UPDATE itself so concurrent refunds cannot overdraw.
        updated = await self.session.execute(
            update(Order)
            .where(Order.id == order.id, Order.refunded_amount + amount <= Order.paid_amount)
            .values(refunded_amount=Order.refunded_amount + amount)
            .execution_options(synchronize_session=False)
        )
        if updated.rowcount != 1:  # type: ignore[attr-defined]
            raise ActionRefused(
                f"退款金额 ¥{amount:.2f} 超过可退金额 ¥{refundable:.2f}"
                f"（实付 ¥{order.paid_amount:.2f}，已退 ¥{order.refunded_amount:.2f}）",
                f"¥{amount:.2f} exceeds the refundable ¥{refundable:.2f}",
            )
        refund = Refund(
            order_id=order.id,
            order_item_id=item.id if item else None,
            amount=amount,
            reason=reason[:200],
            idempotency_key=key,
            status=RefundStatus.SUCCESS.value,
            created_at=utcnow(),
        )
        try:
            async with self.session.begin_nested():
                self.session.add(refund)
        except IntegrityError:
            # The same key won a race in another transaction; ours must not pay.
            raise Conflict(
                "相同的退款请求正在处理，请稍后刷新查看", "The same refund is being processed"
            ) from None
        await self.session.refresh(order)
        if item is not None:
            item.refund_status = RefundStatus.SUCCESS.value
        if order.refunded_amount >= order.paid_amount and order.status not in CLOSED:
            order.status = OrderStatus.TRADE_CLOSED.value
            order.closed_at = utcnow()
        await self.session.flush()
        after = {"status": order.status, "refunded_amount": order.refunded_amount}
        await record_audit(
            self.session, actor, "order.refund", "order", order.id,
            before=before, after=after, store_id=self.store.id, reason=reason or None,
        )  # fmt: skip
        self._emit("refunded", order, refund_id=refund.id, amount=str(amount))
        left = order.paid_amount - order.refunded_amount
        return ActionResult(
            "refund",
            order.id,
            f"已退款 ¥{amount:.2f}，订单剩余可退 ¥{left:.2f}",
            f"Refunded ¥{amount:.2f}; ¥{left:.2f} left refundable",
            {"refund_id": refund.id, "amount": str(amount), "status": order.status},
        )

    def _replayed(
        self, done: Refund, order_id: int, amount: Decimal, item_id: int | None
    ) -> ActionResult:
        if done.order_id != order_id or done.amount != amount or done.order_item_id != item_id:
            raise Conflict(
                "该幂等键已用于另一笔不同的退款", "This idempotency key was used for another refund"
            )
        return ActionResult(
            "refund",
            order_id,
            f"该退款已处理过（¥{done.amount:.2f}），未重复退款",
            f"Already refunded ¥{done.amount:.2f}; nothing paid twice",
            {"refund_id": done.id, "amount": str(done.amount)},
            replayed=True,
        )

    async def reship(
        self,
        order_id: int,
        *,
        reason: str,
        actor: Actor,
        carrier: str = "",
        tracking_no: str = "",
    ) -> ActionResult:
        """补发: a new pending shipment; the warehouse fills in carrier and tracking number."""
        order = await self._order(order_id)
        if order.status in NOT_SHIPPED:
            raise ActionRefused(
                f"订单{_label(order.status)}，尚未发货，无需补发",
                "The order has not shipped yet; nothing to reship",
            )
        if order.status in CLOSED:
            raise ActionRefused(
                f"订单{_label(order.status)}，不能补发", "The order is closed; cannot reship"
            )
        count = len(
            (
                await self.session.scalars(select(Shipment.id).where(Shipment.order_id == order.id))
            ).all()
        )
        shipment = Shipment(
            order_id=order.id,
            carrier=carrier.strip() or "待定",
            tracking_no=tracking_no.strip() or f"补发-{order.order_no}-{count + 1}",
            status="pending",
        )
        self.session.add(shipment)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("该运单号已存在", "This tracking number already exists") from exc
        await record_audit(
            self.session, actor, "order.reship", "order", order.id,
            after={"shipment_id": shipment.id, "carrier": shipment.carrier,
                   "tracking_no": shipment.tracking_no},
            store_id=self.store.id, reason=reason or None,
        )  # fmt: skip
        self._emit("reshipped", order, shipment_id=shipment.id)
        return ActionResult(
            "reship",
            order.id,
            f"已创建补发单（{shipment.carrier} {shipment.tracking_no}），等待仓库发货",
            "Reshipment created; waiting for the warehouse",
            {"shipment_id": shipment.id},
        )


def get_connector(session: AsyncSession, store: Store) -> StoreConnector:
    """The connector for `store`. Only the local one exists today; a platform connector
    would be chosen by `store.settings["connector"]`."""
    return LocalConnector(session, store)
