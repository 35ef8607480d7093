"""status_record references checked per statement on PostgreSQL

``status_record`` is by far the largest table (one row per account and month), and its three
foreign keys (``account_id``, ``batch_id``, ``superseded_by_batch_id``) fired one trigger per
row and reference on every insert: about 6 of the 11 µs of server CPU a loaded row cost
(``benchmarks/README.md``). On PostgreSQL they are replaced by

* a check by the writers, once per chunk (``credo.account.integrity.lock_accounts``): the
  accounts a chunk's rows reference are locked ``FOR KEY SHARE`` -- the lock a foreign key
  takes -- and must all exist; the batch ids are the writer's own batch, inserted in the
  same transaction;
* statement-level triggers on the parents: deleting an ``account`` or a ``furnishing_batch``
  that a ``status_record`` row still references fails with ``foreign_key_violation``, as the
  foreign key made it fail (one check per DELETE statement instead of one per row).

SQLite keeps the foreign keys (its per-row checks are cheap). Downgrading puts them back on
PostgreSQL (validating every row).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 14:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: (constraint, column, parent table) of the foreign keys replaced on PostgreSQL
FOREIGN_KEYS = (
    ("fk_status_record_account_id_account", "account_id", "account"),
    ("fk_status_record_batch_id_furnishing_batch", "batch_id", "furnishing_batch"),
    (
        "fk_status_record_superseded_by_batch_id_furnishing_batch",
        "superseded_by_batch_id",
        "furnishing_batch",
    ),
)

_TRIGGERS = """
CREATE FUNCTION credo_account_deleted_check_status_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM status_record s JOIN gone g ON s.account_id = g.id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'delete on table "account" violates a reference from table '
                      '"status_record": delete the account''s statuses first',
            CONSTRAINT = 'fk_status_record_account_id_account',
            TABLE = 'status_record';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_account_deleted_check_status_record
    AFTER DELETE ON account REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION credo_account_deleted_check_status_record();

CREATE FUNCTION credo_batch_deleted_check_status_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM status_record s JOIN gone g ON s.batch_id = g.id)
       OR EXISTS (SELECT 1 FROM status_record s JOIN gone g ON s.superseded_by_batch_id = g.id)
    THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'delete on table "furnishing_batch" violates a reference from table '
                      '"status_record"',
            CONSTRAINT = 'fk_status_record_batch_id_furnishing_batch',
            TABLE = 'status_record';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER trg_batch_deleted_check_status_record
    AFTER DELETE ON furnishing_batch REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION credo_batch_deleted_check_status_record();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, _, _ in FOREIGN_KEYS:
        op.drop_constraint(name, "status_record", type_="foreignkey")
    op.execute(_TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DROP TRIGGER trg_batch_deleted_check_status_record ON furnishing_batch;"
        "DROP TRIGGER trg_account_deleted_check_status_record ON account;"
        "DROP FUNCTION credo_batch_deleted_check_status_record();"
        "DROP FUNCTION credo_account_deleted_check_status_record();"
    )
    for name, column, parent in FOREIGN_KEYS:
        op.create_foreign_key(name, "status_record", parent, [column], ["id"])
