"""How a notice leaves the bureau: a channel (log, webhook) sends one notice or raises.

A channel sees a `NoticeView`, the notice as its recipient will read it: its ref, kind, time,
the recipient by public reference (a subject's ref, an institution's code) and the payload of
public references. Nothing here ever holds a raw identifier, so nothing here can log one.

Webhook calls are signed: ``X-Credo-Signature: sha256=<hex HMAC-SHA256 of the body>`` with a
per-recipient secret derived from the key ring (`signing_secret`), so the bureau stores no new
secret and an operator can print it again at any time (``credo institution webhook``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx
import orjson

from credo.config import Settings
from credo.security.keys import KeyRing

log = logging.getLogger("credo.notify")

#: the blind-index purpose that separates webhook signing secrets from every other index
SIGNING_PURPOSE = "webhook"
#: whose secret signs notices to subjects: the bureau's own messaging gateway. Institution codes
#: are upper case, so this lower-case name can never be one of them.
GATEWAY = "subject-gateway"
#: longest delivery error kept (the column holds 500)
_REASON_CHARS = 200


class DeliveryError(Exception):
    """A channel could not deliver a notice; the message is a short reason, kept as
    ``last_error`` (never a response body, which could hold anything)."""


@dataclass(frozen=True, slots=True)
class NoticeView:
    """One notice as it is sent: public references only."""

    ref: str
    kind: str
    created_at: datetime
    #: ``subject`` or ``institution``
    recipient_kind: str
    #: the subject's ref or the institution's code
    recipient: str
    payload: dict[str, Any]
    #: where the webhook channel posts it (the institution's URL, or the subjects' gateway)
    url: str | None = None
    #: the HMAC key for ``X-Credo-Signature`` (webhook channel only)
    secret: str | None = field(default=None, repr=False)

    def document(self) -> dict[str, Any]:
        """The notice as JSON-ready data: what the log line and the webhook body carry."""
        key = "subject_ref" if self.recipient_kind == "subject" else "institution"
        return {
            "ref": self.ref,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "recipient": {"kind": self.recipient_kind, key: self.recipient},
            "payload": self.payload,
        }


class Channel(Protocol):
    """Sends one notice; returns when the recipient has it, raises `DeliveryError` otherwise."""

    name: str

    def send(self, notice: NoticeView) -> None: ...


class LogChannel:
    """One structured line per notice on the ``credo.notify`` logger (INFO)."""

    name = "log"

    def send(self, notice: NoticeView) -> None:
        line = orjson.dumps(notice.document(), option=orjson.OPT_SORT_KEYS).decode()
        log.info("notice %s", line, extra={"notice": notice.document()})


def signing_secret(keyring: KeyRing, recipient: str) -> str:
    """The HMAC key (hex) that signs webhook calls to `recipient` (an institution code, or
    `GATEWAY`): derived with the blind-index key, so nothing new is stored.

    The key ring should be bound to the database's index key first
    (`credo.security.service.bind_index_key`), so the secret changes only when ``credo keys
    rotate`` re-indexes, not when a new master secret is merely added.
    """
    return keyring.blind_index(recipient, purpose=SIGNING_PURPOSE)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Credo-Signature`` header value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POSTs the notice as JSON to its URL, signed; any answer but 2xx is a failure.

    Redirects are not followed (a 3xx is a failure): the URL an operator registered is the
    only place a notice goes.
    """

    name = "webhook"

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout

    def send(self, notice: NoticeView) -> None:
        if notice.url is None or notice.secret is None:
            raise ValueError(f"notice {notice.ref} has no webhook URL or secret; route it first")
        body = orjson.dumps(notice.document(), option=orjson.OPT_SORT_KEYS)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "credo-notify/1",
            "X-Credo-Notice": notice.ref,
            "X-Credo-Kind": notice.kind,
            "X-Credo-Signature": signature(notice.secret, body),
        }
        try:
            # one short-lived client per notice: notices are few, and nothing is shared between
            # recipients (connections, cookies)
            answer = httpx.post(notice.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise DeliveryError(f"timed out after {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise DeliveryError(f"connection failed: {reason}"[:_REASON_CHARS]) from None
        if not 200 <= answer.status_code < 300:
            raise DeliveryError(f"HTTP {answer.status_code} from the webhook")


LOG = LogChannel()


def channel_for(settings: Settings) -> Channel:
    """The channel ``settings.notify_channel`` names."""
    if settings.notify_channel == "webhook":
        return WebhookChannel(timeout=settings.notify_webhook_timeout_seconds)
    return LOG


def route(channel: Channel, notice: NoticeView) -> Channel:
    """The channel that actually sends `notice`.

    Under the webhook channel a recipient with no URL (an institution that registered none, or
    subjects while no gateway is configured) gets the log channel, recorded as ``channel="log"``:
    leaving it pending would retry for nothing and end as a failure that no retry can fix.
    """
    if isinstance(channel, WebhookChannel) and notice.url is None:
        return LOG
    return channel
