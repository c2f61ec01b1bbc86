"""Price books: versioned, immutable once published (see `storage/tables_pricing.py`).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tokenward.storage.tables import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "price_books",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_price_books"),
    )
    op.create_table(
        "price_versions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("book", sa.String(), nullable=False),
        sa.Column("effective_from", UtcDateTime(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.String(), nullable=False, server_default=""),
        sa.Column("windows", sa.String(), nullable=False, server_default="[]"),
        sa.ForeignKeyConstraint(
            ["book"], ["price_books.name"], name="fk_price_versions_book_price_books"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_price_versions"),
        sa.UniqueConstraint("book", "effective_from", name="uq_price_versions_book_effective_from"),
    )
    op.create_table(
        "price_models",
        sa.Column("version_id", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["price_versions.id"],
            name="fk_price_models_version_id_price_versions",
        ),
        sa.PrimaryKeyConstraint("version_id", "model", name="pk_price_models"),
    )
    op.create_table(
        "price_rates",
        sa.Column("version_id", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("price", sa.String(), nullable=False),
        sa.CheckConstraint("kind IN ('token', 'unit')", name="ck_price_rates_kind"),
        sa.ForeignKeyConstraint(
            ["version_id", "model"],
            ["price_models.version_id", "price_models.model"],
            name="fk_price_rates_version_id_price_models",
        ),
        sa.PrimaryKeyConstraint("version_id", "model", "kind", "name", name="pk_price_rates"),
    )


def downgrade() -> None:
    op.drop_table("price_rates")
    op.drop_table("price_models")
    op.drop_table("price_versions")
    op.drop_table("price_books")
