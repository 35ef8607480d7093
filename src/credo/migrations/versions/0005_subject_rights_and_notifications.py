"""subject rights and notifications

Disputes and their event history, personal statements, freezes and fraud alerts (``file_flag``),
opt-outs, the notification outbox, an optional webhook URL per institution, and an index on
the ledger's target (a subject's data export lists the entries about them). Partial unique
indexes keep one open dispute per record, one current statement, one active flag of each kind
and one active opt-out per use. Downgrading drops all of it: disputes, statements, flags and
notices have no place in the older schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _id() -> sa.types.TypeEngine:
    return (
        sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
    )


def upgrade() -> None:
    op.create_table(
        "dispute",
        sa.Column("id", _id(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column(
            "record_type",
            sa.Enum(
                "identity",
                "account",
                "status",
                "public_record",
                "inquiry",
                name="disputerecordtype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("target_key", sa.String(length=200), nullable=False),
        sa.Column("record_id", _id(), nullable=True),
        sa.Column("account_id", _id(), nullable=True),
        sa.Column("period", sa.Date(), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=True),
        sa.Column("institution_id", _id(), nullable=True),
        sa.Column("reason_enc", sa.LargeBinary(), nullable=False),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open", "answered", "closed", name="disputestatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "corrected",
                "confirmed",
                "unresolved",
                name="disputeoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "answer",
            sa.Enum("confirm", "correct", name="furnisheranswer", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_note", sa.String(length=1000), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("correction_batch_id", _id(), nullable=True),
        sa.ForeignKeyConstraint(
            ["correction_batch_id"],
            ["furnishing_batch.id"],
            name=op.f("fk_dispute_correction_batch_id_furnishing_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_dispute_institution_id_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_dispute_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute")),
        sa.UniqueConstraint("ref", name=op.f("uq_dispute_ref")),
    )
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index("ix_dispute_status_due", ["status", "due_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_dispute_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(
            "uq_dispute_open_target",
            ["subject_id", "target_key"],
            unique=True,
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )

    op.create_table(
        "file_flag",
        sa.Column("id", _id(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("freeze", "fraud_alert", name="flagkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("placed_by", sa.String(length=100), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("identity_theft_report_sha256", sa.String(length=64), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_file_flag_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_flag")),
        sa.UniqueConstraint("ref", name=op.f("uq_file_flag_ref")),
    )
    with op.batch_alter_table("file_flag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_file_flag_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(
            "uq_file_flag_active",
            ["subject_id", "kind"],
            unique=True,
            sqlite_where=sa.text("lifted_at IS NULL"),
            postgresql_where=sa.text("lifted_at IS NULL"),
        )

    op.create_table(
        "notification",
        sa.Column("id", _id(), nullable=False),
        sa.Column("ref", sa.String(length=20), nullable=False),
        sa.Column(
            "recipient_kind",
            sa.Enum("subject", "institution", name="recipientkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("subject_id", _id(), nullable=True),
        sa.Column("institution_id", _id(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="notificationstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institution.id"],
            name=op.f("fk_notification_institution_id_institution"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_notification_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("ref", name=op.f("uq_notification_ref")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notification_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_notification_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "opt_out",
        sa.Column("id", _id(), nullable=False),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column(
            "use",
            sa.Enum("prescreen", "marketing", name="optoutuse", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_opt_out_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_out")),
    )
    with op.batch_alter_table("opt_out", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opt_out_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(
            "uq_opt_out_active",
            ["subject_id", "use"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "personal_statement",
        sa.Column("id", _id(), nullable=False),
        sa.Column("subject_id", _id(), nullable=False),
        sa.Column("text_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_personal_statement_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_statement")),
    )
    with op.batch_alter_table("personal_statement", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_personal_statement_subject_id"), ["subject_id"], unique=False
        )
        batch_op.create_index(
            "uq_personal_statement_current",
            ["subject_id"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )

    op.create_table(
        "dispute_event",
        sa.Column("id", _id(), nullable=False),
        sa.Column("dispute_id", _id(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"], ["dispute.id"], name=op.f("fk_dispute_event_dispute_id_dispute")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_event")),
    )
    with op.batch_alter_table("dispute_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dispute_event_dispute_id"), ["dispute_id"], unique=False
        )

    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.String(length=500), nullable=True))

    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_target"), ["target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_target"))

    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.drop_column("webhook_url")

    with op.batch_alter_table("dispute_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dispute_event_dispute_id"))

    op.drop_table("dispute_event")
    with op.batch_alter_table("personal_statement", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_personal_statement_current",
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_personal_statement_subject_id"))

    op.drop_table("personal_statement")
    with op.batch_alter_table("opt_out", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_opt_out_active",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_opt_out_subject_id"))

    op.drop_table("opt_out")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_subject_id"))
        batch_op.drop_index(batch_op.f("ix_notification_institution_id"))
        batch_op.drop_index("ix_notification_due")

    op.drop_table("notification")
    with op.batch_alter_table("file_flag", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_file_flag_active",
            sqlite_where=sa.text("lifted_at IS NULL"),
            postgresql_where=sa.text("lifted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_file_flag_subject_id"))

    op.drop_table("file_flag")
    with op.batch_alter_table("dispute", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_dispute_open_target",
            sqlite_where=sa.text("closed_at IS NULL"),
            postgresql_where=sa.text("closed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_dispute_subject_id"))
        batch_op.drop_index("ix_dispute_status_due")
        batch_op.drop_index(batch_op.f("ix_dispute_institution_id"))

    op.drop_table("dispute")
