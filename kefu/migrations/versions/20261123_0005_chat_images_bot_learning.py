"""chat images, bot answer ratings and learning review

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:33:25.697941
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_images",
        sa.Column("store_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("thumb_type", sa.String(length=32), nullable=False),
        sa.Column("thumb_path", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_chat_images_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_chat_images_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_images")),
    )
    with op.batch_alter_table("chat_images", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_images_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_chat_images_uploaded_by"), ["uploaded_by"], unique=False
        )

    with op.batch_alter_table("bot_turns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reviewed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("review", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "review_faq_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_bot_turns_review_faq_id_knowledge_faqs"),
            "knowledge_faqs",
            ["review_faq_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("bot_turns", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_bot_turns_review_faq_id_knowledge_faqs"), type_="foreignkey"
        )
        batch_op.drop_column("review_faq_id")
        batch_op.drop_column("review")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("rated_at")

    with op.batch_alter_table("chat_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_images_uploaded_by"))
        batch_op.drop_index(batch_op.f("ix_chat_images_conversation_id"))

    op.drop_table("chat_images")
