"""Bot jobs: answering a customer's message in a live conversation."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kefu.core import jobs


@jobs.job("bot.reply")
async def reply(conversation_id: int, message_id: int) -> None:
    """Answer one customer message (enqueued after commit by `kefu.bot.live.queue_reply`)."""
    from kefu.bot.service import handle_message

    for _attempt in (1, 2):
        async with jobs.job_session() as session:
            try:
                await handle_message(session, conversation_id, message_id)
                await session.commit()
                return
            except IntegrityError:
                # Two jobs created the conversation's bot session at once: the retry finds it
                # (and finds the turn, if the other job already answered this message).
                await session.rollback()
