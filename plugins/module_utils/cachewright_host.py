# SPDX-License-Identifier: Apache-2.0
"""What Cachewright's modules read of a service's process on the host."""

from __future__ import annotations

import os
from typing import Any


def service_argument_spec() -> dict[str, Any]:
    """The options of the instance modules that act (doc_fragments/service_instances.py)."""
    return {
        "state": {"type": "str", "choices": ["restarted", "reloaded"], "required": True},
        "only_outdated": {"type": "bool", "default": False},
        "daemon_reload": {"type": "bool", "default": False},
    }


def process_argv(pid: int) -> list[str]:
    """The command line of a process ([] when it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as stream:
            return [part.decode() for part in stream.read().split(b"\0") if part]
    except OSError:
        return []


def _started_at(pid: int) -> float:
    """When the process started, in seconds since the epoch (/proc/<pid>/stat and btime)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
        # The command name (field 2) may hold spaces: the fields after it follow the last ')'.
        fields = stream.read().rsplit(")", 1)[1].split()
    with open("/proc/stat", encoding="ascii") as stream:
        boot = next(int(line.split()[1]) for line in stream if line.startswith("btime "))
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def process_outdated(pid: int) -> bool:
    """Whether a package upgrade replaced the binary the process runs since it started.

    The kernel marks the replaced binary "(deleted)"; reading that link needs ptrace rights
    a container's root may lack, and then the binary's change time is compared with the
    process's start.
    """
    try:
        return os.readlink(f"/proc/{pid}/exe").endswith(" (deleted)")
    except OSError:
        pass
    argv = process_argv(pid)
    if not argv:
        return False
    # Redis rewrites its process title ("/usr/bin/redis-server 127.0.0.1:6379").
    binary = argv[0].split(" ")[0]
    try:
        return os.stat(binary).st_ctime > _started_at(pid)
    except (OSError, StopIteration, IndexError, ValueError):
        return False
