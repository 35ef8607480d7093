"""the sealer's work list indexed; status_record's per-account row count told to the planner

* ``ix_audit_entry_unsealed``: ``audit_entry (id) WHERE seq IS NULL``. The sealer looked for
  unsealed entries through the unique index on ``seq``, which also holds an entry for every
  old row version a seal left behind until VACUUM removes it: under API load (one entry per
  query, sealed four times a second) that lookup grew to 30 ms after 30,000 entries
  (``benchmarks/README.md``). The sealer now reads this partial index in id order with a
  plain index scan, which marks the entries of sealed rows dead as it passes them, so the
  next tick skips them (`credo.audit.service`).
* On PostgreSQL, ``status_record.account_id`` gets a fixed ``n_distinct`` of -0.02 (one
  account per 50 rows: about four years of monthly statuses). The table is stored in
  account order, and ANALYZE's sample then sees few distinct accounts: 5,900 to 56,000 for
  677,000 real ones in the 100,000-subject benchmark bureau, i.e. 300 to 2,900 statuses per
  account instead of 25, and the estimate grows with the table. With 2,900 the planner read
  a subject's statuses with a parallel sequential scan of ``account`` (300-600 ms instead of
  0.1 ms). The fixed ratio keeps the estimate within a small factor of any real bureau's.
  It takes effect at the next ANALYZE, run here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: statuses per account the planner assumes, as PostgreSQL's negative n_distinct (a ratio)
STATUS_ROWS_PER_ACCOUNT_RATIO = -0.02


def upgrade() -> None:
    op.create_index(
        "ix_audit_entry_unsealed",
        "audit_entry",
        ["id"],
        sqlite_where=sa.text("seq IS NULL"),
        postgresql_where=sa.text("seq IS NULL"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE status_record ALTER COLUMN account_id "
            f"SET (n_distinct = {STATUS_ROWS_PER_ACCOUNT_RATIO})"
        )
        op.execute("ANALYZE status_record")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE status_record ALTER COLUMN account_id RESET (n_distinct)")
    op.drop_index("ix_audit_entry_unsealed", table_name="audit_entry")
