"""Chinese full-text search over tickets, behind one pair of functions.

Text is segmented with jieba (kefu.nlp.segment, with the shop dictionary) before it reaches
the database, because neither database segments Chinese. Long words also contribute their
two-character pieces, so "破损" finds "外包装破损" even when jieba kept the longer word whole.
PostgreSQL stores `to_tsvector('simple', text)` in a GIN-indexed column; SQLite keeps the same
text in an FTS5 table. `reindex_ticket` writes both forms; `search_condition` returns a condition
on `Ticket.id` that the list query combines with its other filters.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.nlp.segment import segment
from kefu.tickets.models import Ticket, TicketMessage, TicketSearch

_CJK = re.compile(r"^[\u4e00-\u9fff]+$")


def index_terms(content: str) -> list[str]:
    terms: list[str] = []
    for token in segment(content):
        word = token.lower()
        terms.append(word)
        if len(word) >= 3 and _CJK.match(word):
            terms.extend(word[i : i + 2] for i in range(len(word) - 1))
    return terms


def query_terms(query: str) -> list[str]:
    seen: list[str] = []
    for token in segment(query):
        word = token.lower()
        if word not in seen:
            seen.append(word)
    return seen[:12]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def reindex_ticket(session: AsyncSession, ticket: Ticket) -> None:
    """Rebuild the ticket's search text from its subject, description and messages."""
    bodies = (
        await session.scalars(
            select(TicketMessage.body).where(
                TicketMessage.ticket_id == ticket.id, TicketMessage.kind != "event"
            )
        )
    ).all()
    content = " ".join(index_terms(" ".join([ticket.subject, ticket.description, *bodies])))
    await write_search_row(session, ticket.id, content)


async def write_search_row(session: AsyncSession, ticket_id: int, content: str) -> None:
    dialect = _dialect(session)
    await session.execute(delete(TicketSearch).where(TicketSearch.ticket_id == ticket_id))
    if dialect == "postgresql":
        session.add(
            TicketSearch(
                ticket_id=ticket_id, content=content, tsv=func.to_tsvector("simple", content)
            )
        )
    else:
        session.add(TicketSearch(ticket_id=ticket_id, content=content))
        await session.execute(text("DELETE FROM ticket_fts WHERE rowid = :id"), {"id": ticket_id})
        await session.execute(
            text("INSERT INTO ticket_fts(rowid, content) VALUES (:id, :content)"),
            {"id": ticket_id, "content": content},
        )
    await session.flush()


# Below this many matches the ids are fetched first and the list looks them up by key;
# above it, the list walks its newest-first index and checks each row against the search
# table, which finds a page quickly precisely because matches are common. Choosing here
# instead of leaving it to the planner keeps a rare word from walking the whole table.
DIRECT_IDS_LIMIT = 2000


def _match(dialect: str, terms: list[str]) -> Any:
    if dialect == "postgresql":
        return select(TicketSearch.ticket_id).where(
            TicketSearch.tsv.op("@@")(func.plainto_tsquery("simple", " ".join(terms)))
        )
    fts_query = " ".join('"' + t.replace('"', '""') + '"' for t in terms)
    return (
        select(literal_column("rowid"))
        .select_from(text("ticket_fts"))
        .where(text("ticket_fts MATCH :fts_q").bindparams(fts_q=fts_query))
    )


async def search_condition(session: AsyncSession, query: str) -> ColumnElement[bool] | None:
    """A condition on Ticket.id matching every word of `query`; None if it has no words."""
    terms = query_terms(query)
    if not terms:
        return None
    matches = _match(_dialect(session), terms)
    ids = list((await session.scalars(matches.limit(DIRECT_IDS_LIMIT + 1))).all())
    if len(ids) <= DIRECT_IDS_LIMIT:
        return Ticket.id.in_(ids)
    return Ticket.id.in_(matches)
