"""What every benchmark records about the machine it ran on (standard library only: the peer
environment of `models.py` imports it too)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def git(*args: str) -> str | None:
    """Output of a git command in the repository, or None without git."""
    with contextlib.suppress(OSError):
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return out.stdout.strip() or None
    return None


def machine_info(**extra: Any) -> dict[str, Any]:
    """Date, CPU, cores, load average, Python, platform and git commit, plus `extra`."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_at_start": load,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": git("rev-parse", "--short", "HEAD"),
        **extra,
    }


def synth_fingerprint() -> str:
    """Hash of the synthetic generator's source: a cached bureau built by another generator
    is never taken for this one's."""
    h = hashlib.sha256()
    pkg = ROOT / "src" / "credo" / "synth"
    for path in sorted(pkg.rglob("*.py")):
        h.update(path.relative_to(pkg).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]
