"""The ledger's sequencer for a server: a background thread that seals unsealed entries.

The API writes its ledger entries unsealed (`credo.audit.service.UNSEALED`), so no request
waits for the ledger lock. `Sealer` seals them every `interval` seconds in a short transaction
of its own, and signs a checkpoint whenever enough entries are not yet covered
(`maybe_checkpoint`). With several server processes each runs one; a tick that finds the lock
taken skips (the holder seals). `stop` seals once more, so a server that shuts down cleanly
leaves nothing it wrote unsealed.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from credo.audit import service
from credo.db import transaction
from credo.security.keys import KeyRing

log = logging.getLogger(__name__)

#: seconds between two seals: an unsealed entry stays outside the chain about this long
DEFAULT_INTERVAL = 0.25


class Sealer:
    """Seal the ledger every `interval` seconds in a daemon thread (`start` / `stop`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: KeyRing | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        checkpoint_every: int | None = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive; got {interval}")
        self.sessions = sessions
        self.keyring = keyring
        self.interval = interval
        self.checkpoint_every = checkpoint_every
        self.sealed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def seal_once(self, *, wait: bool = False) -> int:
        """Seal what is visible now (and checkpoint when due); how many entries were sealed."""
        with transaction(self.sessions) as session:
            n = service.seal(session, wait=wait)
            if n and self.keyring is not None:
                service.maybe_checkpoint(session, self.keyring, self.checkpoint_every)
        self.sealed += n
        return n

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.seal_once()
            except Exception:  # keep sealing: the next tick retries what this one could not
                log.exception("sealing the audit ledger failed; retrying")

    def start(self) -> Sealer:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and seal what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.seal_once(wait=True)
        except Exception:
            log.exception("final seal of the audit ledger failed; run `credo audit seal`")
