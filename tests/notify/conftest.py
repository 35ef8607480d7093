"""Fixtures for the notification tests: the small furnished bureau of the API tests (张三 and
李四, BANK_A and BANK_B), notices enqueued with `credo.notify.outbox.enqueue`, and a real local
HTTP server that records what the webhook channel posts to it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from api.conftest import build_bureau
from credo.audit.models import AuditEntry
from credo.institution.models import Institution
from credo.notify.models import Notification
from credo.notify.outbox import enqueue
from credo.security.keys import KeyRing
from credo.subject.models import Subject
from furnishing.bureau import BANK, OTHER_BANK

#: the clock the tests deliver at (time travel is by `now=`)
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Bureau:
    """The committed bureau, with the ids the outbox needs."""

    engine: Engine
    keyring: KeyRing
    zhang: str
    li: str
    zhang_id: int
    li_id: int
    bank_id: int
    other_id: int
    tokens: dict[str, str]

    @property
    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(bind=self.engine, expire_on_commit=False)

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A short session, committed at the end of the block."""
        with Session(self.engine, expire_on_commit=False) as s:
            yield s
            s.commit()

    def enqueue(self, kind: str = "dispute.decided", *, at: datetime = T0, **to: Any) -> str:
        """One notice (default to 张三), committed; returns its ref."""
        payload = to.pop("payload", {"dispute_ref": "D0000000000AA", "outcome": "corrected"})
        if not to:
            to = {"subject_id": self.zhang_id}
        with self.db() as s:
            return enqueue(s, kind=kind, payload=payload, now=at, **to).ref

    def notice(self, ref: str) -> Notification:
        with self.db() as s:
            return s.scalar(select(Notification).where(Notification.ref == ref))

    def ledger(self, action: str) -> list[AuditEntry]:
        with self.db() as s:
            stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            return list(s.scalars(stmt))

    def set_webhook(self, code: str, url: str | None) -> None:
        with self.db() as s:
            s.scalar(select(Institution).where(Institution.code == code)).webhook_url = url


@pytest.fixture
def bureau(engine, keyring, cn, tmp_path, monkeypatch) -> Bureau:
    with Session(engine, expire_on_commit=False) as s:
        refs = build_bureau(s, keyring, cn, tmp_path, monkeypatch)
        s.commit()
        ids = dict(s.execute(select(Subject.ref, Subject.id)).all())
        codes = dict(s.execute(select(Institution.code, Institution.id)).all())
    return Bureau(
        engine, keyring, refs["zhang"], refs["li"], ids[refs["zhang"]], ids[refs["li"]],
        codes[BANK], codes[OTHER_BANK], refs["tokens"],
    )  # fmt: skip


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Hook:
    """A local HTTP server: records every POST, answers `status` after `delay` seconds."""

    url: str
    status: int = 204
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refs(self) -> list[str]:
        with self.lock:
            return [r.headers["X-Credo-Notice"] for r in self.received]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state: dict[str, Hook] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            me = state["hook"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with me.lock:
                me.received.append(Received(self.path, dict(self.headers.items()), body))
            if me.delay:
                time.sleep(me.delay)
            self.send_response(me.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["hook"] = Hook(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["hook"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> str:
    """A URL on a local port nobody listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
