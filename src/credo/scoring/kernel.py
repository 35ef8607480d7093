"""The compiled scoring pass: every feature of every row in one loop (numba).

Imported only when a large frame is scored (`credo.scoring.fast.PointsScorer.score`), so
importing Credo never loads numba. The NumPy path makes several passes over a million rows per
feature (compare, mask, gather, add), each reading and writing a column; this loop reads each
input cell once and writes each score once. The loop releases the GIL: the caller may run it
on row ranges in several threads (`credo.scoring.fast.scoring_threads`).

The loop is generated for the shape of a points table -- the kind of each feature in order,
and for a number its count of splits and special codes -- and compiled by numba: a loop over
features inside the loop over rows would fetch each feature's arrays from a container for
every row (a reference count each time), which costs more than the scoring itself. Per
feature the loop sees one of these column kinds:

* ``N`` (number): float64 values, binned by the split points exactly as `bin_index` does (a
  value equal to a split goes right), NaN to the Missing slot, listed special codes to
  Special. With at most `SELECT_SPLITS` splits the splits and points are read into locals
  and the bin's points chosen by selects, so the loop has no branch and no table read per
  row and LLVM vectorises it (~0.4 ms per million values instead of ~2 ms); with more, by
  binary search;
* ``D`` (object, collision-free table): a text column's object addresses (`_Addresses`);
  each object seen in a sample has its own slot ``(address * multiplier) >> shift``
  (`direct_table`), so a lookup is one load and one compare;
* ``O`` (object, probed table): the same for columns with too many objects for a
  collision-free table, looked up in an open-addressing table with linear probing.

  Either table holds only objects whose points the caller worked out with the exact text
  rule, and the column array keeps every object alive during the call, so an address found
  there is that object. A row whose object is not in the table gets the table's miss slot
  (NaN); the loop counts them, and the caller finds those rows (`unseen`, `unseen_direct`)
  and scores them with the NumPy path;
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
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

#: up to this many splits a value is binned by selects on constants (SIMD); past it, by binary
#: search. Each count is its own compiled loop, so the bound also caps how many there can be.
SELECT_SPLITS = 32

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
) -> None:
    """Add (address -> points) pairs to a probed table (kind ``O``).

    The caller keeps the table at most half full. Address 0 (a NULL cell) is never stored: the
    loop counts its rows as misses.
    """
    _insert(keys, values, shift, addresses, points)


#: a collision-free table has at most 2**DIRECT_MAX_BITS slots (1.5 MiB)
DIRECT_MAX_BITS = 16
#: multipliers tried per table size before the size is doubled
DIRECT_TRIES = 64
#: the odd multipliers tried, the same in every process (any odd number hashes correctly)
_MULTIPLIERS = np.random.default_rng(0x5EED).integers(
    1, 2**63, DIRECT_TRIES * (DIRECT_MAX_BITS - 3), dtype=np.uint64
)  # enough for every table size from 2**4 to 2**DIRECT_MAX_BITS
_MULTIPLIERS |= np.uint64(1)


def direct_table(
    addresses: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.uint64, np.uint64] | None:
    """A collision-free table of distinct non-zero addresses: (keys, points, multiplier, shift).

    Address ``a`` has slot ``(a * multiplier) >> shift`` (64-bit, wrapping) and no two share
    one, so a lookup is one load and one compare, with no probing loop (kind ``D``). The
    points array has one more entry, NaN, the miss slot. Tables of at least n²/4 slots for n
    addresses, up to 2**`DIRECT_MAX_BITS`, are tried, `DIRECT_TRIES` multipliers each; None
    when none is free of collisions (many objects: the probed table, kind ``O``).
    """
    n = len(addresses)
    # n keys land in 2**bits slots without a collision with probability ~exp(-n*n / 2**(bits+1)):
    # start where that is ~e**-2 or better, so a few multipliers do, and give up at once for
    # more objects than the largest table can hold apart (~500)
    bits = max(4, (2 * n - 1).bit_length(), ((n * n + 3) // 4 - 1).bit_length())
    tried = 0
    while bits <= DIRECT_MAX_BITS:
        shift = np.uint64(64 - bits)
        for multiplier in _MULTIPLIERS[tried : tried + DIRECT_TRIES]:
            slots = (addresses * multiplier) >> shift
            if len(np.unique(slots)) == n:
                keys = np.zeros(1 << bits, dtype=np.uintp)
                values = np.full((1 << bits) + 1, np.nan)
                keys[slots] = addresses
                values[slots] = points
                return keys, values, np.uint64(multiplier), shift
        tried += DIRECT_TRIES
        bits += 1
    return None


def unseen_direct(
    addresses: np.ndarray, keys: np.ndarray, multiplier: np.uint64, shift: np.uint64
) -> np.ndarray:
    """The rows whose address is not in a collision-free table (the loop's misses), in order."""
    slots = (addresses * multiplier) >> shift
    return np.flatnonzero((keys[slots] != addresses) | (addresses == 0))


def shape_of(kinds: str, splits: list[int], specials: list[int]) -> str:
    """The key of a generated loop: per feature its kind and, for a number, its counts.

    ``N<k>`` (``k`` splits, at most `SELECT_SPLITS`: branch-free selects on constants), with
    ``s<c>`` for ``c`` special codes; ``Nb`` (more splits: binary search), with ``s`` when it
    has special codes; ``O`` (a probed object table), ``D`` (a collision-free one), ``P``.
    """
    out = []
    for kind, k, c in zip(kinds, splits, specials, strict=True):
        if kind != "N":
            out.append(kind)
        elif k <= SELECT_SPLITS:
            out.append(f"N{k}" + (f"s{c}" if c else ""))
        else:
            out.append("Nb" + ("s" if c else ""))
    return "".join(out)


_LOOPS: dict[str, Callable] = {}


def loop_for(shape: str) -> Callable:
    """The compiled loop for a shape (see `source`), generated and compiled at first use."""
    fn = _LOOPS.get(shape)
    if fn is None:
        fn = _LOOPS[shape] = _compile(shape)
    return fn


_FEATURE = re.compile(r"N(?:(\d+)(?:s(\d+))?|b(s)?)|[ODP]")


def _features(shape: str) -> list[tuple[str, int | None, int]]:
    """(kind, splits or None for binary search, special codes) per feature of a shape."""
    out: list[tuple[str, int | None, int]] = []
    at = 0
    while at < len(shape):
        m = _FEATURE.match(shape, at)
        if m is None:
            raise ValueError(f"bad kernel shape {shape!r}")
        if m.group(0)[0] != "N":
            out.append((m.group(0), None, 0))
        elif m.group(1) is not None:
            out.append(("N", int(m.group(1)), int(m.group(2) or 0)))
        else:
            out.append(("N", None, 1 if m.group(3) else 0))
        at = m.end()
    return out


def source(shape: str) -> str:
    """Python source of the loop for one shape.

    Arguments, feature by feature: ``N`` -> values, splits, special codes, points table (the
    regular bins, Missing, Special); ``O`` -> addresses, table keys, table points, shift;
    ``D`` -> addresses, table keys, table points, multiplier, shift; ``P`` -> points. Then
    ``out``. Returns the number of object lookups that missed: their rows got the table's
    miss slot (NaN) and are the caller's to score (`unseen`).

    A number with few splits is binned by selects on its splits and points read into locals
    before the loop, applied in the order of the splits (the last split a value reaches
    wins, which is the count of splits <= value), then Special, then Missing (NaN), so the
    loop has no branch and no gather: LLVM turns it into SIMD code.
    """
    features = _features(shape)
    args: list[str] = []
    setup: list[str] = []
    body: list[str] = []
    for j, (kind, k, codes) in enumerate(features):
        acc = "total = " if j == 0 else "total += "
        if kind == "N" and k is not None:
            args += [f"x{j}", f"e{j}", f"c{j}", f"t{j}"]
            setup += [f"e{j}_{s} = e{j}[{s}]" for s in range(k)]
            setup += [f"t{j}_{b} = t{j}[{b}]" for b in range(k + 3)]
            setup += [f"c{j}_{s} = c{j}[{s}]" for s in range(codes)]
            body += [f"v = x{j}[i]", f"p = t{j}_0"]
            body += [f"p = t{j}_{s + 1} if v >= e{j}_{s} else p" for s in range(k)]
            if codes:
                hit = " | ".join(f"(v == c{j}_{s})" for s in range(codes))
                body.append(f"p = t{j}_{k + 2} if {hit} else p")
            body += [f"p = t{j}_{k + 1} if v != v else p", f"{acc}p"]
        elif kind == "N":
            args += [f"x{j}", f"e{j}", f"c{j}", f"t{j}"]
            setup.append(f"k{j} = e{j}.shape[0]")
            body += [f"v = x{j}[i]", "if v != v:", f"    b = k{j} + 1"]
            if codes:
                body += [f"elif _special(c{j}, v):", f"    b = k{j} + 2"]
            body += ["else:", f"    b = _count(e{j}, v)", f"{acc}t{j}[b]"]
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
        elif kind == "D":
            args += [f"a{j}", f"h{j}", f"p{j}", f"u{j}", f"s{j}"]
            setup.append(f"m{j} = np.uint64(h{j}.shape[0])")
            body += [
                f"a = a{j}[i]",
                f"h = (a * u{j}) >> s{j}",
                f"hit = (h{j}[h] == a) & (a != 0)  # a NULL cell is never in the table",
                "misses += not hit",
                f"{acc}p{j}[h if hit else m{j}]  # the miss slot (NaN) past the table",
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
