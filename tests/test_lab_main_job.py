# SPDX-License-Identifier: Apache-2.0
"""The README's main job, end to end on the lab (run by the test command with CW_LAB_E2E=1).

lab up -> site.yml -> bench play (`make lab`); a read right after a write sees it on every
Redis alias (100 B to 512 KiB values); every alias keeps Django's cache contract; each
DatabaseCache table is written and read on its own database (PostgreSQL, SQLite); then the
change drill: writers through the generated settings on the replicated Redis aliases and the
memcached pool while (a) site.yml rolls out a change that needs restarts, (b)
playbooks/rolling_restart.yml, (c) playbooks/rotate_certificates.yml and (d)
playbooks/failover_drill.yml run - no key written before lost, no acknowledged write lost,
and an app that overwrites and deletes memcached keys never reads a value from before its
change (again through a SIGKILL of one memcached instance); an app user's Redis password
rotated while writers log in anew for every write (0 errors); settings a running server takes
set live under writers (0 errors, no instance restarted); a site.yml run whose Redis
password is too short is refused before its memcached play changes anything;
then a site.yml run that must change nothing, then `--check --diff` that must report no
change (both `make lab-site`, Mitogen's strategy like the main job); the lab is removed at
the end. Between them: the host firewalls let each cache port be reached by the hosts that
need it only (tried from the app host, a Redis host and the database host, which is none of
theirs), the memcached pool refuses a TLS client without a certificate, and no password of
the lab's inventory appears in any playbook's output, `--diff` included.
The wall times and the drill's figures are printed (pytest -s) for the closing notes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT
from lab_drill import Drill, assert_fresh, cachedrill, manage
from lab_tier import problems, tier_state

pytestmark = pytest.mark.skipif(
    not os.environ.get("CW_LAB_E2E"), reason="the lab run is CW_LAB_E2E=1 (make test)"
)
# (a) of the drill: a Redis setting and a memcached option that need restarts (warm restart
# stays possible: the memory and item size do not change). The runs after it keep them.
# It also rewrites the app's settings module (which holds passwords), run with --diff.
# always-show-logo: one Redis and Valkey read at start only (CONFIG SET refuses it).
CHANGE = {
    "redis_server_extra_config": {"always-show-logo": "yes"},
    "memcached_max_connections": 1100,
    "django_cache_disable_env": "CW_LAB_DISABLE_CACHE",
}
# (e) of the drill, on a Redis lab: the switch to Valkey in place (playbooks/migrate_to_valkey.yml).
# Every run after it keeps the flavour. A lab started as Valkey (CW_FLAVOR=valkey) skips it.
MIGRATION = {"redis_server_flavor": "valkey"}
MIGRATES = (os.environ.get("CW_FLAVOR") or "redis") == "redis"
SETTINGS_FILE = "/etc/cachewright/django/cache_settings.py"
# An error window per restart longer than this means the restart path is broken; the
# figures themselves are printed.
WINDOW_BOUND_S = 5.0
# A host lost for good: Sentinel and the cluster notice it after their down-after and node
# timeouts (5 s each in the lab), then promote; writers get errors until then.
LOSS_WINDOW_BOUND_S = 15.0
CLUSTER_PORTS = [7000, 7001]
# Holds the lost host's address while its replacement comes up (a new machine, a new address).
PLACEHOLDER = "cw-lab-placeholder"
# The host the growth drill adds (tests/data/lab_grow_redis) and then removes.
GROWN_HOST = "cw-lab-redis-4"
# The memcached host the pool drill adds (tests/data/lab_grow_memcached) and then removes.
GROWN_MEMCACHED = "cw-lab-mc-4"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


LAB = ROOT / "inventories" / "lab"
# Every playbook output of the run, for the check that none shows a password.
OUTPUTS: dict[str, str] = {}


def run(*command: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    OUTPUTS[" ".join(command)] = done.stdout + done.stderr
    return done, time.monotonic() - start


def lab_vars(group: str, name: str) -> dict[str, Any]:
    return yaml.safe_load((LAB / "group_vars" / group / name).read_text(encoding="utf-8"))


def lab_hosts(group: str) -> list[str]:
    inventory = yaml.safe_load((LAB / "hosts.yml").read_text(encoding="utf-8"))
    return sorted(inventory["all"]["children"][group]["hosts"])


# Tries TCP connections from inside a lab container (argv: JSON [[host, port], ...]) and
# prints what each did: open, refused (a reset) or dropped (no answer within 2 s).
REACH = """
import json, socket, sys
from concurrent.futures import ThreadPoolExecutor
def attempt(target):
    try:
        socket.create_connection(tuple(target), timeout=2).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "dropped"
targets = json.loads(sys.argv[1])
with ThreadPoolExecutor(len(targets)) as pool:
    print(json.dumps([[h, p, r] for (h, p), r in zip(targets, pool.map(attempt, targets))]))
"""


def reach(container: str, targets: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    done = subprocess.run(
        ["docker", "exec", container, "python3", "-c", REACH, json.dumps(targets)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {(host, port): result for host, port, result in json.loads(done.stdout)}


def lab_secrets() -> list[str]:
    """Every password of the lab's inventory (the values of keys that name one)."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and "password" in key and "{{" not in value:
            found.append(value)

    walk(lab_vars("all", "lab_secrets.yml"))
    return found


def drill_report(path: Path) -> list[str]:
    """The rows of playbooks/failover_drill.yml's report, a line each."""
    if not path.exists():
        return []
    doc = json.loads(path.read_text(encoding="utf-8"))
    return [
        f"failover_drill.yml {kind}: {row['group']} ({row['via']}) {row['old']} -> {row['new']}: "
        f"writes held {row['held_seconds']} s, its client refused {row['refused_seconds']} s, "
        f"gates passed in {row['seconds']} s"
        for kind in ("failovers", "put_back")
        for row in doc[kind]
        if row.get("done")
    ]


def lab_playbook(lab: dict[str, float], label: str, *command: str) -> dict[str, int]:
    """scripts/lab.sh with these arguments, timed under `label`; changed tasks per host."""
    done, lab[label] = run("bash", "scripts/lab.sh", *command)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
    return {host: counts[1] for host, counts in recap(done.stdout).items()}


def assert_kept(rows: list[dict[str, Any]], window_bound: float) -> None:
    """Every alias of every phase kept its keys and acknowledged writes, acknowledged some,
    and had no error window as long as `window_bound`."""
    for row in rows:
        for alias, figures in row["aliases"].items():
            where = f"{row['phase']} / {alias}"
            assert figures["seed_lost"] == 0, f"{where}: {figures['seed_lost']} keys written before lost"
            assert figures["acknowledged_lost"] == 0, f"{where}: acknowledged writes lost: {figures}"
            assert figures["acknowledged"] > 0, f"{where}: no write was acknowledged"
            assert figures["longest_window_s"] < window_bound, f"{where}: errors for {figures['windows']} s"


def through_without_errors(
    lab: dict[str, float], drill: Drill, phase: str, label: str, *command: str
) -> None:
    """The drill's writers through scripts/lab.sh with these arguments: every key and
    acknowledged write kept, and not one error on any alias; the figures printed."""
    drill.through(phase, lambda: lab_playbook(lab, label, *command))
    print()
    for line in drill.table():
        print(f"lab: {line}")
    assert_kept(drill.rows, WINDOW_BOUND_S)
    for alias, figures in drill.rows[-1]["aliases"].items():
        assert figures["failed"] == 0, f"{phase} / {alias}: the app got errors: {figures['windows']}"


def changed_tasks(output: str) -> list[str]:
    """'task: host' for every change a playbook's output reports."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]")[0]
        elif line.startswith("changed: ["):
            found.append(f"{task}: {line[10:].split(']')[0]}")
    return found


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
        print()  # after pytest's progress dots: each figure on a line of its own
        for label, seconds in times.items():
            print(f"lab: {label}: {seconds:.0f} s")


@pytest.fixture(scope="module")
def change_vars() -> Iterator[str]:
    """The drill's change, as an extra-vars file for every site.yml run after it."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "change.json"
        path.write_text(json.dumps(CHANGE), encoding="utf-8")
        yield f"@{path}"


def test_main_job_first_run(lab: dict[str, float]) -> None:
    done, lab["main job, first run (lab up + site.yml + bench)"] = run("bash", "scripts/lab.sh", "up")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert "settings:" in done.stdout and "report:" in done.stdout, done.stdout[-2000:]
    hosts = recap(done.stdout)
    assert hosts and all(failed == 0 and unreachable == 0 for _, _, unreachable, failed in hosts.values())


def test_each_cache_port_is_reached_only_by_the_hosts_that_need_it(lab: dict[str, float]) -> None:
    memcached = [
        (h, i["port"])
        for h in lab_hosts("memcached")
        for i in lab_vars("memcached", "memcached.yml")["memcached_instances"]
    ]
    redis_vars = lab_vars("redis", "redis.yml")
    instances = redis_vars["redis_server_instances"]
    redis = [(h, i["port"]) for h in lab_hosts("redis") for i in instances]
    bus = [(h, i["port"] + 10000) for h in lab_hosts("redis") for i in instances if i.get("cluster_enabled")]
    sentinel = [(h, 26379) for h in lab_hosts("redis")]
    every = memcached + redis + bus + sentinel
    intruder = reach("cw-lab-db-1", every)
    app = reach("cw-lab-app-1", every)
    peer = reach(lab_hosts("redis")[1], memcached + redis + bus + sentinel)
    print()
    for name, seen in (("database host (no client)", intruder), ("app host", app), ("Redis host", peer)):
        counts = {r: sum(1 for v in seen.values() if v == r) for r in ("open", "refused", "dropped")}
        print(f"lab: firewall from the {name}: {counts} of {len(seen)} cache ports")
    assert all(r == "dropped" for r in intruder.values()), {
        t: r for t, r in intruder.items() if r != "dropped"
    }
    assert all(app[t] == "open" for t in memcached + redis + sentinel), app
    assert all(app[t] == "dropped" for t in bus), {t: app[t] for t in bus}
    assert all(peer[t] == "open" for t in redis + bus + sentinel), peer
    assert all(peer[t] == "dropped" for t in memcached), {t: peer[t] for t in memcached}


# From the app host, trusting the lab's CA: a TLS port answers a request (memcached
# `version`, Redis and Sentinel `PING`: a reply, +PONG or -NOAUTH) only with the host's client
# certificate; without it the handshake is refused or the connection closed unanswered.
TLS_PROBE = """
import socket, ssl, sys
tls = "/etc/cachewright/django/tls/"
host, port, request, how = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode() + b"\\r\\n", sys.argv[4]
context = ssl.create_default_context(cafile=tls + "ca.crt")
if how == "with":
    context.load_cert_chain(tls + "client.crt", tls + "client.key")
try:
    with context.wrap_socket(socket.create_connection((host, port), timeout=3), server_hostname=host) as s:
        s.sendall(request)
        print(s.recv(64).decode(errors="replace").strip() or "closed")
except (OSError, ssl.SSLError) as error:
    print(type(error).__name__, error)
"""


def test_tls_ports_want_a_client_certificate(lab: dict[str, float]) -> None:
    targets = [(h, 11211, "version") for h in lab_hosts("memcached")]
    targets += [(h, p, "PING") for h in lab_hosts("redis") for p in (6379, 26379)]
    for host, port, request in targets:
        seen = {
            how: subprocess.run(
                ["docker", "exec", "cw-lab-app-1", "python3", "-c", TLS_PROBE, host, str(port), request, how],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            for how in ("with", "without")
        }
        with_, without = seen["with"][:40], seen["without"][:60]
        print(f"lab: TLS {host}:{port} with a client certificate: {with_!r}, without: {without!r}")
        assert seen["with"][:1] in ("V", "+", "-"), seen
        assert seen["without"][:1] not in ("V", "+", "-"), seen


def test_every_read_sees_the_write_just_made(lab: dict[str, float]) -> None:
    start = time.monotonic()
    found = cachedrill("read-after-write", "--aliases", "default", "sessions", "cluster")
    lab["read after write, 3 Redis aliases"] = time.monotonic() - start
    print()
    for alias, reads in found.items():
        print(f"lab: read after write {alias}: {reads}")
    missed = {a: r for a, r in found.items() if any(not v.startswith("0/") for v in r.values())}
    assert not missed, f"reads missed the write just made: {missed}"


def test_every_alias_keeps_the_cache_contract(lab: dict[str, float]) -> None:
    start = time.monotonic()
    results = manage("cache_contract", "--destructive", "--json")
    lab["cache contract, every alias"] = time.monotonic() - start
    print()
    for row in results:
        passed = [item for item, outcome in row["results"].items() if outcome == "ok"]
        others = {item: outcome for item, outcome in row["results"].items() if outcome != "ok"}
        print(f"lab: contract {row['alias']}: {len(passed)} ok{f', {others}' if others else ''}")
    broken = [
        f"{r['alias']}: {i}: {o}" for r in results for i, o in r["results"].items() if o.startswith("FAILED")
    ]
    assert not broken, broken


def test_database_caches_use_their_own_database(lab: dict[str, float]) -> None:
    # From the app host: each table's new row is on its own database only, and read there.
    results = {r["alias"]: r for r in manage("cache_roundtrip", "--aliases", "api", "exports", "--json")}
    for alias, result in results.items():
        outcome = "ok" if result["ok"] else result["error"]
        print(f"lab: database alias {alias}: {outcome}, last step {result['ops'][-1:]}")
        assert result["ok"] and result["ops"][-1] == "own database", result
    # And on the PostgreSQL host, with its own client: the app's table there, SQLite's not.
    done = subprocess.run(
        ["docker", "exec", "cw-lab-db-1", "runuser", "-u", "postgres", "--", "psql", "-At",
         "-d", "cachewright_app", "-c", "SELECT tablename FROM pg_tables WHERE tablename LIKE '%_cache'"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["api_cache"], done.stdout


def test_changes_keep_every_key(lab: dict[str, float], change_vars: str) -> None:
    drill = Drill(run=f"lab{int(time.time())}", keys=5000, invalidate=("fragments",))
    drill.seed()

    playbook = partial(lab_playbook, lab)

    # The failover drill's own report: what switched, how long writes were held and its probe
    # client refused.
    report = Path(change_vars[1:]).with_name("failover_drill.json")

    phases = [
        ("site", "drill (a) site.yml with a change that restarts", ("site", "--diff", "-e", change_vars)),
        (
            "rolling",
            "drill (b) rolling_restart.yml",
            ("play", "playbooks/rolling_restart.yml", "-e", change_vars),
        ),
        (
            "certificates",
            "drill (c) rotate_certificates.yml",
            ("play", "playbooks/rotate_certificates.yml", "-e", change_vars),
        ),
        (
            "failover",
            "drill (d) failover_drill.yml",
            (
                "play",
                "playbooks/failover_drill.yml",
                "-e",
                change_vars,
                "-e",
                "redis_server_drill_restore=true",
                "-e",
                f"redis_server_drill_report_file={report}",
            ),
        ),
    ]
    settings_before: list[str] = []

    def migrate() -> dict[str, int]:
        settings_before.append(settings_digest())
        Path(change_vars[1:]).write_text(json.dumps(CHANGE | MIGRATION), encoding="utf-8")
        return playbook(
            "drill (e) migrate_to_valkey.yml", "play", "playbooks/migrate_to_valkey.yml", "-e", change_vars
        )

    try:
        for phase, label, command in phases:
            drill.through(phase, lambda label=label, command=command: playbook(label, *command))
        if MIGRATES:
            drill.through("valkey", migrate)
    finally:
        print()
        for line in drill.table() + drill_report(report):
            print(f"lab: {line}")
    assert_kept(drill.rows, WINDOW_BOUND_S)
    assert_fresh(drill.rows)
    assert any(row["phase"] == "site" and any(row["outcome"].values()) for row in drill.rows), (
        "nothing restarted"
    )
    if MIGRATES:
        assert any(row["phase"] == "valkey" and any(row["outcome"].values()) for row in drill.rows), (
            "the migration changed nothing"
        )
        assert servers_running() == {"valkey"}, f"after the migration: {servers_running()}"
        # The same ports: the settings module the app imports is the same file.
        assert [settings_digest()] == settings_before, "the migration rewrote the Django settings"


def test_a_memcached_server_killed_serves_no_stale_value(lab: dict[str, float]) -> None:
    """SIGKILL to one pool instance under an app that overwrites and deletes: systemd starts
    it again (empty: no warm restart after a kill). Its keys and the writes it had
    acknowledged are gone, which a cache allows; a value from before a change is not."""
    host = lab_hosts("memcached")[0]
    unit = "memcached@pool.service"
    drill = Drill(run=f"kill{int(time.time())}", keys=0, aliases=("fragments",), invalidate=("fragments",))
    drill.seed()

    def main_pid() -> str:
        done = subprocess.run(
            ["docker", "exec", host, "systemctl", "show", "-p", "MainPID", "--value", unit],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    def kill() -> dict[str, str]:
        killed = main_pid()
        subprocess.run(["docker", "exec", host, "systemctl", "kill", "-s", "SIGKILL", unit], check=True)
        deadline = time.monotonic() + 60
        while main_pid() in (killed, "0", ""):
            assert time.monotonic() < deadline, f"{unit} on {host} did not start again"
            time.sleep(0.5)
        # The writers meet the new process for a few seconds before they stop.
        time.sleep(3)
        return {host: "killed"}

    try:
        drill.through("sigkill", kill)
    finally:
        for line in drill.table():
            print(f"lab: {line}")
    assert_fresh(drill.rows)
    figures = drill.rows[0]["aliases"]["fragments"]
    assert figures["failed"] > 0, f"the kill cost the writers nothing: {figures}"


def settings_digest() -> str:
    done = subprocess.run(
        ["docker", "exec", "cw-lab-app-1", "sha256sum", SETTINGS_FILE],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[0]


def servers_running() -> set[str]:
    """The servers the Redis hosts' processes run: redis, valkey (redis-server, valkey-sentinel...)."""
    names = set()
    for host in lab_hosts("redis"):
        done = subprocess.run(
            ["docker", "exec", host, "sh", "-c", "cat /proc/[0-9]*/comm"],
            capture_output=True,
            text=True,
            check=False,
        )
        names |= {
            comm.split("-")[0] for comm in done.stdout.split() if comm.startswith(("redis-", "valkey-"))
        }
    return names


def test_the_benchmark_after_the_migration_names_the_new_server(lab: dict[str, float]) -> None:
    # The first run's benchmark measured Redis; this one, after drill (e), Valkey: the report
    # compares the two runs and says that the server changed.
    done, lab["bench after the migration (playbooks/bench.yml)"] = run(
        "bash", "scripts/lab.sh", "play", "playbooks/bench.yml"
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    runs = sorted(p for p in (ROOT / "bench" / "results" / "lab").iterdir() if (p / "report.md").exists())
    assert len(runs) >= 2, runs
    report = (runs[-1] / "report.md").read_text(encoding="utf-8")
    measured = [line for line in report.splitlines() if "server: " in line or "Servers measured" in line]
    print("\n" + "\n".join(f"lab: report of {runs[-1].name}: {line.strip()}" for line in measured[:6]))
    if MIGRATES:
        assert "Redis 7.0" in report and "→ Valkey 8.0" in report, measured


def container_address(name: str) -> str:
    done = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def wait_for(what: str, probe: Any, seconds: float = 60) -> Any:
    """probe() until it returns something true; that."""
    deadline = time.monotonic() + seconds
    while not (seen := probe()):
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(1)
    return seen


def test_a_redis_host_destroyed_and_replaced(lab: dict[str, float], change_vars: str) -> None:
    """The Redis host that holds both Sentinel primaries is removed for good while writers
    run; once Sentinel and the cluster have promoted, a fresh empty container comes back
    under its name and one site.yml run makes the tier whole: its instances replicas again,
    no ghost in any table, the primaries spread, every Sentinel counting the right peers.
    (The no-op run after it is test_second_run_changes_nothing.)"""
    hosts = lab_hosts("redis")
    secrets = lab_vars("all", "lab_secrets.yml")
    passwords = secrets["redis_server_admin_password"], secrets["redis_sentinel_password"]
    before = tier_state(hosts[0], hosts, CLUSTER_PORTS, *passwords)
    assert not problems(before, hosts, CLUSTER_PORTS), problems(before, hosts, CLUSTER_PORTS)
    # The host of the cache group's primary (the sessions group's too, unless a drill before
    # split them), which also runs a cluster primary.
    victim = before["sentinels"][hosts[0]]["cache"]["primary"]
    survivor = next(h for h in hosts if h != victim)
    drill = Drill(run=f"replace{int(time.time())}", keys=5000)
    drill.seed()
    figures: dict[str, Any] = {}

    address = container_address(victim)
    others = [h for h in hosts if h != victim]

    def replace() -> dict[str, int]:
        start = time.monotonic()
        subprocess.run(["docker", "rm", "-f", victim], check=True, capture_output=True)
        # A new machine gets a new address: a placeholder takes the old one, so that every
        # table still lists the dead host's nodes and Sentinel at an address nobody answers.
        subprocess.run(
            ["docker", "run", "-d", "--name", PLACEHOLDER, "--network", "cachewright-lab",
             "--entrypoint", "sleep", "cachewright/debian:bookworm", "900"],
            check=True, capture_output=True,
        )  # fmt: skip

        def promoted() -> bool:
            seen = tier_state(survivor, others, CLUSTER_PORTS, *passwords)
            primaries = [g.get("primary") for g in seen["sentinels"][survivor].values()]
            return (
                len(primaries) == 2
                and not {victim, address} & set(primaries)
                and sum(seen["primaries_by_host"].get(h, 0) for h in others) == len(hosts)
                and all(n.get("state") == "ok" for n in seen["nodes"].values())
            )

        wait_for("Sentinel and the cluster promote replicas of the lost host", promoted)
        figures["promoted_s"] = round(time.monotonic() - start, 1)
        done, lab["drill replace: lab_up.yml (a fresh, empty container)"] = run(
            "bash", "scripts/lab.sh", "play", "molecule/shared/lab_up.yml"
        )
        assert done.returncode == 0, done.stdout[-4000:]
        done, lab["drill replace: site.yml (the documented step)"] = run(
            "bash", "scripts/lab.sh", "site", "-e", change_vars
        )
        assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-3000:]
        return {host: counts[1] for host, counts in recap(done.stdout).items()}

    try:
        row = drill.through("replace", replace)
    finally:
        subprocess.run(["docker", "rm", "-f", PLACEHOLDER], check=False, capture_output=True)
        print()
        for line in drill.table():
            print(f"lab: {line}")
    after = tier_state(survivor, hosts, CLUSTER_PORTS, *passwords)
    known = sorted({n.get("known", 0) for n in after["nodes"].values()})
    new_address = container_address(victim)
    assert new_address != address, "the replacement came back at the dead host's address"
    print(f"lab: drill replace: {victim} ({address}, back as {new_address}) destroyed; Sentinel and "
          f"the cluster had promoted in {figures.get('promoted_s')} s; after site.yml: "
          f"cluster_known_nodes {known}, "
          f"primaries by host {after['primaries_by_host']}, Sentinels "
          + "; ".join(f"{h}: {m}" for h, m in after["sentinels"].items()))  # fmt: skip
    assert not problems(after, hosts, CLUSTER_PORTS), problems(after, hosts, CLUSTER_PORTS)
    assert_kept([row], LOSS_WINDOW_BOUND_S)


def test_a_redis_host_added_then_removed_under_load(lab: dict[str, float], change_vars: str) -> None:
    """A fourth Redis host joins (tests/data/lab_grow_redis beside the lab's inventory): site.yml
    makes it a fourth shard with its share of the slots, moved while the writers run, and a
    replica of another host's shard, and a replica of each Sentinel group. Then
    playbooks/remove_redis_host.yml takes it out again (its slots moved back first), the
    inventory goes back to three hosts and site.yml follows. The cluster alias rides through
    both migrations without an error."""
    hosts = lab_hosts("redis")
    grown = [*hosts, GROWN_HOST]
    secrets = lab_vars("all", "lab_secrets.yml")
    passwords = secrets["redis_server_admin_password"], secrets["redis_sentinel_password"]
    extra = ("-i", str(ROOT / "tests" / "data" / "lab_grow_redis"))
    drill = Drill(run=f"scale{int(time.time())}", keys=5000)
    drill.seed()

    playbook = partial(lab_playbook, lab)

    def grow() -> dict[str, int]:
        playbook("drill grow: lab_up.yml (a fourth Redis host)", "play", "molecule/shared/lab_up.yml", *extra)
        return playbook(
            "drill grow: site.yml with the host in the inventory", "site", *extra, "-e", change_vars
        )

    def shrink() -> dict[str, int]:
        playbook(
            "drill shrink: remove_redis_host.yml",
            "play", "playbooks/remove_redis_host.yml", *extra, "-e", change_vars,
            "-e", f"redis_remove_host={GROWN_HOST}",
        )  # fmt: skip
        changed = playbook("drill shrink: site.yml without the host", "site", "-e", change_vars)
        subprocess.run(["docker", "rm", "-f", GROWN_HOST], check=True, capture_output=True)
        return changed

    states = {}
    try:
        drill.through("grow", grow)
        states["grow"] = tier_state(hosts[0], grown, CLUSTER_PORTS, *passwords)
        drill.through("shrink", shrink)
        states["shrink"] = tier_state(hosts[0], hosts, CLUSTER_PORTS, *passwords)
    finally:
        subprocess.run(["docker", "rm", "-f", GROWN_HOST], check=False, capture_output=True)
        print()
        for line in drill.table():
            print(f"lab: {line}")
        for phase, state in states.items():
            known = sorted({n.get("known", 0) for n in state["nodes"].values()})
            placement = state["primaries_by_host"]
            print(f"lab: drill {phase}: cluster_known_nodes {known}, primaries by host {placement}")
    assert not problems(states["grow"], grown, CLUSTER_PORTS), problems(states["grow"], grown, CLUSTER_PORTS)
    assert sum(states["grow"]["primaries_by_host"].values()) == 4, states["grow"]["primaries_by_host"]
    assert not problems(states["shrink"], hosts, CLUSTER_PORTS), problems(
        states["shrink"], hosts, CLUSTER_PORTS
    )
    assert_kept(drill.rows, WINDOW_BOUND_S)
    for row in drill.rows:
        assert row["aliases"]["cluster"]["failed"] == 0, f"{row['phase']}: the cluster alias got errors"


def test_a_memcached_host_added_then_removed_under_load(lab: dict[str, float], change_vars: str) -> None:
    """A fourth memcached host joins the pools (tests/data/lab_grow_memcached): the servers
    first, then the app's settings; playbooks/remove_memcached_host.yml takes it out again:
    the app's settings first, then its servers stop. The writers build their clients again
    when the settings change, as the restarted app does. No error reaches the app; the share
    of keys that go cold (the moved server's, about 1/N) is measured."""
    extra = ("-i", str(ROOT / "tests" / "data" / "lab_grow_memcached"))
    drill = Drill(run=f"pool{int(time.time())}", keys=5000, follow_settings=SETTINGS_FILE)
    drill.seed()

    playbook = partial(lab_playbook, lab)

    def grow() -> dict[str, int]:
        playbook(
            "drill pool grow: lab_up.yml (a fourth memcached host)",
            "play",
            "molecule/shared/lab_up.yml",
            *extra,
        )
        return playbook("drill pool grow: site.yml with the host", "site", *extra, "-e", change_vars)

    def shrink() -> dict[str, int]:
        changed = playbook(
            "drill pool shrink: remove_memcached_host.yml",
            "play", "playbooks/remove_memcached_host.yml", *extra, "-e", change_vars,
            "-e", f"memcached_remove_host={GROWN_MEMCACHED}",
        )  # fmt: skip
        subprocess.run(["docker", "rm", "-f", GROWN_MEMCACHED], check=True, capture_output=True)
        return changed

    try:
        drill.through("pool-grow", grow)
        drill.through("pool-shrink", shrink)
    finally:
        subprocess.run(["docker", "rm", "-f", GROWN_MEMCACHED], check=False, capture_output=True)
        print()
        for line in drill.table():
            print(f"lab: {line}")
    pool = len(lab_hosts("memcached")) + 1
    for row in drill.rows:
        for alias, numbers in row["aliases"].items():
            where = f"{row['phase']} / {alias}"
            assert numbers["failed"] == 0, f"{where}: the app got errors: {numbers}"
            assert numbers["acknowledged"] > 0, f"{where}: no write was acknowledged"
            if alias != "fragments":
                assert numbers["seed_lost"] == 0 and numbers["acknowledged_lost"] == 0, f"{where}: {numbers}"
                continue
            cold_seed = numbers["seed_lost"] / numbers["seed_before"]
            cold_writes = numbers["acknowledged_lost"] / numbers["acknowledged"]
            print(
                f"lab: drill {row['phase']} fragments: keys gone cold {cold_seed:.1%} of those written "
                f"before, {cold_writes:.1%} of those written during (one server of {pool}: {1 / pool:.0%})"
            )
            assert cold_seed <= 1 / pool + 0.1 and cold_writes <= 1 / pool + 0.1, f"{where}: {numbers}"


# The app user's new password of the rotation drill (a lab value, like the inventory's).
ROTATED_PASSWORD = "lab-only-redis-django-rotated"


def test_a_password_rotates_without_an_outage(lab: dict[str, float], change_vars: str) -> None:
    """The app user's new password: a plain redis_server.yml run refuses it (no host changes)
    and names playbooks/rotate_passwords.yml; that playbook then rotates it while writers open a
    new connection (and log in again) for every write on every Redis alias, following the app's
    settings as the restarted app would: not one error. The runs after it keep the new password."""
    users = [
        {**user, "password": ROTATED_PASSWORD}
        for user in lab_vars("all", "lab_secrets.yml")["redis_server_users"]
    ]
    with tempfile.TemporaryDirectory() as directory:
        new = Path(directory) / "users.json"
        new.write_text(json.dumps({"redis_server_users": users}), encoding="utf-8")
        done, lab["rotation: redis_server.yml with a new password (refused)"] = run(
            "bash", "scripts/lab.sh", "play", "playbooks/redis_server.yml", "-e", change_vars, "-e", f"@{new}"
        )  # fmt: skip
        assert done.returncode != 0, done.stdout[-3000:]
        assert "redis_server_users[0].password: differs from the password user 'django'" in done.stdout, (
            done.stdout[-3000:]
        )
        assert "playbooks/rotate_passwords.yml" in done.stdout, done.stdout[-3000:]
        changed = {host: counts[1] for host, counts in recap(done.stdout).items() if counts[1]}
        assert not changed, f"changed before the refusal: {changed}: {changed_tasks(done.stdout)}"

        # The runs after this one use the new password (a plain run with it changes nothing),
        # whatever this drill's figures: from the rotation's first step on, the instances hold it.
        path = Path(change_vars[1:])
        later = {**json.loads(path.read_text(encoding="utf-8")), "redis_server_users": users}
        path.write_text(json.dumps(later), encoding="utf-8")
        drill = Drill(
            run=f"rotate{int(time.time())}",
            keys=1000,
            aliases=("default", "sessions", "cluster"),
            follow_settings=SETTINGS_FILE,
            fresh_connections=True,
        )
        drill.seed()
        play = ("play", "playbooks/rotate_passwords.yml", "-e", change_vars, "-e", f"@{new}")
        through_without_errors(lab, drill, "rotation", "drill rotation: rotate_passwords.yml", *play)
    for alias, figures in drill.rows[0]["aliases"].items():
        assert figures["reloads"] >= 1, f"rotation / {alias}: the writer never read the new settings"
    # Every instance holds the new password alone: the old one is gone (the lab runs Valkey
    # since drill (e), or from the start).
    digest = "#" + hashlib.sha256(ROTATED_PASSWORD.encode()).hexdigest()
    for host in lab_hosts("redis"):
        acls = subprocess.run(
            ["docker", "exec", host, "sh", "-c", "cat /etc/valkey/cachewright/*.acl"],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        lines = [line.split() for line in acls.splitlines() if line.startswith("user django ")]
        assert lines, f"{host}: no aclfile holds the user django"
        held = [[word for word in words if word.startswith("#")] for words in lines]
        assert all(hashes == [digest] for hashes in held), f"{host}: the django user holds {held}"


# Run on a Redis host: each instance's run_id and the values of the settings named in argv
# (argv: the admin password, then the settings), as JSON {socket: {...}}.
INSTANCE_SETTINGS = """
import glob, json, sys
import redis
password, names = sys.argv[1], sys.argv[2:]
out = {}
for path in sorted(glob.glob("/run/*/*-server.sock")):
    client = redis.Redis(unix_socket_path=path, username="cw-admin", password=password, decode_responses=True)
    try:
        out[path] = {"run_id": client.info("server")["run_id"],
                     **{name: client.config_get(name).get(name) for name in names}}
    except redis.ConnectionError:  # a socket file left by a unit that no longer runs
        continue
print(json.dumps(out))
"""


def instance_settings(*names: str) -> dict[str, dict[str, str]]:
    """Every Redis instance of the lab (host:socket) with its run_id and these settings."""
    password = lab_vars("all", "lab_secrets.yml")["redis_server_admin_password"]
    found: dict[str, dict[str, str]] = {}
    for host in lab_hosts("redis"):
        done = subprocess.run(
            ["docker", "exec", host, "python3", "-c", INSTANCE_SETTINGS, password, *names],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        found.update({f"{host}:{path}": values for path, values in json.loads(done.stdout).items()})
    return found


def test_a_runtime_setting_is_set_live_under_load(lab: dict[str, float], change_vars: str) -> None:
    """Two settings a running server takes with CONFIG SET (hz, slowlog-log-slower-than) in
    redis_server_extra_config: redis_server.yml sets them on every instance (primaries and
    replicas, Sentinel-managed and cluster nodes) while writers write through every Redis
    alias: not one error, not one restart (every run_id kept), and every instance reports the
    new values. The runs after it keep them."""
    path = Path(change_vars[1:])
    current = json.loads(path.read_text(encoding="utf-8"))
    live = {**current["redis_server_extra_config"], "hz": "15", "slowlog-log-slower-than": "5000"}
    before = instance_settings("hz", "slowlog-log-slower-than")
    assert len(before) >= 6 and all(v["hz"] == "10" for v in before.values()), before
    path.write_text(json.dumps({**current, "redis_server_extra_config": live}), encoding="utf-8")
    drill = Drill(run=f"live{int(time.time())}", keys=1000, aliases=("default", "sessions", "cluster"))
    drill.seed()
    play = ("play", "playbooks/redis_server.yml", "-e", change_vars)
    label = "drill live: redis_server.yml with hz and slowlog-log-slower-than"
    through_without_errors(lab, drill, "live setting", label, *play)
    output = OUTPUTS[" ".join(["bash", "scripts/lab.sh", *play])]
    assert "set live (CONFIG SET, no restart)" in output, output[-3000:]
    after = instance_settings("hz", "slowlog-log-slower-than")
    assert set(after) == set(before)
    restarted = [where for where in after if after[where]["run_id"] != before[where]["run_id"]]
    assert not restarted, f"restarted for a setting it takes live: {restarted}"
    wrong = {w: v for w, v in after.items() if (v["hz"], v["slowlog-log-slower-than"]) != ("15", "5000")}
    assert not wrong, wrong
    print(f"lab: live setting: {len(after)} instances set with CONFIG SET, 0 restarted")


def test_bad_input_for_a_later_play_is_refused_before_any_host_changes(
    lab: dict[str, float], change_vars: str
) -> None:
    """site.yml with a memcached change (its play comes first) and a Redis password too short
    (the redis_server play's input): the preflight refuses the run, naming the variable, before
    memcached restarts; no host changes."""
    done, lab["preflight refusal"] = run(
        "bash", "scripts/lab.sh", "site", "-e", change_vars,
        "-e", "memcached_max_connections=1200", "-e", "redis_server_admin_password=lab-short",
    )  # fmt: skip
    assert done.returncode != 0, done.stdout[-3000:]
    assert "redis_server_admin_password: 9 characters; a password has 16 to 128" in done.stdout, done.stdout[
        -3000:
    ]
    counts = recap(done.stdout)
    assert set(counts) >= set(lab_hosts("memcached") + lab_hosts("redis")), counts
    changed = {host: c[1] for host, c in counts.items() if c[1]}
    assert not changed, f"changed before the refusal: {changed}: {changed_tasks(done.stdout)}"


def test_second_run_changes_nothing(lab: dict[str, float], change_vars: str) -> None:
    done, lab["site.yml no-op run (make lab-site)"] = run("bash", "scripts/lab.sh", "site", "-e", change_vars)
    assert done.returncode == 0, done.stdout[-6000:]
    changed = {host: counts[1] for host, counts in recap(done.stdout).items() if counts[1]}
    assert not changed, f"changed on the second run: {changed}: {changed_tasks(done.stdout)}"


def test_check_diff_reports_no_change(lab: dict[str, float], change_vars: str) -> None:
    done, lab["site.yml --check --diff (make lab-site)"] = run(
        "bash", "scripts/lab.sh", "site", "--check", "--diff", "-e", change_vars
    )
    assert done.returncode == 0, done.stdout[-6000:]
    changed = {host: counts[1] for host, counts in recap(done.stdout).items() if counts[1]}
    assert not changed, (
        f"--check --diff reports changes: {changed}: {changed_tasks(done.stdout)}\n{done.stdout[-3000:]}"
    )


def test_no_password_in_any_output(lab: dict[str, float]) -> None:
    secrets = [*lab_secrets(), ROTATED_PASSWORD]
    assert len(secrets) >= 6, secrets
    diffs = [command for command, output in OUTPUTS.items() if "--diff" in command and "+++ after" in output]
    assert diffs, "no --diff run showed a diff: the check would prove nothing"
    leaks = {command: [s[:4] + "..." for s in secrets if s in output] for command, output in OUTPUTS.items()}
    print(f"\nlab: {len(secrets)} passwords looked for in {len(OUTPUTS)} outputs, {len(diffs)} with a diff")
    assert not any(leaks.values()), {command: found for command, found in leaks.items() if found}
