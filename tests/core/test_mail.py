"""Outgoing mail: sent after commit to a real SMTP server, kept and retried when it fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kefu.core import jobs, mail
from kefu.core.db import Database, utcnow
from kefu.core.errors import Invalid
from tests.fixtures.servers import CapturedMail, free_port


async def _wait_for(captured: CapturedMail, count: int) -> None:
    for _ in range(200):
        if len(captured.messages) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} messages, got {len(captured.messages)}")


async def test_mail_is_sent_only_after_commit(db: Database, smtp: CapturedMail) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)
    async with db.sessionmaker() as session:
        queued = await mail.queue_mail(
            session,
            "buyer@example.com",
            "您的留言已收到",
            "我们会尽快回复。\n— 小店客服",
            html="<p>我们会尽快回复。</p>",
            purpose="test",
        )
        await session.rollback()
    await asyncio.sleep(0.2)
    assert smtp.messages == []

    async with db.sessionmaker() as session:
        queued = await mail.queue_mail(
            session, "buyer@example.com", "您的留言已收到", "我们会尽快回复。", purpose="test"
        )
        await session.commit()
    await _wait_for(smtp, 1)
    recipients, message = smtp.messages[0]
    assert recipients == ["buyer@example.com"]
    assert message["Subject"] == "您的留言已收到"
    assert "我们会尽快回复" in message.get_body(("plain",)).get_content()
    await jobs.drain()
    async with db.sessionmaker() as session:
        stored = await session.get(mail.OutboxMail, queued.id)
        assert stored is not None and stored.status == "sent" and stored.sent_at is not None


async def test_unreachable_server_keeps_the_mail_and_retries(
    db: Database, session: AsyncSession, smtp: CapturedMail
) -> None:
    jobs.use_job_sessionmaker(db.sessionmaker)
    good = mail.mail_settings()
    mail.configure_mail(mail.MailSettings(host="127.0.0.1", port=free_port(), timeout_s=2))
    queued = await mail.queue_mail(session, "a@example.com", "CSAT", "请评价", purpose="test")
    await session.commit()  # the deliver job runs now, and fails
    await jobs.drain()
    await session.refresh(queued)
    assert queued.status == "pending" and queued.attempts == 1 and queued.last_error

    mail.configure_mail(good)
    await session.execute(
        update(mail.OutboxMail).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    assert await mail.retry_due() == 1
    await _wait_for(smtp, 1)
    await session.refresh(queued)
    assert queued.status == "sent" and queued.attempts == 2


async def test_without_smtp_the_mail_is_kept_as_disabled(session: AsyncSession) -> None:
    mail.configure_mail(mail.MailSettings(host=None))
    try:
        queued = await mail.queue_mail(session, "a@example.com", "x", "y")
    finally:
        mail.configure_mail(None)
    assert queued.status == "disabled"


async def test_bad_address_is_refused(session: AsyncSession) -> None:
    with pytest.raises(Invalid) as exc:
        await mail.queue_mail(session, "not-an-address", "x", "y")
    assert "邮箱地址无效" in exc.value.zh
    with pytest.raises(Invalid):
        await mail.queue_mail(session, "a@example.com\r\nBcc: x@evil.com", "x", "y")
