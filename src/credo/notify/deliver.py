"""Delivering the outbox: send every due notice through the channel, retry with backoff.

One notice per transaction: it is claimed, sent and marked in one transaction, so a failure
(of the channel, or of this process) never loses or blocks another notice. On PostgreSQL the
claim is ``SELECT ... FOR UPDATE SKIP LOCKED``: the row stays locked while it is sent, so two
workers never send one notice twice; another worker skips it and takes the next one. SQLite has
no row locks (one writer at a time): run a single worker there.

Delivery is at least once: if the process dies after the recipient answered but before the
commit, the notice is sent again. Receivers deduplicate by the notice ref (``X-Credo-Notice``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from credo.audit import service as audit
from credo.config import Settings
from credo.db import get_sessionmaker, transaction, utcnow
from credo.institution.models import Institution
from credo.notify.channels import (
    GATEWAY,
    Channel,
    DeliveryError,
    NoticeView,
    WebhookChannel,
    channel_for,
    route,
    signing_secret,
)
from credo.notify.models import Notification, NotificationStatus, RecipientKind
from credo.security.keys import KeyRing
from credo.security.service import bind_index_key
from credo.subject.models import Subject

log = logging.getLogger(__name__)

#: wait after the first failed attempt; it doubles after each further one...
BACKOFF_BASE = timedelta(seconds=30)
#: ...up to this
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min, ... 1 h."""
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1; got {attempts}")
    # past 2**7 the cap applies anyway; the exponent is bounded so it never grows huge
    return min(BACKOFF_BASE * 2 ** min(attempts - 1, 16), BACKOFF_CAP)


@dataclass
class DeliveryStats:
    """What one delivery run did."""

    #: notices sent or tried
    attempted: int = 0
    delivered: int = 0
    #: failed this time, to be tried again later
    retrying: int = 0
    #: failed for the last allowed time: now ``failed``
    failed: int = 0
    #: delivered notices by the channel that delivered them
    by_channel: dict[str, int] = field(default_factory=dict)

    def add(self, other: DeliveryStats) -> None:
        """Add the counts of another run (the worker's running totals)."""
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.retrying += other.retrying
        self.failed += other.failed
        for name, n in other.by_channel.items():
            self.by_channel[name] = self.by_channel.get(name, 0) + n

    def details(self) -> dict[str, int]:
        """The counts as the ledger records them."""
        return {
            "attempted": self.attempted,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
            **{f"via_{name}": n for name, n in sorted(self.by_channel.items())},
        }


def _claim(session: Session, now: datetime) -> Notification | None:
    """The longest-waiting due notice, locked for this transaction on PostgreSQL."""
    stmt = (
        select(Notification)
        .where(
            Notification.status == NotificationStatus.pending,
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return session.scalar(stmt)


def view(
    session: Session, notice: Notification, settings: Settings, keyring: KeyRing, *, signed: bool
) -> NoticeView:
    """`notice` as its recipient reads it, with the URL (and, when `signed`, the signing
    secret) the webhook channel would use."""
    if notice.recipient_kind is RecipientKind.subject:
        recipient = session.scalar(select(Subject.ref).where(Subject.id == notice.subject_id))
        url, signer = settings.notify_subject_webhook_url, GATEWAY
    else:
        inst = session.get(Institution, notice.institution_id)
        recipient, url, signer = inst.code, inst.webhook_url, inst.code
    return NoticeView(
        ref=notice.ref,
        kind=notice.kind,
        created_at=notice.created_at,
        recipient_kind=notice.recipient_kind.value,
        recipient=recipient,
        payload=orjson.loads(notice.payload),
        url=url,
        secret=signing_secret(keyring, signer) if signed and url else None,
    )


def _attempt(
    session: Session,
    notice: Notification,
    channel: Channel,
    settings: Settings,
    keyring: KeyRing,
    now: datetime,
    stats: DeliveryStats,
) -> None:
    notice_view = view(session, notice, settings, keyring, signed=channel.name == "webhook")
    chosen = route(channel, notice_view)
    notice.channel = chosen.name
    stats.attempted += 1
    try:
        chosen.send(notice_view)
    except Exception as exc:
        if isinstance(exc, DeliveryError):
            reason = str(exc)
        else:
            # a fault of ours, not the recipient's: counted as a failed attempt so that the
            # other notices still go out, and logged with its traceback for the operator
            log.exception("notice %s: unexpected error in channel %s", notice.ref, chosen.name)
            reason = f"internal error: {type(exc).__name__}"
        notice.attempts += 1
        notice.last_error = reason[:500]
        if notice.attempts >= settings.notify_max_attempts:
            notice.status = NotificationStatus.failed
            stats.failed += 1
            log.warning(
                "notice %s failed for good after %d attempts: %s",
                notice.ref, notice.attempts, reason,
            )  # fmt: skip
        else:
            notice.next_attempt_at = now + backoff(notice.attempts)
            stats.retrying += 1
        return
    notice.attempts += 1
    notice.status = NotificationStatus.delivered
    notice.delivered_at = now
    stats.delivered += 1
    stats.by_channel[chosen.name] = stats.by_channel.get(chosen.name, 0) + 1


def deliver_due(
    sessions: sessionmaker[Session] | Engine,
    settings: Settings,
    keyring: KeyRing,
    *,
    channel: Channel | None = None,
    now: datetime | None = None,
    limit: int = 100,
    actor: str = "worker:notify",
    progress: Callable[[DeliveryStats], None] | None = None,
) -> DeliveryStats:
    """Send up to `limit` notices due at `now` (default: the current time), oldest due first,
    through `channel` (default: the one `settings` names). A run that tried anything is one
    ledger entry with its counts."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1; got {limit}")
    if isinstance(sessions, Engine):
        sessions = get_sessionmaker(sessions)
    channel = channel or channel_for(settings)
    now = now or utcnow()
    stats = DeliveryStats()
    if isinstance(channel, WebhookChannel):
        # signing secrets derive from the index key the database was indexed with
        with transaction(sessions) as session:
            bind_index_key(session, keyring)
    while stats.attempted < limit:
        with transaction(sessions) as session:
            notice = _claim(session, now)
            if notice is None:
                break
            _attempt(session, notice, channel, settings, keyring, now, stats)
        if progress is not None:
            progress(stats)
    if stats.attempted:
        with transaction(sessions) as session:
            audit.append(
                session, actor=actor, action="notify.deliver", target="notification:outbox",
                details={**stats.details(), "channel": channel.name},
            )  # fmt: skip
    return stats
