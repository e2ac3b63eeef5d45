# SPDX-License-Identifier: Apache-2.0
"""Cachewright's Redis basics, shared by the Redis modules of plugins/modules.

How to reach an instance (its unix socket, a peer over TCP/TLS, a Sentinel), what it is
(role, replicas, persistence), the Sentinels that watch it, and the health gates every
operation waits for. With redis-py (Debian's python3-redis on the hosts). The hand-over of
a primary's role is in cachewright_redis_handover, the restart path in
cachewright_redis_restart. Tested against live servers: tests/test_module_utils_redis.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    REDIS_IMPORT_ERROR: ImportError | None = None
except ImportError as error:  # pragma: no cover - reported by the modules
    redis = None  # type: ignore[assignment]
    REDIS_IMPORT_ERROR = error

# How long writes may be held on a primary while its role is handed to a replica; the
# pause ends earlier, as soon as the hand-over is done.
PAUSE_MS = 10000
# Sentinels publish a hello on every instance they watch every 2 seconds.
HELLO_SECONDS = 2.5
CHANNEL = "__sentinel__:hello"


def config_key(line: str) -> str | None:
    """The directive a config line sets ("sentinel monitor" for Sentinel's own), or None."""
    words = line.split()
    if not words or words[0].startswith("#"):
        return None
    key = words[0].lower()
    return f"{key} {words[1].lower()}" if key == "sentinel" and len(words) > 1 else key


def carried_config(old: str, owned: str) -> str:
    """A server-owned main file carried to another server's paths: every line kept but those
    that set what the Ansible-owned file (loaded after it) sets. Those win at start anyway,
    and they name the old server's paths (CONFIG REWRITE writes `dir "/var/lib/redis/..."`,
    which the new server, another user, may not even enter)."""
    overridden = {key for key in map(config_key, owned.splitlines()) if key}
    kept = [line for line in old.splitlines() if config_key(line) not in overridden]
    return "\n".join(kept) + "\n"


def carry_argument_spec(**more: dict[str, Any]) -> dict[str, Any]:
    """The option of a switch of unit that says what to copy from the old paths to the new:
    `from`, `to`, the copies' `owner` and `group`, the Ansible-owned file (`owned_config`)
    whose directives the copy of a main file leaves out, and `more`."""
    return {
        "type": "dict",
        "options": {
            "from": {"type": "str", "required": True},
            "to": {"type": "str", "required": True},
            "owner": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "owned_config": {"type": "str"},
            **more,
        },
    }


def write_carried(source: str, owned: str, target: str, uid: int, gid: int) -> None:
    """Write `source` carried (carried_config) to `target`, owned by uid:gid, mode 0640."""
    with open(source, encoding="utf-8") as stream:
        old = stream.read()
    text = ""
    if owned and os.path.exists(owned):
        with open(owned, encoding="utf-8") as stream:
            text = stream.read()
    with open(target, "w", encoding="utf-8") as stream:
        stream.write(carried_config(old, text))
    os.chown(target, uid, gid)
    os.chmod(target, 0o640)


def access_argument_spec() -> dict[str, Any]:
    """The options every Redis module reaches instances and Sentinels with (documented in
    doc_fragments/cachewright_redis_access.py and cachewright_tls_client.py)."""
    return {
        "socket": {"type": "str", "default": "/run/redis-{name}/redis-server.sock"},
        "admin_user": {"type": "str", "required": True},
        "admin_password": {"type": "str", "required": True, "no_log": True},
        "tls": {"type": "bool", "default": False},
        "sentinel_password": {"type": "str", "default": "", "no_log": True},
        "sentinel_tls": {"type": "bool"},
        "wait_seconds": {"type": "int", "default": 60},
        **tls_client_argument_spec(),
    }


def local_sentinel_argument_spec() -> dict[str, Any]:
    """The options a module reaches this host's own Sentinel with (port on 127.0.0.1, the
    Sentinels' password, TLS and the client's files; doc_fragments/local_sentinel.py and
    tls_client.py)."""
    return {
        "port": {"type": "int", "default": 26379},
        "password": {"type": "str", "default": "", "no_log": True},
        "tls": {"type": "bool", "default": False},
        **tls_client_argument_spec(),
    }


def local_sentinel(params: dict[str, Any]) -> redis.Redis:
    """A client of this host's Sentinel, from the options of local_sentinel_argument_spec()."""
    access = Access(
        admin_user="",
        admin_password="",
        tls=params["tls"],
        ca_certificate=params["tls_ca_certificate"] or "",
        certificate=params["tls_certificate"] or "",
        private_key=params["tls_private_key"] or "",
        sentinel_password=params["password"],
    )
    return access.sentinel("127.0.0.1", params["port"])


def require_redis(module: Any) -> None:
    """Stop the module with a clear message when redis-py is missing; a check run on a host
    that has not got it yet reports nothing to do."""
    if REDIS_IMPORT_ERROR is None:
        return
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="redis-py is not installed yet (check mode)")
    module.fail_json(
        msg=missing_required_lib("redis (Debian: python3-redis)"), exception=str(REDIS_IMPORT_ERROR)
    )


class GateError(Exception):
    """A health gate did not pass in time, or a step of the safe path was refused."""


@dataclass
class Access:
    """How to reach instances: the admin user, TLS files for TCP peers, Sentinel's password."""

    admin_user: str
    admin_password: str
    tls: bool = False
    ca_certificate: str = ""
    certificate: str = ""
    private_key: str = ""
    sentinel_password: str = ""
    sentinel_tls: bool | None = None
    timeout: float = 5.0
    # One client per peer for the whole run: a TLS handshake per poll would slow the gates.
    _clients: dict[tuple[str, str, int], Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Access:
        """From a module's options (access_argument_spec)."""
        return cls(
            admin_user=params.get("admin_user") or "",
            admin_password=params.get("admin_password") or "",
            tls=bool(params.get("tls")),
            ca_certificate=params.get("tls_ca_certificate") or "",
            certificate=params.get("tls_certificate") or "",
            private_key=params.get("tls_private_key") or "",
            sentinel_password=params.get("sentinel_password") or "",
            sentinel_tls=params.get("sentinel_tls"),
        )

    def _common(self) -> dict[str, Any]:
        return {
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "decode_responses": True,
            "retry": Retry(NoBackoff(), 0),
        }

    def _tls(self, on: bool) -> dict[str, Any]:
        if not on:
            return {}
        return {
            "ssl": True,
            "ssl_cert_reqs": "required",
            "ssl_ca_certs": self.ca_certificate or None,
            "ssl_certfile": self.certificate or None,
            "ssl_keyfile": self.private_key or None,
            # Peers are reached by the address they announce, which their certificate
            # need not name (cache_pki puts the addresses it saw in it, not later ones).
            "ssl_check_hostname": False,
        }

    def local(self, socket_path: str) -> redis.Redis:
        """The instance on this host, through its unix socket."""
        return redis.Redis(
            unix_socket_path=socket_path,
            username=self.admin_user,
            password=self.admin_password,
            **self._common(),
        )

    def remote(self, host: str, port: int) -> redis.Redis:
        """Another instance (a primary, a replica, a cluster node) over TCP."""
        key = ("instance", host, int(port))
        if key not in self._clients:
            self._clients[key] = redis.Redis(
                host=host,
                port=int(port),
                username=self.admin_user,
                password=self.admin_password,
                **self._common(),
                **self._tls(self.tls),
            )
        return self._clients[key]

    def sentinel(self, host: str, port: int) -> redis.Redis:
        """A Sentinel, with the Sentinels' own password."""
        key = ("sentinel", host, int(port))
        if key not in self._clients:
            tls = self.tls if self.sentinel_tls is None else self.sentinel_tls
            self._clients[key] = redis.Redis(
                host=host,
                port=int(port),
                password=self.sentinel_password or None,
                **self._common(),
                **self._tls(tls),
            )
        return self._clients[key]


def wait_until(
    what: str, probe: Callable[[], tuple[bool, str]], timeout: float, interval: float = 0.1
) -> float:
    """Call probe until it says done; the seconds it took. GateError after timeout.

    probe returns (done, what it saw); a connection error counts as not done yet.
    """
    start = time.monotonic()
    seen = "nothing yet"
    while True:
        try:
            done, seen = probe()
        except (redis.RedisError, OSError) as error:
            done, seen = False, f"{type(error).__name__}: {error}"
        if done:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise GateError(f"{what}: not reached within {timeout:.0f} s (last seen: {seen})")
        time.sleep(interval)


def while_loading(call: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """call(), again while the node answers LOADING (it loads its data after a full resync,
    e.g. a replica that migrated to another primary): most commands, CLUSTER NODES among
    them, are refused until it is done. Other errors, and LOADING past timeout, are raised."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except redis.BusyLoadingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


@dataclass
class Replica:
    """One replica as its primary lists it in INFO replication."""

    host: str
    port: int
    state: str
    offset: int

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def replicas_of(info: dict[str, Any]) -> list[Replica]:
    """The replicas a primary's INFO replication lists (slave0, slave1, ...)."""
    found = []
    for key, value in info.items():
        if key.startswith("slave") and key[5:].isdigit() and isinstance(value, dict):
            found.append(
                Replica(str(value["ip"]), int(value["port"]), str(value["state"]), int(value["offset"]))
            )
    return found


@dataclass
class Snapshot:
    """What the safe path needs to know of one instance, read at one moment."""

    name: str
    role: str
    replication: dict[str, Any]
    persistence: dict[str, Any]
    cluster: bool
    process_id: int
    uptime: int

    @property
    def primary(self) -> bool:
        return self.role == "master"

    @property
    def loading(self) -> bool:
        return int(self.persistence.get("loading", 0)) == 1


def read_snapshot(client: redis.Redis, name: str) -> Snapshot:
    info = client.info("everything")
    return Snapshot(
        name=name,
        role=str(info["role"]),
        replication={k: v for k, v in info.items() if k.startswith(("slave", "master", "connected"))},
        persistence={"loading": info.get("loading", 0), "aof_enabled": info.get("aof_enabled", 0)},
        cluster=int(info.get("cluster_enabled", 0)) == 1,
        process_id=int(info["process_id"]),
        uptime=int(info["uptime_in_seconds"]),
    )


def persistence_of(client: redis.Redis) -> str:
    """none, rdb, aof or rdb+aof, as the running instance is configured now."""
    aof = client.config_get("appendonly").get("appendonly") == "yes"
    rdb = bool(client.config_get("save").get("save", "").strip())
    return "+".join(kind for kind, on in (("rdb", rdb), ("aof", aof)) if on) or "none"


def cluster_replicas(nodes_text: str) -> tuple[str, list[str]]:
    """From CLUSTER NODES as seen by a node: its address and its healthy replicas' addresses."""
    rows = [line.split() for line in nodes_text.splitlines() if line.strip()]
    me = next(row for row in rows if "myself" in row[2].split(","))
    healthy = [
        row[1].split("@")[0]
        for row in rows
        if row[3] == me[0]
        and "slave" in row[2].split(",")
        and not {"fail", "fail?", "noaddr", "handshake"} & set(row[2].split(","))
        and row[7] == "connected"
    ]
    return me[1].split("@")[0], healthy


def _hellos(client: redis.Redis, seconds: float) -> list[list[str]]:
    """The hello messages Sentinels publish on this instance within `seconds`, as fields:
    Sentinel ip, port, run ID, epoch, master name, master ip, master port, config epoch.
    An instance no Sentinel watches (nobody subscribed to the channel) gives [] at once."""
    subscribed = client.execute_command("PUBSUB", "NUMSUB", CHANNEL)
    if not int(subscribed[1] if isinstance(subscribed, list) else dict(subscribed).get(CHANNEL, 0)):
        return []
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    found: list[list[str]] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
            if not message or message.get("type") != "message":
                continue
            data = message["data"]
            fields = (data.decode() if isinstance(data, bytes) else str(data)).split(",")
            if len(fields) >= 8:
                found.append(fields)
    finally:
        pubsub.close()
    return found


def discover_sentinels(client: redis.Redis, seconds: float = HELLO_SECONDS) -> list[tuple[str, int, str]]:
    """The Sentinels watching this instance, from their hello messages: (host, port, master name).

    Every Sentinel publishes one on each instance it watches every 2 seconds. An instance
    no Sentinel watches gives [].
    """
    found = {(fields[0], int(fields[1])): fields[4] for fields in _hellos(client, seconds)}
    return [(host, port, master) for (host, port), master in sorted(found.items())]


def announced_primary(client: redis.Redis, seconds: float = HELLO_SECONDS) -> tuple[str, int] | None:
    """The primary the Sentinels watching this instance announce now (their hello messages
    carry it; the newest configuration epoch wins), or None when no Sentinel watches it."""
    hellos = _hellos(client, seconds)
    if not hellos:
        return None
    newest = max(hellos, key=lambda fields: int(fields[7]))
    return newest[5], int(newest[6])


# -- gates ---------------------------------------------------------------------------
def gate_up(client: redis.Redis, label: str, timeout: float) -> float:
    """The instance answers and has loaded its data set."""

    def probe() -> tuple[bool, str]:
        snap = read_snapshot(client, label)
        return not snap.loading, f"role {snap.role}, loading {int(snap.loading)}"

    return wait_until(f"{label} back and loaded", probe, timeout)


def gate_settled(client: redis.Redis, label: str, timeout: float) -> float:
    """The instance is neither loading its data nor rewriting its AOF. A SIGTERM while it
    writes its first AOF (right after a replica's full sync) is refused ("Writing initial
    AOF, can't exit") and never tried again, and Debian's units wait for the stop without a
    time limit: a restart waits for this first."""

    def probe() -> tuple[bool, str]:
        info = client.info("persistence")
        busy = [
            key for key in ("loading", "async_loading", "aof_rewrite_in_progress") if int(info.get(key) or 0)
        ]
        return not busy, f"busy: {', '.join(busy) or 'no'}"

    return wait_until(f"{label} neither loading nor rewriting its AOF", probe, timeout)


def gate_in_sync(access: Access, client: redis.Redis, label: str, timeout: float) -> float:
    """A replica is linked to its primary, not syncing, and has every write the primary
    had when the link came up."""

    def linked() -> tuple[bool, str]:
        info = client.info("replication")
        ok = (
            info.get("role") == "slave"
            and info.get("master_link_status") == "up"
            and int(info.get("master_sync_in_progress", 1)) == 0
        )
        return ok, (
            f"role {info.get('role')}, link {info.get('master_link_status')}, "
            f"sync in progress {info.get('master_sync_in_progress')}"
        )

    seconds = wait_until(f"{label} linked to its primary", linked, timeout)
    offsets: list[int] = []

    def primary_offset() -> tuple[bool, str]:
        info = client.info("replication")
        primary = access.remote(info["master_host"], info["master_port"])
        offsets.append(int(primary.info("replication")["master_repl_offset"]))
        return True, ""

    seconds += wait_until(f"{label}: its primary's replication offset", primary_offset, timeout)

    def caught_up() -> tuple[bool, str]:
        have = int(client.info("replication").get("slave_repl_offset", -1))
        return have >= offsets[-1], f"offset {have} of {offsets[-1]}"

    return seconds + wait_until(f"{label} caught up with its primary", caught_up, timeout)


def gate_replicas_level(client: redis.Redis, label: str, timeout: float) -> float:
    """Every online replica of this primary has its whole replication stream."""

    def probe() -> tuple[bool, str]:
        info = client.info("replication")
        offset = int(info["master_repl_offset"])
        online = [r for r in replicas_of(info) if r.state == "online"]
        behind = [f"{r.host}:{r.port} at {r.offset}" for r in online if r.offset < offset]
        return bool(online) and not behind, f"offset {offset}, replicas {behind or 'none online'}"

    return wait_until(label, probe, timeout, interval=0.01)
