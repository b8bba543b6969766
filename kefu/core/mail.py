"""Outgoing email through the shop's SMTP server, with an outbox so no mail is lost.

`queue_mail(session, …)` writes a `mail_outbox` row in the caller's transaction and enqueues
the `mail.deliver` job after commit: a mail exists exactly when the change that caused it was
committed. The job sends through SMTP (aiosmtplib) and marks the row sent; a failed send stays
pending and the `mail.retry` sweep tries again with backoff, up to `MAX_ATTEMPTS`. Without
`KEFU_SMTP_HOST` mail stays in the outbox as `disabled` so an admin can see what would have
gone out; nothing pretends to have been sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import structlog
from pydantic import SecretStr
from sqlalchemy import Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, BigId, utcnow
from kefu.core.errors import Invalid
from kefu.core.jobs import enqueue, job, job_session, schedule

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 6
RETRY_EVERY_S = 60


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    use_tls: bool = False
    sender: str = "Kefu <kefu@localhost>"
    timeout_s: float = 20.0


_settings: MailSettings | None = None


def configure_mail(settings: MailSettings | None) -> None:
    """Set by the app at startup (and by `kefu worker`); None reads KEFU_* settings again."""
    global _settings
    _settings = settings


def mail_settings() -> MailSettings:
    if _settings is not None:
        return _settings
    from kefu.core.config import get_settings

    return from_settings(get_settings())


def from_settings(settings: object) -> MailSettings:
    return MailSettings(
        host=getattr(settings, "smtp_host", None),
        port=getattr(settings, "smtp_port", 25),
        username=getattr(settings, "smtp_username", None),
        password=getattr(settings, "smtp_password", None),
        starttls=getattr(settings, "smtp_starttls", False),
        use_tls=getattr(settings, "smtp_use_tls", False),
        sender=getattr(settings, "mail_from", "Kefu <kefu@localhost>"),
    )


def mail_enabled() -> bool:
    return bool(mail_settings().host)


class OutboxMail(Base):
    """One email Kefu decided to send, and what became of it."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    to_addr: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str | None] = mapped_column(Text)
    # What caused it, e.g. "conversation.transcript" / "ticket.csat"; for the admin's outbox view.
    purpose: Mapped[str] = mapped_column(String(60), default="")
    store_id: Mapped[int | None] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(
        String(10), default="pending"
    )  # pending|sent|failed|disabled
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


def _valid_address(to: str) -> str:
    to = to.strip()
    local, _, domain = to.partition("@")
    if not local or "." not in domain or any(c in to for c in " \r\n<>,;"):
        raise Invalid(f"邮箱地址无效：{to}", f"Invalid email address: {to}")
    return to


async def queue_mail(
    session: AsyncSession,
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    purpose: str = "",
    store_id: int | None = None,
) -> OutboxMail:
    """Record a mail to send after the caller's transaction commits."""
    mail = OutboxMail(
        to_addr=_valid_address(to),
        subject=subject.replace("\r", " ").replace("\n", " ")[:200],
        text_body=text,
        html_body=html,
        purpose=purpose,
        store_id=store_id,
        status="pending" if mail_enabled() else "disabled",
        # The deliver job sends it now; the retry sweep only picks it up if that job was lost.
        next_attempt_at=utcnow() + timedelta(seconds=2 * RETRY_EVERY_S),
    )
    session.add(mail)
    await session.flush()
    if mail.status == "pending":
        enqueue(session, "mail.deliver", mail_id=mail.id)
    else:
        log.info("mail_disabled", mail_id=mail.id, purpose=purpose)
    return mail


def build_message(mail: OutboxMail, settings: MailSettings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = formataddr(("", mail.to_addr))
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id or make_msgid(domain="kefu.local")
    message.set_content(mail.text_body)
    if mail.html_body:
        message.add_alternative(mail.html_body, subtype="html")
    return message


async def _send(mail: OutboxMail, settings: MailSettings) -> None:
    import aiosmtplib

    message = build_message(mail, settings)
    mail.message_id = str(message["Message-ID"])
    await aiosmtplib.send(
        message,
        hostname=settings.host,
        port=settings.port,
        username=settings.username,
        password=settings.password.get_secret_value() if settings.password else None,
        start_tls=settings.starttls,
        use_tls=settings.use_tls,
        timeout=settings.timeout_s,
    )


async def deliver_one(session: AsyncSession, mail: OutboxMail) -> bool:
    settings = mail_settings()
    if not settings.host:
        mail.status = "disabled"
        return False
    mail.attempts += 1
    try:
        await _send(mail, settings)
    except Exception as exc:  # any SMTP or network failure: keep it and retry later
        mail.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if mail.attempts >= MAX_ATTEMPTS:
            mail.status = "failed"
            mail.next_attempt_at = None
        else:
            mail.next_attempt_at = utcnow() + timedelta(seconds=30 * 2 ** (mail.attempts - 1))
        # Addresses are personal data: log the id, not the recipient.
        log.warning("mail_send_failed", mail_id=mail.id, attempt=mail.attempts)
        return False
    mail.status = "sent"
    mail.sent_at = utcnow()
    mail.next_attempt_at = None
    mail.last_error = ""
    return True


@job("mail.deliver")
async def deliver(mail_id: int) -> bool:
    async with job_session() as session:
        mail = await session.get(OutboxMail, mail_id, with_for_update=True)
        if mail is None or mail.status != "pending":
            return False
        sent = await deliver_one(session, mail)
        await session.commit()
        return sent


@job("mail.retry")
async def retry_due(limit: int = 100) -> int:
    """Send what is still pending and due (failed earlier, or lost in a restart)."""
    sent = 0
    async with job_session() as session:
        due = list(
            await session.scalars(
                select(OutboxMail)
                .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= utcnow())
                .order_by(OutboxMail.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for mail in due:
            sent += await deliver_one(session, mail)
        await session.commit()
    return sent


schedule("mail.retry", RETRY_EVERY_S)
