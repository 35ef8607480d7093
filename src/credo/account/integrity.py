"""References to accounts that PostgreSQL checks once per chunk instead of once per row.

On PostgreSQL, ``status_record`` has no foreign keys (migration 0007): they cost about half of
the server's work per loaded month. Its writers call `lock_accounts` for the accounts a chunk
of rows references, which takes the lock a foreign key takes (``FOR KEY SHARE``, so that no
other transaction can delete those accounts until this one ends) and fails if any is missing;
deleting an account or a batch that statuses still reference fails in a statement-level
trigger. SQLite keeps the foreign keys, checked row by row.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from credo.account.models import Account
from credo.db import in_values
from credo.errors import IntegrityError

#: the foreign keys of the models that PostgreSQL databases do not carry (checked as above)
PG_SET_CHECKED_FOREIGN_KEYS = frozenset(
    {
        "fk_status_record_account_id_account",
        "fk_status_record_batch_id_furnishing_batch",
        "fk_status_record_superseded_by_batch_id_furnishing_batch",
    }
)


def lock_accounts(session: Session, account_ids: Iterable[int]) -> None:
    """Lock the accounts `account_ids` ``FOR KEY SHARE`` for the rest of the transaction.

    Raises `IntegrityError` naming the missing ids when any does not exist. Call it before
    inserting rows that reference them. A no-op on SQLite (its foreign keys check each row).
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    ids = sorted({int(i) for i in account_ids})
    found: set[int] = set()
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        found.update(
            session.scalars(
                select(Account.id)
                .where(in_values(session, Account.id, part))
                .with_for_update(read=True, key_share=True)
            )
        )
    missing = [i for i in ids if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:10]))
        raise IntegrityError(
            f"status rows reference {len(missing)} account id(s) not on file: {shown}"
        )
