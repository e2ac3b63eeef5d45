"""The README's main job, end to end on the lab (run by the test command with CW_LAB_E2E=1).

lab up -> site.yml -> bench play (`make lab`), then a second site.yml run that must change
nothing, then `--check --diff` that must report no change (both `make lab-site`, Mitogen's
strategy like the main job); the lab is removed at the end.
The wall times are printed (pytest -s) for the closing notes.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(
    not os.environ.get("CW_LAB_E2E"), reason="the lab run is CW_LAB_E2E=1 (make test)"
)
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def run(*command: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return done, time.monotonic() - start


def recap(output: str) -> dict[str, tuple[int, int, int, int]]:
    return {m[0]: (int(m[1]), int(m[2]), int(m[3]), int(m[4])) for m in RECAP.findall(output)}


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, float]]:
    run("bash", "scripts/lab.sh", "down")
    times: dict[str, float] = {}
    try:
        yield times
    finally:
        run("bash", "scripts/lab.sh", "down")
        for label, seconds in times.items():
            print(f"lab: {label}: {seconds:.0f} s")


def test_main_job_first_run(lab: dict[str, float]) -> None:
    done, lab["main job, first run (lab up + site.yml + bench)"] = run("bash", "scripts/lab.sh", "up")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "settings:" in done.stdout and "report:" in done.stdout, done.stdout[-2000:]
    hosts = recap(done.stdout)
    assert hosts and all(failed == 0 and unreachable == 0 for _, _, unreachable, failed in hosts.values())


def test_second_run_changes_nothing(lab: dict[str, float]) -> None:
    done, lab["site.yml no-op run (make lab-site)"] = run("bash", "scripts/lab.sh", "site")
    assert done.returncode == 0, done.stdout[-6000:]
    changed = {host: counts[1] for host, counts in recap(done.stdout).items() if counts[1]}
    assert not changed, f"changed on the second run: {changed}\n{done.stdout[-6000:]}"


def test_check_diff_reports_no_change(lab: dict[str, float]) -> None:
    done, lab["site.yml --check --diff (make lab-site)"] = run(
        "bash", "scripts/lab.sh", "site", "--check", "--diff"
    )
    assert done.returncode == 0, done.stdout[-6000:]
    changed = {host: counts[1] for host, counts in recap(done.stdout).items() if counts[1]}
    assert not changed, f"--check --diff reports changes: {changed}\n{done.stdout[-6000:]}"
