"""Request-scoped dependencies shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core.db import Database


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in get_database(request).session():
        yield session


# scope="function": the transaction commits when the route returns, BEFORE the response is
# sent. With FastAPI's default ("request") the client could get its 303/201 before the commit
# (a signed-out cookie still working for a moment, a reply not yet readable) and a failing
# commit would follow a success answer.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
