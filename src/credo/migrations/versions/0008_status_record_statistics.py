"""status_record's statuses per account told to the planner

On PostgreSQL, ``status_record.account_id`` gets a fixed ``n_distinct`` of -0.02 (one account
per 50 rows: about four years of monthly statuses). The table is stored in account order, and
ANALYZE's sample then sees few distinct accounts: 5,900 to 56,000 for 677,000 real ones in the
100,000-subject benchmark bureau, i.e. 300 to 2,900 statuses per account instead of 25, and
the estimate grows with the table. With 2,900 the planner read a subject's statuses with a
parallel sequential scan of ``account`` (300-600 ms instead of 0.1 ms). The fixed ratio keeps
the estimate within a small factor of any real bureau's. It takes effect at the next ANALYZE,
run here. Both statements take only a SHARE UPDATE EXCLUSIVE lock: reads and writes of the
table go on meanwhile. SQLite has no such statistics; nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 05:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: statuses per account the planner assumes, as PostgreSQL's negative n_distinct (a ratio)
STATUS_ROWS_PER_ACCOUNT_RATIO = -0.02


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE status_record ALTER COLUMN account_id "
        f"SET (n_distinct = {STATUS_ROWS_PER_ACCOUNT_RATIO})"
    )
    op.execute("ANALYZE status_record")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE status_record ALTER COLUMN account_id RESET (n_distinct)")
    op.execute("ANALYZE status_record")
