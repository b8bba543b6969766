"""Ticket tables.

A ticket caches what lists need (status, priority, assignee, SLA due times) in columns; its
history is the append-only `ticket_messages` (customer messages, replies, internal notes and
system events) plus `ticket_transitions`. The SLA clock lives in the database:
`sla_due_at` is the earliest running target and `breach_notified_at` records that the sweep
acted on it, so the sweep can claim due rows with one UPDATE … RETURNING and a restart loses
nothing. Conversations are referenced by id only (no foreign key): that domain may change its
tables without migrating ours.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    Column,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, IdMixin, JsonType, TimestampMixin, utcnow

Money = Numeric(12, 2)
# The search vector is a real tsvector on PostgreSQL; SQLite keeps the text in FTS5 instead
# (see kefu.tickets.search) and leaves this column empty.
SearchVector = TSVECTOR().with_variant(Text(), "sqlite")


_OPEN_SQL = "status IN ('new', 'open', 'pending_customer', 'pending_internal')"


def _fk(target: str, ondelete: str = "CASCADE") -> Any:
    return ForeignKey(target, ondelete=ondelete)


class TicketType(IdMixin, TimestampMixin, Base):
    """咨询, 投诉, 退换货 … plus the shop's own; `fields` defines its custom fields."""

    __tablename__ = "ticket_types"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60), default="")
    # [{"key": "invoice_title", "label": "发票抬头", "required": true}, ...]
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    default_group_id: Mapped[int | None] = mapped_column(BigId, _fk("groups.id", "SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)
    sort: Mapped[int] = mapped_column(default=0)


class TicketCategory(IdMixin, Base):
    """A node of the category tree (e.g. 物流 › 延迟 › 中转滞留)."""

    __tablename__ = "ticket_categories"

    parent_id: Mapped[int | None] = mapped_column(BigId, _fk("ticket_categories.id"))
    name: Mapped[str] = mapped_column(String(60))
    sort: Mapped[int] = mapped_column(default=0)


class Ticket(IdMixin, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_assignee_status", "assignee_id", "status", "created_at"),
        Index("ix_tickets_group_status", "group_id", "status", "created_at"),
        Index("ix_tickets_type_status", "type_code", "status", "created_at"),
        Index("ix_tickets_priority_status", "priority", "status", "created_at"),
        Index("ix_tickets_customer_created", "customer_id", "created_at"),
        Index("ix_tickets_conversation", "conversation_id"),
        # Newest-first lists: all tickets, and (partial) only the open ones, so the default
        # view walks an index instead of sorting every open ticket.
        Index("ix_tickets_created", "created_at", "id"),
        Index(
            "ix_tickets_open_created",
            "created_at",
            "id",
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
        # jsonb containment (`tags @> '["加急"]'`) for the tag filter; PostgreSQL only.
        Index(
            "ix_tickets_tags",
            "tags",
            postgresql_using="gin",
            postgresql_ops={"tags": "jsonb_path_ops"},
        ),
        # The sweep's claim: only rows still to be acted upon are in these indexes.
        Index(
            "ix_tickets_sla_due_pending",
            "sla_due_at",
            postgresql_where=text("breach_notified_at IS NULL"),
            sqlite_where=text("breach_notified_at IS NULL"),
        ),
        Index(
            "ix_tickets_sla_warn_pending",
            "sla_warn_at",
            postgresql_where=text("sla_warned_at IS NULL"),
            sqlite_where=text("sla_warned_at IS NULL"),
        ),
    )

    number: Mapped[str] = mapped_column(String(24), unique=True)
    store_id: Mapped[int | None] = mapped_column(BigId, _fk("stores.id", "SET NULL"))
    customer_id: Mapped[int | None] = mapped_column(BigId, _fk("customers.id", "SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    type_code: Mapped[str] = mapped_column(String(40), default="inquiry")
    category_id: Mapped[int | None] = mapped_column(BigId, _fk("ticket_categories.id", "SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="new")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    tags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    source: Mapped[str] = mapped_column(String(20), default="agent")
    # For customers without a customer record (web form, offline message, email).
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    customer_tier: Mapped[str] = mapped_column(String(10), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    group_id: Mapped[int | None] = mapped_column(BigId, _fk("groups.id", "SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))

    # --- SLA clock (see kefu.tickets.sla) ---
    sla_policy_id: Mapped[int | None] = mapped_column(BigId, _fk("sla_policies.id", "SET NULL"))
    first_response_due_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    next_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    sla_due_at: Mapped[datetime | None]
    sla_due_kind: Mapped[str | None] = mapped_column(String(20))
    sla_warn_at: Mapped[datetime | None]
    sla_warned_at: Mapped[datetime | None]
    sla_paused_at: Mapped[datetime | None]
    breach_notified_at: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(default=False)
    escalation_level: Mapped[int] = mapped_column(default=0)

    last_customer_message_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    is_high_risk: Mapped[bool] = mapped_column(default=False)
    is_repeat: Mapped[bool] = mapped_column(default=False)


ticket_orders = Table(
    "ticket_orders",
    Base.metadata,
    Column("ticket_id", BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("order_id", BigId, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_ticket_orders_order", "order_id"),
)

ticket_watchers = Table(
    "ticket_watchers",
    Base.metadata,
    Column("ticket_id", BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class TicketMessage(IdMixin, Base):
    """One entry of a ticket's timeline. kind: customer | reply | note | event."""

    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_at", "ticket_id", "created_at"),)

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"))
    kind: Mapped[str] = mapped_column(String(12))
    author_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    author_name: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    mentions: Mapped[list[int]] = mapped_column(JsonType, default=list)
    # Where a copied conversation message came from (plain id; see module docstring).
    external_ref: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketTransition(IdMixin, Base):
    __tablename__ = "ticket_transitions"

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None]
    actor_name: Mapped[str] = mapped_column(String(120), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketTask(IdMixin, TimestampMixin, Base):
    """A sub-task handed to a department (物流, 仓储, 技术, 财务) with its own owner and due."""

    __tablename__ = "ticket_tasks"

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[int | None] = mapped_column(BigId, _fk("groups.id", "SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(10), default="open")
    done_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(20), default="handoff")  # handoff | follow_up
    outcome: Mapped[str] = mapped_column(Text, default="")
    satisfied: Mapped[bool | None]


class SavedView(IdMixin, TimestampMixin, Base):
    """A named filter of the ticket list; owner None means shared with the team."""

    __tablename__ = "ticket_saved_views"

    owner_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id"))
    name: Mapped[str] = mapped_column(String(60))
    filters: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class SlaPolicy(IdMixin, TimestampMixin, Base):
    """Targets in minutes for tickets that match priority × customer tier × type (None = any).

    The most specific matching policy wins (see sla.match_policy).
    """

    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(80))
    priority: Mapped[str | None] = mapped_column(String(10))
    customer_tier: Mapped[str | None] = mapped_column(String(10))
    type_code: Mapped[str | None] = mapped_column(String(40))
    first_response_minutes: Mapped[int] = mapped_column(default=240)
    next_response_minutes: Mapped[int] = mapped_column(default=480)
    resolution_minutes: Mapped[int] = mapped_column(default=1440)
    business_hours: Mapped[bool] = mapped_column(default=True)
    warn_ratio: Mapped[float] = mapped_column(default=0.8)
    # What the sweep does on breach.
    notify_supervisors: Mapped[bool] = mapped_column(default=True)
    raise_priority: Mapped[bool] = mapped_column(default=False)
    escalate_group_id: Mapped[int | None] = mapped_column(BigId, _fk("groups.id", "SET NULL"))
    is_active: Mapped[bool] = mapped_column(default=True)


class CalendarDay(Base):
    """A holiday (放假) or an adjusted working day (调休上班) of the shop's calendar."""

    __tablename__ = "ticket_calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # holiday | workday
    name: Mapped[str] = mapped_column(String(40), default="")


class TicketSettings(Base):
    """One row (id 1) of shop-wide ticket settings; defaults are written on first use."""

    __tablename__ = "ticket_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class TicketNumberCounter(Base):
    """The last number given out per day and prefix; bumped with an atomic upsert."""

    __tablename__ = "ticket_number_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Complaint(IdMixin, TimestampMixin, Base):
    """The complaint record of a 投诉 ticket (one per ticket)."""

    __tablename__ = "ticket_complaints"

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"), unique=True)
    severity: Mapped[str] = mapped_column(String(10), default="minor")
    responsibility: Mapped[str] = mapped_column(String(20), default="undetermined")
    root_cause: Mapped[str] = mapped_column(String(20), default="other")
    customer_expectation: Mapped[str] = mapped_column(Text, default="")
    risk_words: Mapped[list[str]] = mapped_column(JsonType, default=list)
    repeat_of_ticket_id: Mapped[int | None] = mapped_column(BigId, _fk("tickets.id", "SET NULL"))


class Compensation(IdMixin, TimestampMixin, Base):
    __tablename__ = "ticket_compensations"
    __table_args__ = (Index("ix_ticket_compensations_status", "status"),)

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)  # value in yuan (points count as ¥0.01)
    description: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    required_role: Mapped[str] = mapped_column(String(20), default="agent")
    proposed_by_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(BigId, _fk("users.id", "SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(String(300), default="")


class TicketSearch(Base):
    """Pre-segmented text of a ticket (subject, description, messages, notes) for search."""

    __tablename__ = "ticket_search"
    __table_args__ = (Index("ix_ticket_search_tsv", "tsv", postgresql_using="gin"),)

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"), primary_key=True)
    content: Mapped[str] = mapped_column(Text, default="")
    tsv: Mapped[Any] = mapped_column(SearchVector, nullable=True)


class CsatResponse(IdMixin, Base):
    __tablename__ = "ticket_csat"
    __table_args__ = (UniqueConstraint("ticket_id"),)

    ticket_id: Mapped[int] = mapped_column(BigId, _fk("tickets.id"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# SQLite's full-text index: FTS5 over the same pre-segmented text, rowid = ticket id. Created
# with the search table so `create_all` (tests, `kefu db upgrade` on SQLite) gets both.
event.listen(
    TicketSearch.__table__,
    "after_create",
    DDL(
        "CREATE VIRTUAL TABLE IF NOT EXISTS ticket_fts USING fts5(content, tokenize='unicode61')"
    ).execute_if(dialect="sqlite"),
)
