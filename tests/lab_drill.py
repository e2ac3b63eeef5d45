# SPDX-License-Identifier: Apache-2.0
"""Writers on the lab's app host while the tier changes (tests/test_lab_main_job.py).

``manage.py cachedrill`` (cachewright_django/drill.py) runs on the app host
with the generated settings: it seeds keys before the changes, writes through each change,
and counts afterwards what was kept, what was lost and how long writers got errors.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

APP_HOST = "cw-lab-app-1"
PROJECT = "/var/lib/cachewright/django-probe"
SETTINGS = "cachewright_probe.settings"
VENV_PYTHON = "/opt/cachewright/venv/bin/python"
WORKDIR = "/var/lib/cachewright/drill"
# The replicated Redis aliases (Sentinel cache and sessions, the cluster) and the memcached
# pool, whose instances restart with warm restart.
ALIASES = ("default", "sessions", "cluster", "fragments")


def _exec(*args: str, detach: bool = False, check: bool | None = None) -> subprocess.CompletedProcess[str]:
    command = [
        "docker",
        "exec",
        *(["-d"] if detach else []),
        "-w",
        PROJECT,
        "-e",
        f"DJANGO_SETTINGS_MODULE={SETTINGS}",
    ]
    return subprocess.run(
        [*command, APP_HOST, "runuser", "-u", "django", "--", *args],
        capture_output=True, text=True, check=(not detach) if check is None else check,
    )  # fmt: skip


def manage(command: str, *args: str) -> Any:
    """A management command of cachewright_django on the app host; its JSON output."""
    done = _exec(VENV_PYTHON, "manage.py", command, *args, check=False)
    assert done.stdout.strip(), f"manage.py {command}: {done.stderr[-2000:]}"
    return json.loads(done.stdout)


def cachedrill(*args: str) -> Any:
    return manage("cachedrill", *args)


@dataclass
class Drill:
    """One drill on the lab: a run name, its seed keys, and a record per change."""

    run: str
    keys: int
    # The settings file the writers read anew when it changes (as a restarted app), if any.
    follow_settings: str = ""
    aliases: tuple[str, ...] = ALIASES
    # Aliases that also get an app overwriting and deleting keys (stale reads counted).
    invalidate: tuple[str, ...] = ()
    # A new connection (and login) for every write: how a password change is felt.
    fresh_connections: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)

    def seed(self) -> None:
        subprocess.run(["docker", "exec", APP_HOST, "install", "-d", "-o", "django", WORKDIR], check=True)
        if self.keys:
            cachedrill("seed", "--run", self.run, "--keys", str(self.keys), "--aliases", *self.aliases)

    def through(self, phase: str, change: Any) -> dict[str, Any]:
        """Writers on every alias while change() runs; what was kept and lost, per alias."""
        stop, out = f"{WORKDIR}/{phase}.stop", f"{WORKDIR}/{phase}.json"
        _exec("rm", "-f", stop, out)
        _exec(
            VENV_PYTHON, "manage.py", "cachedrill", "write", "--run", self.run, "--phase", phase,
            "--stop-file", stop, "--out", out, "--aliases", *self.aliases,
            *(["--follow-settings", self.follow_settings] if self.follow_settings else []),
            *(["--invalidate", *self.invalidate] if self.invalidate else []),
            *(["--fresh-connections"] if self.fresh_connections else []), detach=True,
        )  # fmt: skip
        time.sleep(2)
        start = time.monotonic()
        outcome = change()
        seconds = time.monotonic() - start
        time.sleep(1)
        _exec("touch", stop)
        deadline = time.monotonic() + 90
        while not self._exists(out):
            assert time.monotonic() < deadline, f"the {phase} writers did not stop"
            time.sleep(0.5)
        report = cachedrill(
            "verify", "--run", self.run, "--keys", str(self.keys), "--writes", out, "--aliases", *self.aliases
        )
        row = {"phase": phase, "seconds": round(seconds, 1), "aliases": report, "outcome": outcome}
        self.rows.append(row)
        return row

    @staticmethod
    def _exists(path: str) -> bool:
        probe = ["docker", "exec", APP_HOST, "test", "-s", path]
        return subprocess.run(probe, check=False).returncode == 0

    def table(self) -> list[str]:
        """The drill's figures, a line per change and alias."""
        lines = []
        for row in self.rows:
            lines.append(f"drill {row['phase']}: {row['seconds']} s")
            for alias, figures in row["aliases"].items():
                kept = (
                    f"keys before {figures['seed_before']} after {figures['seed_after']}, "
                    if self.keys
                    else ""
                )
                lines.append(
                    f"drill {row['phase']} {alias}: {kept}"
                    f"writes acknowledged {figures['acknowledged']} lost {figures['acknowledged_lost']}, "
                    f"failed {figures['failed']}, longest error window {figures['longest_window_s']} s "
                    f"(windows {figures['windows']}), slowest acknowledged write {figures['slowest_ack_s']} s"
                )
                if "invalidation" in figures:
                    lines.append(invalidation_line(row["phase"], alias, figures["invalidation"]))
        return lines


def invalidation_line(phase: str, alias: str, figures: dict[str, Any]) -> str:
    """One alias's invalidation figures: what the app read during and after the change."""
    share = figures["misses"] / figures["reads"] if figures["reads"] else 0.0
    return (
        f"drill {phase} {alias} invalidation: {figures['overwritten']} keys overwritten and "
        f"{figures['deleted']} deleted once each; during: {figures['reads']} reads, "
        f"{figures['stale_reads']} stale, misses {share:.1%}, read errors {figures['read_errors']}, "
        f"changes failed {figures['failed']}, longest error window {figures['longest_window_s']} s; "
        f"afterwards: {figures['stale_overwrites']} stale overwrites, "
        f"{figures['resurrected_deletes']} resurrected deletes, "
        f"{figures['missing_overwrites']} overwrites missing; servers with undelivered changes "
        f"{figures['undelivered']}"
    )


def assert_fresh(rows: list[dict[str, Any]]) -> None:
    """No read, during or after any phase, saw a value from before a change the app made."""
    for row in rows:
        for alias, figures in row["aliases"].items():
            found = figures.get("invalidation")
            if found is None:
                continue
            where = f"{row['phase']} / {alias}"
            assert found["steps"] > 0, f"{where}: the invalidation writer changed nothing"
            assert found["stale_reads"] == 0, f"{where}: stale reads during the change: {found}"
            assert found["stale_overwrites"] == 0, f"{where}: overwritten keys read their old value: {found}"
            assert found["resurrected_deletes"] == 0, f"{where}: deleted keys came back: {found}"
