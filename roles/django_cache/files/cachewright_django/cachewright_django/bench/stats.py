"""Latency percentiles and throughput from every sample (no averages of averages).

Percentiles use the **nearest-rank** method: for a percentile ``p`` of ``n`` sorted samples
the value is the sample at rank ``ceil(p / 100 * n)`` (1-based). The result is always a
latency that was actually observed, never an interpolation; p99.9 needs at least 1,000
samples to differ from the maximum, and the sample count is reported beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p99_9", 99.9))


def nearest_rank(sorted_samples: Sequence[int | float], percentile: float) -> float:
    """The nearest-rank percentile of samples already sorted ascending."""
    if not sorted_samples:
        raise ValueError("no samples")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {percentile}")
    # round() first: 99.9 / 100 * 1000 is 999.0000000000001 in floating point.
    rank = math.ceil(round(percentile / 100 * len(sorted_samples), 9))
    return float(sorted_samples[max(rank, 1) - 1])


@dataclass(frozen=True)
class LatencySummary:
    """Latency of one run in microseconds, from every measured operation."""

    samples: int
    min: float
    mean: float
    p50: float
    p95: float
    p99: float
    p99_9: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        """The JSON form (``latency_us`` of a result)."""
        return {k: (v if k == "samples" else round(v, 3)) for k, v in asdict(self).items()}


def summarize_ns(samples_ns: Iterable[int]) -> LatencySummary | None:
    """Summarize latencies given in nanoseconds (perf_counter_ns deltas); None if empty."""
    ordered = sorted(samples_ns)
    if not ordered:
        return None
    us = 1000.0
    values = {name: nearest_rank(ordered, p) / us for name, p in PERCENTILES}
    return LatencySummary(
        samples=len(ordered),
        min=ordered[0] / us,
        mean=math.fsum(ordered) / len(ordered) / us,
        max=ordered[-1] / us,
        **values,
    )


def throughput(operations: int, elapsed_s: float) -> float:
    """Operations per second over a measured window (0 when nothing was measured)."""
    return operations / elapsed_s if elapsed_s > 0 else 0.0


def merge_samples(parts: Iterable[Iterable[int]]) -> list[int]:
    """All samples of several workers in one list (percentiles need every sample)."""
    merged: list[int] = []
    for part in parts:
        merged.extend(part)
    return merged
