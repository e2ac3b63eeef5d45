"""The check/report helpers of the verify probes (copied beside each probe on the client).

A probe calls check() for what must work and expect_error() for what must be refused,
then exits with report(): every failed check is listed, none is raised half-way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FAILURES: list[str] = []


def check(label: str, func: Callable[[], Any]) -> None:
    """Run func; record and print a failure instead of raising it."""
    try:
        func()
    except Exception as exc:  # noqa: BLE001 - every failure is reported, not raised
        FAILURES.append(f"{label}: {type(exc).__name__}: {exc}")
        print(f"FAIL {label}: {type(exc).__name__}: {exc}")
    else:
        print(f"ok   {label}")


def expect_error(label: str, func: Callable[[], Any], match: str = "") -> None:
    """func must fail, with an error whose type name or message contains `match`."""

    def inverted() -> None:
        try:
            func()
        except Exception as exc:
            said = f"{type(exc).__name__}: {exc}"
            if match.lower() not in said.lower():
                raise AssertionError(f"refused, but not with {match!r}: {said}") from exc
            print(f"     ({label}: refused as expected: {said})")
            return
        raise AssertionError("succeeded, but must be refused")

    check(label, inverted)


def report() -> int:
    """Print the count of failures; the probe's exit code."""
    print(f"{len(FAILURES)} failed")
    return 1 if FAILURES else 0
