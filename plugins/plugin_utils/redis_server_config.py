# SPDX-License-Identifier: Apache-2.0
"""Which changed settings of a roles/redis_server instance the running server takes live
(CONFIG SET) and which need a restart, from its Ansible-owned file as it is and as it will be.

Tested by tests/test_redis_server_filters.py.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

# Directives the role's file or extra_config may carry that Redis 7.0+ and Valkey 8 accept
# with CONFIG SET on a running server, where the new value takes effect at once. Everything
# else (port, bind, unixsocket, databases, cluster-enabled, aclfile, io-threads, TLS files,
# masterauth, ...) goes through the safe restart path; a directive removed from the file
# restarts too (its default is the server's, unknown here).
_LIVE_DIRECTIVES = """
    active-defrag-cycle-max active-defrag-cycle-min active-defrag-ignore-bytes
    active-defrag-threshold-lower active-defrag-threshold-upper active-expire-effort activedefrag
    activerehashing aof-rewrite-incremental-fsync aof-timestamp-enabled aof-use-rdb-preamble
    appendfsync appendonly auto-aof-rewrite-min-size auto-aof-rewrite-percentage
    busy-reply-threshold client-query-buffer-limit cluster-node-timeout dynamic-hz hash-max-listpack-entries
    hash-max-listpack-value hash-max-ziplist-entries hash-max-ziplist-value hll-sparse-max-bytes hz
    latency-monitor-threshold latency-tracking lazyfree-lazy-eviction lazyfree-lazy-expire
    lazyfree-lazy-server-del lazyfree-lazy-user-del lazyfree-lazy-user-flush lfu-decay-time
    lfu-log-factor list-compress-depth list-max-listpack-size list-max-ziplist-size loglevel
    lua-time-limit maxclients maxmemory maxmemory-clients maxmemory-eviction-tenacity
    maxmemory-policy maxmemory-samples min-replicas-max-lag min-replicas-to-write
    no-appendfsync-on-rewrite proto-max-bulk-len rdb-save-incremental-fsync rdbchecksum
    rdbcompression repl-backlog-size repl-backlog-ttl repl-diskless-load repl-diskless-sync
    repl-diskless-sync-delay repl-diskless-sync-max-replicas repl-ping-replica-period repl-timeout
    replica-ignore-maxmemory replica-lazy-flush replica-priority replica-serve-stale-data save
    set-max-intset-entries set-max-listpack-entries set-max-listpack-value slowlog-log-slower-than
    slowlog-max-len stop-writes-on-bgsave-error stream-node-max-bytes stream-node-max-entries
    tcp-keepalive timeout tracking-table-max-keys zset-max-listpack-entries
    zset-max-listpack-value zset-max-ziplist-entries zset-max-ziplist-value
"""
LIVE = frozenset(_LIVE_DIRECTIVES.split())


def parse_config(text: str | None) -> dict[str, list[str]]:
    """A redis.conf text as {directive: [value of each line]}, directives lower-cased, each
    value with its quoting undone and its words joined by one space (as CONFIG SET takes it)."""
    found: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = stripped.split(None, 1)
        directive, rest = parts[0], parts[1] if len(parts) > 1 else ""
        try:
            words = shlex.split(rest)
        except ValueError:
            words = [rest.strip()]
        found.setdefault(directive.lower(), []).append(" ".join(words) if words else "")
    return found


def redis_server_config_change(current: str | None, wanted: str) -> dict[str, Any]:
    """How an instance gets from its Ansible-owned file as it is (`current`; None or empty
    when it has none) to the one this run writes (`wanted`).

    Returns ``{"live": {directive: value}, "restart": [directive, ...]}``: the changed
    directives a running server takes with CONFIG SET, and those that need a restart. A first
    file (no current one) is ``{"live": {}, "restart": ["(new file)"]}``. Both empty: no
    setting changes (comments may).
    """
    if not current:
        return {"live": {}, "restart": ["(new file)"]}
    before, after = parse_config(current), parse_config(wanted)
    live: dict[str, str] = {}
    restart: list[str] = []
    for directive in sorted(set(before) | set(after)):
        old, new = before.get(directive), after.get(directive)
        if old == new:
            continue
        if directive in LIVE and new is not None and len(new) == 1 and (old is None or len(old) == 1):
            live[directive] = new[0]
        else:
            restart.append(directive)
    return {"live": live, "restart": restart}


def redis_server_config_plan(
    current: Mapping[str, str | None], wanted: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The instances whose settings change, split by path: ``{"live": {name: {directive:
    value}}, "restart": {name: [directive, ...]}}``. An instance with any directive that needs
    a restart restarts (its live ones come with it); one whose changes are all live is not
    restarted. An instance without a file yet is in neither: it starts with the new one.
    `current` and `wanted` map instance names to file texts."""
    plan: dict[str, dict[str, Any]] = {"live": {}, "restart": {}}
    for name, text in wanted.items():
        if not current.get(name):
            continue
        change = redis_server_config_change(current.get(name), text)
        if change["restart"]:
            plan["restart"][name] = change["restart"]
        elif change["live"]:
            plan["live"][name] = change["live"]
    return plan
