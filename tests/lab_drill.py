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
    rows: list[dict[str, Any]] = field(default_factory=list)

    def seed(self) -> None:
        subprocess.run(["docker", "exec", APP_HOST, "install", "-d", "-o", "django", WORKDIR], check=True)
        cachedrill("seed", "--run", self.run, "--keys", str(self.keys), "--aliases", *ALIASES)

    def through(self, phase: str, change: Any) -> dict[str, Any]:
        """Writers on every alias while change() runs; what was kept and lost, per alias."""
        stop, out = f"{WORKDIR}/{phase}.stop", f"{WORKDIR}/{phase}.json"
        _exec("rm", "-f", stop, out)
        _exec(
            VENV_PYTHON, "manage.py", "cachedrill", "write", "--run", self.run, "--phase", phase,
            "--stop-file", stop, "--out", out, "--aliases", *ALIASES,
            *(["--follow-settings", self.follow_settings] if self.follow_settings else []), detach=True,
        )  # fmt: skip
        time.sleep(2)
        start = time.monotonic()
        outcome = change()
        seconds = time.monotonic() - start
        time.sleep(1)
        _exec("touch", stop)
        deadline = time.monotonic() + 60
        while not self._exists(out):
            assert time.monotonic() < deadline, f"the {phase} writers did not stop"
            time.sleep(0.5)
        report = cachedrill(
            "verify", "--run", self.run, "--keys", str(self.keys), "--writes", out, "--aliases", *ALIASES
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
                lines.append(
                    f"drill {row['phase']} {alias}: keys before {figures['seed_before']} "
                    f"after {figures['seed_after']}, "
                    f"writes acknowledged {figures['acknowledged']} lost {figures['acknowledged_lost']}, "
                    f"failed {figures['failed']}, longest error window {figures['longest_window_s']} s "
                    f"(windows {figures['windows']}), slowest acknowledged write {figures['slowest_ack_s']} s"
                )
        return lines
