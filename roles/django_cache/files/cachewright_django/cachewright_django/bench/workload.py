"""What a run does: operations, key distributions, values and concurrency.

Keys are integers ``0 .. keys-1`` chosen by a seedable distribution; a session turns them
into key names under the run's own prefix. ``zipf`` draws rank ``r`` with probability
proportional to ``1 / r**s`` (hot keys) from a precomputed cumulative distribution and
``bisect``; ranks are spread over the key space by a seeded permutation.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
from dataclasses import dataclass

# Operation -> keys per call. Batch operations take ``batch`` keys (100 by default).
SINGLE_OPS = ("get", "set", "delete", "add", "incr", "touch")
BATCH_OPS = ("get_many", "set_many", "delete_many")
OPS = SINGLE_OPS + BATCH_OPS
# Operations whose keys must exist before they are measured (the run populates them).
READ_OPS = frozenset({"get", "get_many", "touch"})
# Operations that remove keys (the key space must be populated again before a read).
REMOVING_OPS = frozenset({"delete", "delete_many"})
DISTRIBUTIONS = ("uniform", "zipf")


def parse_ops(text: str) -> list[str]:
    """``get,set,get_many`` -> the list, checked against :data:`OPS` (``all`` = every op)."""
    if text.strip() == "all":
        return list(OPS)
    ops = [o.strip() for o in text.split(",") if o.strip()]
    unknown = [o for o in ops if o not in OPS]
    if unknown or not ops:
        raise ValueError(f"unknown operation(s) {unknown or text!r}; choose from {', '.join(OPS)}")
    return list(dict.fromkeys(ops))


def keys_per_call(op: str, batch: int) -> int:
    """How many keys one call of ``op`` touches."""
    return batch if op in BATCH_OPS else 1


@dataclass(frozen=True)
class Concurrency:
    """Load as ``processes`` x ``threads`` workers (each worker: one call at a time)."""

    processes: int
    threads: int

    @property
    def workers(self) -> int:
        """Calls in flight at once."""
        return self.processes * self.threads

    @property
    def label(self) -> str:
        """``2x4``."""
        return f"{self.processes}x{self.threads}"


def usable_cpus() -> int:
    """CPUs this process may run on (a cpuset of a container counts, not the host's CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def parse_concurrency(text: str, cpus: int | None = None) -> Concurrency:
    """``PxT`` as given; a plain ``N`` = N workers split over processes.

    Rule for a plain ``N``: as many processes as possible without exceeding the CPUs this
    process may use (the largest divisor of N that is <= CPUs), the rest as threads, so the total
    is exactly N: with 2 CPUs 1 -> 1x1, 2 -> 2x1, 4 -> 2x2, 8 -> 2x4, 3 -> 1x3.
    """
    text = text.strip().lower()
    if "x" in text:
        p, _unused, t = text.partition("x")
        result = Concurrency(int(p), int(t))
    else:
        n = int(text)
        limit = max(1, cpus if cpus is not None else usable_cpus())
        processes = max(d for d in range(1, min(n, limit) + 1) if n % d == 0) if n > 0 else 0
        result = Concurrency(processes, n // processes if processes else 0)
    if result.processes < 1 or result.threads < 1 or result.workers > 1024:
        raise ValueError(f"concurrency {text!r}: need 1..1024 workers as N or PxT")
    return result


def parse_int_list(text: str, what: str) -> list[int]:
    """``100,10240`` -> [100, 10240] (each > 0)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{what}: comma-separated integers expected, not {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise ValueError(f"{what}: positive integers expected, not {text!r}")
    return values


def make_value(size: int, seed: int = 0) -> bytes:
    """``size`` pseudo-random bytes (incompressible: the worst case for a compressor)."""
    return random.Random(f"value-{seed}-{size}").randbytes(size)


class ZipfTable:
    """The cumulative distribution of a Zipf law over ``n`` ranks, shared by all workers."""

    def __init__(self, n: int, s: float = 0.99, seed: int = 0) -> None:
        if n < 1:
            raise ValueError("zipf needs at least one key")
        self.n = n
        self.s = s
        weights = [1.0 / (rank**s) for rank in range(1, n + 1)]
        total = sum(weights)
        self.cdf = [c / total for c in itertools.accumulate(weights)]
        self.cdf[-1] = 1.0
        self.permutation = list(range(n))
        random.Random(f"zipf-{seed}").shuffle(self.permutation)

    def rank(self, u: float) -> int:
        """The 0-based rank for a uniform number ``u`` in [0, 1)."""
        return bisect.bisect_right(self.cdf, u)


class KeyChooser:
    """Draws key indices for one worker (its own seeded RNG)."""

    def __init__(self, distribution: str, keys: int, seed: int, zipf: ZipfTable | None = None) -> None:
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {distribution!r}; choose from {DISTRIBUTIONS}")
        if distribution == "zipf" and (zipf is None or zipf.n != keys):
            zipf = ZipfTable(keys, seed=seed)
        self.keys = keys
        self.zipf = zipf if distribution == "zipf" else None
        self._random = random.Random(seed).random

    def next(self) -> int:
        """One key index."""
        if self.zipf is None:
            return int(self._random() * self.keys)
        return self.zipf.permutation[self.zipf.rank(self._random())]

    def batch(self, count: int) -> list[int]:
        """``count`` distinct key indices, drawn by the distribution (as a page asks
        get_many for distinct keys); hot keys are in most batches under zipf."""
        count = min(count, self.keys)
        chosen: dict[int, None] = {}
        draws = 0
        while len(chosen) < count and draws < 50 * count:
            chosen[self.next()] = None
            draws += 1
        fill = 0
        while len(chosen) < count:  # a very skewed zipf: complete with further keys
            chosen.setdefault(fill, None)
            fill += 1
        return list(chosen)
