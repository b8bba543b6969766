"""JSON routes under /api/v1/tickets. Thin: parse, call the service, shape the answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from kefu.accounts.deps import Principal, Require
from kefu.accounts.permissions import Permission
from kefu.core.deps import DbSession
from kefu.tickets import complaints, service
from kefu.tickets.models import Ticket
from kefu.tickets.schemas import (
    AssignIn,
    BulkIn,
    CompensationIn,
    CompensationOut,
    ComplaintIn,
    CustomerReplyIn,
    DecisionIn,
    MessageOut,
    NoteIn,
    ReplyIn,
    TaskIn,
    TicketCreate,
    TicketDetailOut,
    TicketFilters,
    TicketOut,
    TicketPage,
    TicketUpdate,
    TransitionIn,
)

router = APIRouter(prefix="/tickets", tags=["tickets"])

Reader = Annotated[Principal, Require(Permission.tickets_read)]
Writer = Annotated[Principal, Require(Permission.tickets_read, Permission.tickets_write)]


async def _detail(session: DbSession, ticket: Ticket) -> TicketDetailOut:
    messages = await service.ticket_messages(session, ticket.id)
    out = TicketDetailOut.model_validate(ticket, from_attributes=True)
    out.order_ids = await service.order_ids(session, ticket.id)
    out.watcher_ids = await service.watcher_ids(session, ticket.id)
    out.messages = [MessageOut.model_validate(m) for m in messages]
    return out


@router.post("", status_code=201)
async def create_ticket(body: TicketCreate, session: DbSession, principal: Writer) -> TicketOut:
    ticket = await service.create_ticket(session, principal.actor, body, source="api")
    return TicketOut.model_validate(ticket)


@router.get("")
async def list_tickets(
    session: DbSession, principal: Reader, filters: Annotated[TicketFilters, Depends()]
) -> TicketPage:
    rows, has_more = await service.list_tickets(session, filters, user_id=principal.user.id)
    return TicketPage(
        items=[TicketOut.model_validate(t) for t in rows],
        page=filters.page,
        per_page=filters.per_page,
        has_more=has_more,
    )


@router.post("/bulk")
async def bulk(body: BulkIn, session: DbSession, principal: Writer) -> dict[str, Any]:
    result = await service.bulk_action(session, principal.actor, body)
    return {"done": result.done, "failed": {str(k): v for k, v in result.failed.items()}}


@router.get("/{ticket_id}")
async def get_ticket(ticket_id: int, session: DbSession, principal: Reader) -> TicketDetailOut:
    return await _detail(session, await service.get_ticket(session, ticket_id))


@router.patch("/{ticket_id}")
async def update_ticket(
    ticket_id: int, body: TicketUpdate, session: DbSession, principal: Writer
) -> TicketOut:
    ticket = await service.update_ticket(session, principal.actor, ticket_id, body)
    return TicketOut.model_validate(ticket)


@router.post("/{ticket_id}/transition")
async def transition(
    ticket_id: int, body: TransitionIn, session: DbSession, principal: Writer
) -> TicketOut:
    ticket = await service.transition(session, principal.actor, ticket_id, body.status, body.reason)
    return TicketOut.model_validate(ticket)


@router.post("/{ticket_id}/assign")
async def assign(
    ticket_id: int, body: AssignIn, session: DbSession, principal: Writer
) -> TicketOut:
    ticket = await service.assign(
        session, principal.actor, ticket_id, assignee_id=body.assignee_id, group_id=body.group_id
    )
    return TicketOut.model_validate(ticket)


@router.post("/{ticket_id}/notes", status_code=201)
async def add_note(
    ticket_id: int, body: NoteIn, session: DbSession, principal: Writer
) -> MessageOut:
    note = await service.add_note(session, principal.actor, ticket_id, body.body)
    return MessageOut.model_validate(note)


@router.post("/{ticket_id}/replies", status_code=201)
async def reply(ticket_id: int, body: ReplyIn, session: DbSession, principal: Writer) -> MessageOut:
    message = await service.reply_to_customer(
        session, principal.actor, ticket_id, body.body, status=body.status
    )
    return MessageOut.model_validate(message)


@router.post("/{ticket_id}/customer-replies", status_code=201)
async def customer_reply(
    ticket_id: int, body: CustomerReplyIn, session: DbSession, principal: Writer
) -> MessageOut:
    """For channel integrations: the customer wrote again about this ticket."""
    from kefu.core.audit import Actor

    actor = Actor("customer", None, "客户", principal.ip)
    message = await service.record_customer_reply(session, actor, ticket_id, body.body)
    return MessageOut.model_validate(message)


@router.post("/{ticket_id}/tasks", status_code=201)
async def add_task(
    ticket_id: int, body: TaskIn, session: DbSession, principal: Writer
) -> dict[str, Any]:
    task = await service.add_task(session, principal.actor, ticket_id, body)
    return {"id": task.id, "status": task.status, "due_at": task.due_at}


@router.put("/{ticket_id}/complaint")
async def update_complaint(
    ticket_id: int, body: ComplaintIn, session: DbSession, principal: Writer
) -> dict[str, Any]:
    c = await complaints.update_complaint(session, principal.actor, ticket_id, body)
    return {
        "severity": c.severity,
        "responsibility": c.responsibility,
        "root_cause": c.root_cause,
        "customer_expectation": c.customer_expectation,
        "risk_words": c.risk_words,
        "repeat_of_ticket_id": c.repeat_of_ticket_id,
    }


@router.post("/{ticket_id}/compensations", status_code=201)
async def propose_compensation(
    ticket_id: int, body: CompensationIn, session: DbSession, principal: Writer
) -> CompensationOut:
    comp = await complaints.propose_compensation(
        session, principal.actor, principal.user.role, ticket_id, body
    )
    return CompensationOut.model_validate(comp)


@router.post("/compensations/{compensation_id}/decision")
async def decide_compensation(
    compensation_id: int, body: DecisionIn, session: DbSession, principal: Writer
) -> CompensationOut:
    comp = await complaints.decide_compensation(
        session,
        principal.actor,
        principal.user.role,
        compensation_id,
        approve=body.approve,
        note=body.note,
    )
    return CompensationOut.model_validate(comp)
