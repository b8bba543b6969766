"""Work held on a session until its transaction commits: events to publish, jobs to run.

Both must happen only once the change they describe is durable, and never if it is rolled
back. Savepoints (`session.begin_nested()`) need care: SQLAlchemy fires `after_commit` when a
savepoint is released too, which is not yet a commit, and rolling a savepoint back must drop
only what was queued inside it, not the rest of the transaction's work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, SessionTransaction


class AfterCommit:
    """A per-session buffer under `info[key]`, handed to `on_commit` after the real commit."""

    def __init__(self, key: str, on_commit: Callable[[list[Any]], None]) -> None:
        self.key = key
        self._marks_key = f"{key}_savepoints"
        self._on_commit = on_commit
        sa_event.listen(Session, "after_commit", self._after_commit)
        sa_event.listen(Session, "after_transaction_create", self._after_begin)
        sa_event.listen(Session, "after_soft_rollback", self._after_rollback)

    def add(self, session: Session, item: Any) -> None:
        session.info.setdefault(self.key, []).append(item)

    def pending(self, session: Session) -> list[Any]:
        return list(session.info.get(self.key, []))

    def discard(self, session: Session) -> None:
        """Forget what is queued (e.g. history loaded into the demo is not news)."""
        session.info.pop(self.key, None)

    def _after_commit(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint was released; the transaction may still roll back
        session.info.pop(self._marks_key, None)
        pending = session.info.pop(self.key, None)
        if pending:
            self._on_commit(pending)

    def _after_begin(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            marks = session.info.setdefault(self._marks_key, {})
            marks[id(transaction)] = len(session.info.get(self.key, []))

    def _after_rollback(self, session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:
            session.info.pop(self.key, None)
            session.info.pop(self._marks_key, None)
            return
        mark = session.info.get(self._marks_key, {}).pop(id(previous), None)
        if mark is not None and self.key in session.info:
            del session.info[self.key][mark:]
