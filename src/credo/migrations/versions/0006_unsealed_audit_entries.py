"""unsealed audit entries

A ledger entry can now be written *unsealed* (no chain position yet) and sealed later by one
sequencer, so that request handlers no longer take the ledger lock (``docs/audit.md``). The
entry gets a surrogate key ``id`` (insertion order; the old ``seq`` for existing entries);
``seq``, ``prev_hash`` and ``hash`` become nullable, ``seq`` stays unique.

Downgrading refuses while unsealed entries exist (the older schema has no place for them):
run ``credo audit seal`` first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_COLUMNS = "at, actor, action, target, details, prev_hash, hash"


def _id() -> sa.types.TypeEngine:
    return (
        sa.BigInteger().with_variant(sa.BIGINT(), "postgresql").with_variant(sa.INTEGER(), "sqlite")
    )


def _sqlite_table(name: str, *, sealed_only: bool) -> None:
    """The audit_entry table of either revision, under `name` (SQLite rebuilds tables)."""
    chain = not sealed_only  # nullable chain columns after 0006
    columns = [
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=chain),
        sa.Column("hash", sa.String(length=64), nullable=chain),
        sa.UniqueConstraint("hash", name="uq_audit_entry_hash"),
    ]
    if sealed_only:
        columns = [
            sa.Column("seq", _id(), autoincrement=False, nullable=False),
            *columns,
            sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
        ]
    else:
        columns = [
            sa.Column("id", _id(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=True),
            *columns,
            sa.PrimaryKeyConstraint("id", name="pk_audit_entry"),
            sa.UniqueConstraint("seq", name="uq_audit_entry_seq"),
        ]
    op.create_table(name, *columns)


def _sqlite_rebuild(*, sealed_only: bool) -> None:
    _sqlite_table("_audit_entry_new", sealed_only=sealed_only)
    key = "seq" if sealed_only else "id, seq"
    source = "seq" if sealed_only else "seq, seq"
    op.execute(
        f"INSERT INTO _audit_entry_new ({key}, {_COLUMNS}) "
        f"SELECT {source}, {_COLUMNS} FROM audit_entry"
    )
    op.drop_table("audit_entry")  # and its indexes, whose names are global in SQLite
    op.rename_table("_audit_entry_new", "audit_entry")
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"], unique=False)
    op.create_index("ix_audit_entry_target", "audit_entry", ["target"], unique=False)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(sealed_only=False)
        return
    # PostgreSQL: alter in place; existing entries keep their seq as their id
    op.add_column("audit_entry", sa.Column("id", sa.BigInteger(), nullable=True))
    op.execute("UPDATE audit_entry SET id = seq")
    op.alter_column("audit_entry", "id", nullable=False)
    op.drop_constraint("pk_audit_entry", "audit_entry", type_="primary")
    op.create_primary_key("pk_audit_entry", "audit_entry", ["id"])
    # what BIGSERIAL would have made: a sequence owned by the column, as its default
    op.execute("CREATE SEQUENCE audit_entry_id_seq OWNED BY audit_entry.id")
    op.execute(
        "SELECT setval('audit_entry_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM audit_entry"
    )
    op.execute("ALTER TABLE audit_entry ALTER COLUMN id SET DEFAULT nextval('audit_entry_id_seq')")
    for column in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_entry", column, nullable=True)
    op.create_unique_constraint("uq_audit_entry_seq", "audit_entry", ["seq"])


def downgrade() -> None:
    unsealed = op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM audit_entry WHERE seq IS NULL"))
    if unsealed:
        raise RuntimeError(
            f"{unsealed} audit entries are not sealed yet and the older schema cannot hold "
            "them; run `credo audit seal` before downgrading"
        )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(sealed_only=True)
        return
    op.drop_constraint("uq_audit_entry_seq", "audit_entry", type_="unique")
    for column in ("seq", "prev_hash", "hash"):
        op.alter_column("audit_entry", column, nullable=False)
    op.drop_constraint("pk_audit_entry", "audit_entry", type_="primary")
    op.create_primary_key("pk_audit_entry", "audit_entry", ["seq"])
    op.drop_column("audit_entry", "id")  # drops the sequence it owns
