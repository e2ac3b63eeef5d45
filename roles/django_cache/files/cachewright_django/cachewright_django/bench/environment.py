"""Where a run happened: host, CPUs, load, platform, library versions, hiredis."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata
from typing import Any

LIBRARIES = ("django", "django-redis", "redis", "hiredis", "pymemcache", "pylibmc")


def library_versions() -> dict[str, str | None]:
    """Installed version of each library that shapes the results (None: not installed)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hiredis_available() -> bool:
    """redis-py parses replies with hiredis whenever hiredis is importable (redis.utils)."""
    try:
        from redis.utils import HIREDIS_AVAILABLE  # noqa: PLC0415 - optional library
    except ImportError:
        return False
    return bool(HIREDIS_AVAILABLE)


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (None where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_info() -> dict[str, Any]:
    """CPUs of the host and the CPUs this process may run on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    model = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            model = next((ln.split(":", 1)[1].strip() for ln in handle if ln.startswith("model name")), None)
    except OSError:
        pass
    return {"count": os.cpu_count(), "usable": usable, "model": model}


def collect(placement: str | None) -> dict[str, Any]:
    """The ``environment`` object of a result document (loadavg_end is added at the end)."""
    return {
        "hostname": socket.gethostname(),
        "fqdn": socket.getfqdn(),
        "placement": placement or "not stated",
        "platform": platform.platform(),
        "kernel": platform.release(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "cpu": cpu_info(),
        "loadavg_start": load_average(),
        "loadavg_end": None,
        "libraries": library_versions(),
        "hiredis_available": hiredis_available(),
        "pid": os.getpid(),
    }
