"""The compiled scoring pass: every feature of every row in one loop (numba, one thread).

Imported only when a large frame is scored (`credo.scoring.fast.PointsScorer.score`), so
importing Credo never loads numba. The NumPy path makes several passes over a million rows per
feature (compare, mask, gather, add), each reading and writing a column; this loop reads each
input cell once and writes each score once.

The loop is generated for the shape of a points table -- the kind of each feature in order --
and compiled by numba: a loop over features inside the loop over rows would fetch each
feature's arrays from a container for every row (a reference count each time), which costs
more than the scoring itself. Per feature the loop sees one of three column kinds:

* ``N`` (number): float64 values, binned by the split points exactly as `bin_index` does (a
  value equal to a split goes right), NaN to the Missing slot, listed special codes to Special;
* ``O`` (object): a text column's object addresses (`_Addresses`), looked up in an
  open-addressing table from address to points. The table holds only objects whose points the
  caller worked out with the exact text rule, and the column array keeps every object alive
  during the call, so an address found there is that object. A row whose object is not in the
  table gets the table's miss slot (NaN); the loop counts them, and the caller finds those
  rows (`unseen`) and scores them with the NumPy path;
* ``P`` (points): points the caller computed already (a pandas categorical, or a column of
  mostly distinct objects).

The points of a row are added feature by feature in the scorer's order, as the NumPy path adds
its columns, and the first feature's points start the sum: the same floating-point operations,
so the same numbers.

Each shape's source is written once to a cache directory (``$CREDO_KERNEL_CACHE``, else
``$NUMBA_CACHE_DIR/credo``, else ``~/.cache/credo/kernels``) and compiled with numba's
``cache=True``, so a later process loads the machine code instead of compiling (~1 s). Where no
directory is writable (a read-only install without a home), it is compiled in memory, once per
process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

#: up to this many splits a value is binned by counting the splits it reaches; past it, by
#: binary search -- the same threshold as `credo.scoring.fast.COMPARE_SPLITS`
COMPARE_SPLITS = 64

#: Fibonacci hashing: odd 64-bit multiplier, the table index is the product's top bits
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _jit(**options: object) -> Callable:
    """numba.njit with an on-disk cache where numba finds a writable place, else without."""

    def wrap(fn: Callable) -> Callable:
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        except RuntimeError:  # no cache locator: a read-only install without a home
            return numba.njit(nogil=True, **options)(fn)

    return wrap


@_jit()
def _insert(keys, values, shift, addresses, points):  # pragma: no cover - compiled
    mask = keys.shape[0] - 1
    for i in range(addresses.shape[0]):
        a = addresses[i]
        if a == 0:
            continue
        h = np.int64((a * GOLDEN) >> shift)
        while keys[h] != 0 and keys[h] != a:
            h = (h + 1) & mask
        keys[h] = a
        values[h] = points[i]
    used = 0
    for i in range(keys.shape[0]):
        if keys[i] != 0:
            used += 1
    return used


@_jit()
def _unseen(addresses, keys, shift):  # pragma: no cover - compiled
    mask = keys.shape[0] - 1
    rows = np.empty(addresses.shape[0], dtype=np.intp)
    found = 0
    for i in range(addresses.shape[0]):
        a = addresses[i]
        h = np.int64((a * GOLDEN) >> shift)
        while keys[h] != a and keys[h] != 0:
            h = (h + 1) & mask
        if keys[h] == 0:
            rows[found] = i
            found += 1
    return rows[:found].copy()


def unseen(addresses: np.ndarray, keys: np.ndarray, shift: np.uint64) -> np.ndarray:
    """The rows whose address is not in the table (the loop's misses), in order."""
    return _unseen(addresses, keys, shift)


def insert(
    keys: np.ndarray,
    values: np.ndarray,
    shift: np.uint64,
    addresses: np.ndarray,
    points: np.ndarray,
) -> int:
    """Add (address -> points) pairs to a table; returns the number of addresses now in it.

    The caller keeps the table at most half full. Address 0 (a NULL cell) is never stored: the
    loop counts its rows as misses.
    """
    return _insert(keys, values, shift, addresses, points)


def shape_of(kinds: str, specials: list[bool], many_splits: list[bool]) -> str:
    """The key of a generated loop: per feature its kind, ``s`` with special codes, ``b``
    with more than `COMPARE_SPLITS` splits (binary search)."""
    return "".join(
        k + ("s" if s else "") + ("b" if b else "")
        for k, s, b in zip(kinds, specials, many_splits, strict=True)
    )


_LOOPS: dict[str, Callable] = {}


def loop_for(shape: str) -> Callable:
    """The compiled loop for a shape (see `source`), generated and compiled at first use."""
    fn = _LOOPS.get(shape)
    if fn is None:
        fn = _LOOPS[shape] = _compile(shape)
    return fn


def _features(shape: str) -> list[tuple[str, bool, bool]]:
    out: list[tuple[str, bool, bool]] = []
    for c in shape:
        if c in "NOP":
            out.append((c, False, False))
        elif c == "s":
            out[-1] = (out[-1][0], True, out[-1][2])
        elif c == "b":
            out[-1] = (out[-1][0], out[-1][1], True)
        else:
            raise ValueError(f"bad kernel shape {shape!r}")
    return out


def source(shape: str) -> str:
    """Python source of the loop for one shape.

    Arguments, feature by feature: ``N`` -> values, splits, special codes, points table (the
    regular bins, Missing, Special); ``O`` -> addresses, table keys, table points, shift;
    ``P`` -> points. Then ``out``. Returns the number of object lookups that missed: their
    rows got the table's miss slot (NaN) and are the caller's to score (`unseen`).
    """
    features = _features(shape)
    args: list[str] = []
    setup: list[str] = []
    body: list[str] = []
    for j, (kind, special, search) in enumerate(features):
        acc = "total = " if j == 0 else "total += "
        if kind == "N":
            args += [f"x{j}", f"e{j}", f"c{j}", f"t{j}"]
            setup.append(f"k{j} = e{j}.shape[0]")
            body += [f"v = x{j}[i]", "if v != v:", f"    b = k{j} + 1"]
            if special:
                body += [f"elif _special(c{j}, v):", f"    b = k{j} + 2"]
            if search:
                body += ["else:", f"    b = _count(e{j}, v)"]
            else:
                body += ["else:", "    b = 0", f"    for s in range(k{j}):"]
                body.append(f"        b += v >= e{j}[s]")
            body.append(f"{acc}t{j}[b]")
        elif kind == "O":
            args += [f"a{j}", f"h{j}", f"p{j}", f"s{j}"]
            setup.append(f"m{j} = h{j}.shape[0] - 1")
            body += [
                f"a = a{j}[i]",
                f"h = np.int64((a * GOLDEN) >> s{j})",
                f"while h{j}[h] != a and h{j}[h] != 0:",
                f"    h = (h + 1) & m{j}",
                f"if h{j}[h] == 0:  # not in the table (or a NULL cell): the miss slot",
                f"    h = m{j} + 1",
                "    misses += 1",
                f"{acc}p{j}[h]",
            ]
        else:
            args.append(f"q{j}")
            body.append(f"{acc}q{j}[i]")
    lines = [
        "import numba",
        "import numpy as np",
        "",
        "from credo.scoring.kernel import GOLDEN, _count, _special",
        "",
        "",
        f"# generated by credo.scoring.kernel for the shape {shape!r}",
        "@numba.njit(cache=True, nogil=True)",
        f"def score_rows({', '.join([*args, 'out'])}):",
        "    misses = 0",
        *("    " + s for s in setup),
        "    for i in range(out.shape[0]):",
        *("        " + s for s in body),
        "        out[i] = total",
        "    return misses",
        "",
    ]
    return "\n".join(lines)


@_jit(inline="always")
def _special(codes, v):  # pragma: no cover - compiled
    for c in range(codes.shape[0]):  # noqa: SIM110 - a loop numba compiles, no generator
        if v == codes[c]:
            return True
    return False


@_jit(inline="always")
def _count(edges, v):  # pragma: no cover - compiled
    """The number of splits <= v, as np.searchsorted(side="right")."""
    lo, hi = 0, edges.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if edges[mid] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo


def cache_dir() -> Path | None:
    """A writable directory for the generated sources (and numba's cache beside them)."""
    candidates = []
    if os.environ.get("CREDO_KERNEL_CACHE"):
        candidates.append(Path(os.environ["CREDO_KERNEL_CACHE"]))
    if os.environ.get("NUMBA_CACHE_DIR"):
        candidates.append(Path(os.environ["NUMBA_CACHE_DIR"]) / "credo")
    candidates.append(Path.home() / ".cache" / "credo" / "kernels")
    for d in candidates:
        try:
            d.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=d):
                pass
        except OSError:
            continue
        return d
    return None


def _compile(shape: str) -> Callable:
    text = source(shape)
    # the loop inlines this module's helpers: a new Credo or numba gets a new file
    own = Path(__file__).read_bytes()
    digest = hashlib.sha256(f"{numba.__version__}\n{text}".encode() + own).hexdigest()[:20]
    name = f"credo_kernel_{digest}"
    directory = cache_dir()
    if directory is None:  # nowhere to cache: compile in memory
        namespace: dict = {}
        exec(compile(text.replace("cache=True", "cache=False"), name, "exec"), namespace)
        return namespace["score_rows"]
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text)
        partial.replace(path)  # atomic: a concurrent process never imports half a file
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.score_rows
