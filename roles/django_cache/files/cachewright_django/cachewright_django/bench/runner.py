"""A timed load: processes x threads workers calling one operation, with warm-up,
an optional rate limit and progress on stderr.

Timeline of a run (``time.monotonic``, one clock for every process on Linux)::

    open sessions and connect | all ready: start | warm-up (not measured) | measured window | close

Each worker opens its own session (its own connections) and calls its ``connect()``, which
reaches every server the session will use; then it waits until every worker of the run is
ready (a barrier across threads and processes), so no connection set-up (a TLS handshake
per server and worker) falls inside the warm-up or the measured window, however many
workers there are and however slow the host. Each worker then calls the operation in a
loop and records the latency of every measured call with ``time.perf_counter_ns`` around
the call only (key choice and rate-limit sleeps are outside). Throughput = measured calls /
(end of the last measured call - window start).

Processes: with more than one process the runner forks after Django is set up. A forked
child never uses a connection of the parent: each worker thread opens its own session
(``caches[alias]`` is per thread; redis-py pools reset themselves in a new pid), and the
child leaves through ``os._exit`` without running the parent's clean-ups.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
import traceback
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cachewright_django.bench.sessions import Session
from cachewright_django.bench.stats import LatencySummary, merge_samples, summarize_ns, throughput
from cachewright_django.bench.workload import Concurrency, KeyChooser, ZipfTable, keys_per_call

# worker index (0 .. workers-1) -> a session opened in the calling thread
SessionFactory = Callable[[int], Session]
Progress = Callable[[str], None]
# A worker stops after this many failed calls in a row (a dead server is not a benchmark).
MAX_CONSECUTIVE_ERRORS = 200
# How long the workers of a run wait for each other to be connected.
READY_TIMEOUT_S = 60.0
# From the last worker ready to the start of the warm-up (every worker wakes up first).
START_DELAY_S = 0.02


@dataclass(frozen=True)
class LoadSpec:
    """What one run does."""

    op: str
    keys: int
    distribution: str
    duration: float
    warmup: float
    concurrency: Concurrency
    batch: int = 100
    max_rate: float | None = None  # calls per second over all workers together
    seed: int = 0
    zipf_s: float = 0.99


@dataclass
class WorkerResult:
    """What one worker measured (sent back from a child process by pickling)."""

    latencies_ns: array = field(default_factory=lambda: array("q"))
    calls: int = 0
    errors: int = 0
    hits: int = 0
    first_error: str | None = None
    window_end: float = 0.0


@dataclass
class LoadResult:
    """Every worker of a run merged."""

    calls: int
    errors: int
    hits: int
    elapsed_s: float
    ops_per_s: float
    latency: LatencySummary | None
    first_error: str | None
    rate_limited: bool


def error_text(exc: BaseException) -> str:
    """``ConnectionError: Error 111 connecting to ...`` (the type, then the message)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _Pacer:
    """Spaces calls ``interval`` seconds apart (no burst to catch up after a stall)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.next_at = 0.0

    def wait(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = max(self.next_at, now) + self.interval


@dataclass(frozen=True)
class _Plan:
    """What every worker of a run shares."""

    factory: SessionFactory
    spec: LoadSpec
    zipf: ZipfTable | None
    counters: Any  # calls so far per worker index (a list, or a shared array across processes)
    ready: Any  # a Barrier of every worker (threading, or multiprocessing across processes)
    start: Any  # start[0]: when the warm-up starts, set once every worker is ready (0 before)

    def wait_ready(self) -> None:
        """Wait for every worker to be connected (BrokenBarrierError after READY_TIMEOUT_S)."""
        self.ready.wait(READY_TIMEOUT_S)

    @property
    def start_at(self) -> float:
        """When the warm-up starts (0.0 until every worker is ready)."""
        return float(self.start[0])


def _new_plan(factory: SessionFactory, spec: LoadSpec, zipf: ZipfTable | None, context: Any) -> _Plan:
    """The shared state of a run: plain objects for threads, shared ones across processes."""
    workers = spec.concurrency.workers
    if context is None:
        counters: Any = [0] * workers
        start: Any = [0.0]
        barrier_class: Any = threading.Barrier
    else:
        counters = context.Array("q", workers, lock=False)
        start = context.Array("d", 1, lock=False)
        barrier_class = context.Barrier

    def started() -> None:
        start[0] = time.monotonic() + START_DELAY_S

    return _Plan(factory, spec, zipf, counters, barrier_class(workers, action=started), start)


@dataclass
class _Loop:
    """One worker's calling loop."""

    call: Callable[[Sequence[int]], int]
    chooser: KeyChooser
    count: int
    pacer: _Pacer | None

    def run(self, until: float, result: WorkerResult, report: Callable[[int], None] | None) -> None:
        """Call until ``until``; record latencies when ``report`` is given (measured phase)."""
        clock, monotonic = time.perf_counter_ns, time.monotonic
        record = result.latencies_ns.append
        call, chooser, count, pacer = self.call, self.chooser, self.count, self.pacer
        single = count == 1
        consecutive = 0
        while monotonic() < until:
            if pacer is not None:
                pacer.wait()
            indices = [chooser.next()] if single else chooser.batch(count)
            t0 = clock()
            try:
                hits = call(indices)
            except Exception as exc:  # noqa: BLE001 - a failing call is counted, not fatal
                result.errors += 1
                result.first_error = result.first_error or error_text(exc)
                consecutive += 1
                if consecutive >= MAX_CONSECUTIVE_ERRORS:
                    break
                continue
            t1 = clock()
            consecutive = 0
            if report is not None:
                record(t1 - t0)
                result.calls += 1
                result.hits += hits
                if result.calls & 63 == 0:
                    report(result.calls)
        result.window_end = monotonic()
        if report is not None:
            report(result.calls)


def _work(plan: _Plan, index: int) -> WorkerResult:
    """One worker: open its session and connect, wait for the others, warm up, measure, close."""
    spec = plan.spec
    result = WorkerResult()
    try:
        session = plan.factory(index)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is a result to record
        plan.ready.abort()  # the others stop waiting: this run cannot be measured as asked
        result.errors, result.first_error = 1, f"opening the session: {error_text(exc)}"
        return result

    def report(calls: int) -> None:
        plan.counters[index] = calls

    try:
        session.connect()
        loop = _Loop(
            call=session.operation(spec.op),
            chooser=KeyChooser(
                spec.distribution, spec.keys, seed=spec.seed * 100_003 + index, zipf=plan.zipf
            ),
            count=keys_per_call(spec.op, spec.batch),
            pacer=_Pacer(spec.concurrency.workers / spec.max_rate) if spec.max_rate else None,
        )
        plan.wait_ready()
        window_start = plan.start_at + spec.warmup
        delay = plan.start_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        loop.run(window_start, result, None)  # warm-up, not recorded
        result.calls = result.hits = result.errors = 0
        result.first_error = None
        loop.run(window_start + spec.duration, result, report)
    except threading.BrokenBarrierError:
        result.errors += 1
        result.first_error = result.first_error or (
            f"the workers were not all connected within {READY_TIMEOUT_S:g}s (one failed or hung)"
        )
    except Exception as exc:  # noqa: BLE001 - e.g. connect() failed: recorded, not fatal
        plan.ready.abort()
        result.errors += 1
        result.first_error = f"connecting: {error_text(exc)}"
    finally:
        with contextlib.suppress(Exception):  # closing is best effort
            session.close()
    return result


def _threads(plan: _Plan, first_index: int) -> list[WorkerResult]:
    """Run ``spec.concurrency.threads`` workers in this process and wait for them."""
    results: list[WorkerResult | None] = [None] * plan.spec.concurrency.threads

    def target(slot: int) -> None:
        results[slot] = _work(plan, first_index + slot)

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r or WorkerResult(errors=1, first_error="worker thread died") for r in results]


def _child(plan: _Plan, first_index: int, queue: Any) -> None:
    """A forked load process: run its threads, send the results, leave without clean-ups."""
    code = 0
    try:
        queue.put((first_index, _threads(plan, first_index)))
    except BaseException:  # noqa: BLE001 - report anything, the parent waits for a message
        queue.put((first_index, [WorkerResult(errors=1, first_error=traceback.format_exc(limit=3))]))
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_load(factory: SessionFactory, spec: LoadSpec, progress: Progress | None = None) -> LoadResult:
    """Run ``spec`` with ``factory`` sessions; print progress about once a second."""
    zipf = ZipfTable(spec.keys, s=spec.zipf_s, seed=spec.seed) if spec.distribution == "zipf" else None
    parts: list[WorkerResult] = []
    if spec.concurrency.processes == 1:
        plan = _new_plan(factory, spec, zipf, None)
        box: list[list[WorkerResult]] = []
        runner = threading.Thread(target=lambda: box.append(_threads(plan, 0)), daemon=True)
        runner.start()
        _watch(runner.is_alive, plan, progress)
        runner.join()
        parts = box[0] if box else [WorkerResult(errors=1, first_error="load thread died")]
    else:
        context = multiprocessing.get_context("fork")
        plan = _new_plan(factory, spec, zipf, context)
        queue = context.SimpleQueue()
        children = []
        for p in range(spec.concurrency.processes):
            child = context.Process(
                target=_child, args=(plan, p * spec.concurrency.threads, queue), daemon=True
            )
            child.start()
            children.append(child)
        received: list[tuple[int, list[WorkerResult]]] = []

        def alive() -> bool:
            while not queue.empty():
                received.append(queue.get())
            return len(received) < len(children) and any(c.is_alive() for c in children)

        _watch(alive, plan, progress)
        for child in children:
            child.join(timeout=30)
        while not queue.empty():
            received.append(queue.get())
        for _unused, part in sorted(received, key=lambda item: item[0]):
            parts.extend(part)
        if len(received) < len(children):
            parts.append(WorkerResult(errors=1, first_error="a load process exited without results"))
    return _merge(parts, plan.start_at + spec.warmup, spec)


def _watch(alive: Callable[[], bool], plan: _Plan, progress: Progress | None) -> None:
    """Print ``calls, calls/s, time`` about once a second until the workers are done."""
    spec = plan.spec
    last_print = time.monotonic()
    while alive():
        time.sleep(0.05)
        now = time.monotonic()
        if progress is None or now - last_print < 1.0:
            continue
        last_print = now
        if not plan.start_at:
            progress("connecting")
            continue
        window_start = plan.start_at + spec.warmup
        calls = sum(plan.counters[i] for i in range(spec.concurrency.workers))
        if now < window_start:
            progress(f"warm-up {spec.warmup - (window_start - now):.1f}/{spec.warmup:g}s")
        else:
            measured = min(now - window_start, spec.duration)
            rate = calls / measured if measured > 0 else 0.0
            progress(f"{measured:.1f}/{spec.duration:g}s  {calls:,} calls  {rate:,.0f}/s")


def _merge(parts: list[WorkerResult], window_start: float, spec: LoadSpec) -> LoadResult:
    calls = sum(p.calls for p in parts)
    window_end = max((p.window_end for p in parts if p.calls), default=window_start)
    elapsed = max(window_end - window_start, 0.0)
    return LoadResult(
        calls=calls,
        errors=sum(p.errors for p in parts),
        hits=sum(p.hits for p in parts),
        elapsed_s=elapsed,
        ops_per_s=throughput(calls, elapsed),
        latency=summarize_ns(merge_samples(p.latencies_ns for p in parts)),
        first_error=next((p.first_error for p in parts if p.first_error), None),
        rate_limited=spec.max_rate is not None,
    )
