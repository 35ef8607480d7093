"""subject access credentials

Subjects' access credentials to /v1/me (only the SHA-256 of each token, the subject, who issued
it and how the subject's identity was verified, expiry, revocation, last use).

Two enum values need no DDL: ``inquiry.source`` gains ``subject`` (a subject's own report) and
``institution.kind`` gains ``bureau`` (the bureau as the inquirer of record of those reports).
Both columns are non-native enums, plain VARCHARs without a CHECK constraint, and the new values
fit their lengths. Downgrading maps them to the nearest older values (``api`` and
``public_source``) so that code of revision 0003 can still read those rows; the self-query
inquiries themselves are history and are kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine:
    return (
        sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
    )


def upgrade() -> None:
    op.create_table(
        "subject_access",
        sa.Column("id", _id(), nullable=False),
        sa.Column("credential_id", sa.String(length=16), nullable=False),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("verified_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_subject_access_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_access")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_subject_access_credential_id")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_subject_access_secret_sha256")),
    )
    with op.batch_alter_table("subject_access", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_access_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    op.execute(sa.text("UPDATE inquiry SET source = 'api' WHERE source = 'subject'"))
    op.execute(sa.text("UPDATE institution SET kind = 'public_source' WHERE kind = 'bureau'"))
    with op.batch_alter_table("subject_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_access_subject_id"))

    op.drop_table("subject_access")
