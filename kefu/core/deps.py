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


DbSession = Annotated[AsyncSession, Depends(get_session)]
