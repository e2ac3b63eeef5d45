# SPDX-License-Identifier: Apache-2.0
"""monitoring/rules/cachewright.rules.yml under `promtool check rules` and `promtool test rules`.

Each case gives series for one alert: a target that goes bad and comes back, beside targets
that stay healthy (another instance, another Sentinel group, another cluster). promtool checks
that the alert is quiet before, fires for the bad target only (labels and rendered
annotations), and resolves. The expected annotations are the rule's own templates filled with
the case's labels and value, so a template naming a label the series lack fails too.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import ROOT, require

RULES = ROOT / "monitoring" / "rules" / "cachewright.rules.yml"
PROMTOOL = shutil.which("promtool")
require("promtool")


@dataclass
class Case:
    alert: str
    series: list[tuple[str, str]]
    # minute -> the alerts expected then: (the alert's labels besides alertname/severity, $value)
    checks: dict[int, list[tuple[dict[str, str], float]]]
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def target(job: str, instance: str, **labels: str) -> dict[str, str]:
    return {"job": job, "instance": instance, "host": instance.split(":", maxsplit=1)[0], **labels}


def selector(metric: str, labels: dict[str, str]) -> str:
    return metric + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


R1 = target("cachewright_redis", "redis-1:6379", purpose="cache")
R2 = target("cachewright_redis", "redis-2:6379", purpose="cache")
S1 = target("cachewright_sentinel", "redis-1:26379")
M1 = target("cachewright_memcached", "mc-1:11211", purpose="fragments")
M2 = target("cachewright_memcached", "mc-2:11211", purpose="fragments")
DOWN = "1 1 0 0 0 0 1 1 1"  # bad from minute 2 to 5
UP = "1x8"


def down_case(alert: str, metric: str, bad: dict[str, str], good: dict[str, str]) -> Case:
    return Case(
        alert,
        [(selector(metric, bad), DOWN), (selector(metric, good), UP)],
        {1: [], 2: [], 3: [(bad, 0)], 5: [(bad, 0)], 6: []},
    )


def info(labels: dict[str, str], role: str) -> str:
    return selector("redis_instance_info", {**labels, "role": role})


def group(name: str, instance: str) -> dict[str, str]:
    return target("cachewright_redis", instance, purpose="cache", sentinel_group=name)


def node(cluster: str, instance: str) -> dict[str, str]:
    return target("cachewright_redis", instance, purpose="cluster", cluster=cluster)


def sentinel(group_name: str, **labels: str) -> dict[str, str]:
    return {**S1, "master_name": group_name, **labels}


NOQUORUM = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority"
OKQUORUM = "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
A = {"master_address": "10.0.0.1:6379"}

CASES = [
    down_case("CacheExporterDown", "up", R1, R2),
    down_case("RedisDown", "redis_up", R1, R2),
    down_case("SentinelDown", "redis_up", S1, target("cachewright_sentinel", "redis-2:26379")),
    down_case("MemcachedDown", "memcached_up", M1, M2),
    Case(
        "SentinelGroupWithoutQuorum",
        [
            (
                selector("redis_sentinel_master_ckquorum_status", sentinel("cache", message=OKQUORUM)),
                "1 1 stale _ _ _ 1 1 1",
            ),
            (
                selector("redis_sentinel_master_ckquorum_status", sentinel("cache", message=NOQUORUM)),
                "_ _ 0 0 0 0 stale _ _",
            ),
            (selector("redis_sentinel_master_ckquorum_status", sentinel("sessions", message=OKQUORUM)), UP),
        ],
        {2: [], 3: [(sentinel("cache", message=NOQUORUM), 0)], 6: []},
    ),
    Case(
        "SentinelGroupPrimaryDown",
        [
            (
                selector("redis_sentinel_master_status", sentinel("cache", **A, master_status="ok")),
                "1 1 stale _ _ _ 1 1 1",
            ),
            (
                selector("redis_sentinel_master_status", sentinel("cache", **A, master_status="odown")),
                "_ _ 1 1 1 1 stale _ _",
            ),
            (selector("redis_sentinel_master_status", sentinel("sessions", **A, master_status="ok")), UP),
        ],
        {2: [], 3: [(sentinel("cache", **A, master_status="odown"), 1)], 6: []},
    ),
    Case(
        "SentinelGroupReplicaDown",
        [
            (selector("redis_sentinel_master_ok_slaves", sentinel("cache", **A)), "2 2 1 1 1 1 2 2 2"),
            (selector("redis_sentinel_master_slaves", sentinel("cache", **A)), "2x8"),
            (selector("redis_sentinel_master_ok_slaves", sentinel("sessions", **A)), "2x8"),
            (selector("redis_sentinel_master_slaves", sentinel("sessions", **A)), "2x8"),
        ],
        {3: [], 4: [(sentinel("cache", **A), 1)], 6: []},
    ),
    Case(
        "SentinelGroupWithoutReplica",
        [
            (selector("redis_sentinel_master_ok_slaves", sentinel("cache", **A)), "2 2 0 0 0 0 2 2 2"),
            (selector("redis_sentinel_master_ok_slaves", sentinel("sessions", **A)), "1x8"),
        ],
        {2: [], 3: [(sentinel("cache", **A), 0)], 6: []},
    ),
    Case(
        "RedisGroupWithoutPrimary",
        [
            (info(group("cache", "redis-1:6379"), "master"), "1 1 stale _ _ _ 1 1 1"),
            (info(group("cache", "redis-1:6379"), "slave"), "_ _ 1 1 1 1 stale _ _"),
            (info(group("cache", "redis-2:6379"), "slave"), UP),
            (info(group("sessions", "redis-2:6380"), "master"), UP),
            (info(group("sessions", "redis-1:6380"), "slave"), UP),
        ],
        {2: [], 3: [({"sentinel_group": "cache"}, 2)], 6: []},
    ),
    Case(
        "RedisGroupWithSeveralPrimaries",
        [
            (info(group("cache", "redis-1:6379"), "master"), UP),
            (info(group("cache", "redis-2:6379"), "slave"), "1 1 stale _ _ _ 1 1 1"),
            (info(group("cache", "redis-2:6379"), "master"), "_ _ 1 1 1 1 stale _ _"),
            # Two groups with one primary each: two primaries in all, none too many.
            (info(group("sessions", "redis-2:6380"), "master"), UP),
            (info(group("sessions", "redis-1:6380"), "slave"), UP),
        ],
        {2: [], 3: [({"sentinel_group": "cache"}, 2)], 6: []},
    ),
    Case(
        "RedisReplicaLinkDown",
        [
            (
                selector("redis_master_link_up", {**R2, "master_host": "10.0.0.1", "master_port": "6379"}),
                DOWN,
            ),
            (selector("redis_master_link_up", {**R1, "master_host": "10.0.0.2", "master_port": "6379"}), UP),
        ],
        {2: [], 3: [({**R2, "master_host": "10.0.0.1", "master_port": "6379"}, 0)], 6: []},
    ),
    Case(
        "RedisReplicaLagging",
        [
            (
                selector(
                    "redis_connected_slave_lag_seconds", {**R1, "slave_ip": "10.0.0.2", "slave_port": "6379"}
                ),
                "0 0 30 30 30 30 0 0 0",
            ),
            (
                selector(
                    "redis_connected_slave_lag_seconds", {**R1, "slave_ip": "10.0.0.3", "slave_port": "6379"}
                ),
                "0x8",
            ),
        ],
        {3: [], 4: [({**R1, "slave_ip": "10.0.0.2", "slave_port": "6379"}, 30)], 6: []},
    ),
    Case(
        "RedisReplicationFlapping",
        [
            (selector("redis_connected_slaves", R1), "2 1 2 1 2 1 2 2x20"),
            (selector("redis_connected_slaves", R2), "2x26"),
        ],
        {4: [], 6: [(R1, 6)], 14: []},
    ),
    Case(
        "RedisPrimaryWithoutReplica",
        [
            (selector("redis_connected_slaves", group("cache", "redis-1:6379")), DOWN),
            (info(group("cache", "redis-1:6379"), "master"), UP),
            # A replica has no replicas of its own, and a standalone primary has none by design.
            (selector("redis_connected_slaves", group("cache", "redis-2:6379")), "0x8"),
            (info(group("cache", "redis-2:6379"), "slave"), UP),
            (
                selector(
                    "redis_connected_slaves", target("cachewright_redis", "redis-3:6381", purpose="locks")
                ),
                "0x8",
            ),
            (info(target("cachewright_redis", "redis-3:6381", purpose="locks"), "master"), UP),
        ],
        {3: [], 4: [(group("cache", "redis-1:6379"), 0)], 6: []},
    ),
    Case(
        "RedisClusterStateNotOk",
        [
            (selector("redis_cluster_state", node("main", "redis-1:7000")), DOWN),
            (selector("redis_cluster_state", node("other", "redis-1:7100")), UP),
        ],
        {2: [], 3: [(node("main", "redis-1:7000"), 0)], 6: []},
    ),
    Case(
        "RedisClusterSlotsNotOk",
        [
            (
                selector("redis_cluster_slots_ok", node("main", "redis-1:7000")),
                "16384 16384 16000 16000 16000 16000 16384 16384 16384",
            ),
            (selector("redis_cluster_slots_fail", node("main", "redis-1:7000")), "0x8"),
            (selector("redis_cluster_slots_pfail", node("main", "redis-1:7000")), "0x8"),
            (selector("redis_cluster_slots_ok", node("other", "redis-1:7100")), "16384x8"),
            (selector("redis_cluster_slots_fail", node("other", "redis-1:7100")), "0x8"),
            (selector("redis_cluster_slots_pfail", node("other", "redis-1:7100")), "0x8"),
        ],
        {2: [], 3: [(node("main", "redis-1:7000"), 16000)], 6: []},
    ),
    Case(
        "RedisClusterPrimariesBunched",
        [
            (info(node("main", "redis-1:7000"), "master"), "1x11"),
            (info(node("main", "redis-1:7001"), "slave"), "1 1 stale _ _ _ _ _ _ 1 1 1"),
            (info(node("main", "redis-1:7001"), "master"), "_ _ 1 1 1 1 1 1 1 stale _ _"),
            (info(node("main", "redis-2:7000"), "master"), "1 1 stale _ _ _ _ _ _ 1 1 1"),
            (info(node("main", "redis-2:7000"), "slave"), "_ _ 1 1 1 1 1 1 1 stale _ _"),
            (info(node("main", "redis-2:7001"), "slave"), "1x11"),
            (info(node("main", "redis-3:7000"), "master"), "1x11"),
            (info(node("main", "redis-3:7001"), "slave"), "1x11"),
            # Another cluster on the same hosts: its primaries are not counted with main's.
            (info(node("other", "redis-1:7100"), "master"), "1x11"),
            (info(node("other", "redis-2:7100"), "master"), "1x11"),
            (info(node("other", "redis-3:7100"), "master"), "1x11"),
        ],
        {6: [], 7: [({"cluster": "main", "host": "redis-1"}, 2)], 10: []},
    ),
    Case(
        "RedisMemoryHigh",
        [
            (selector("redis_memory_used_bytes", R1), "50 50 95 95 95 95 95 95 95 50 50 50"),
            (selector("redis_memory_max_bytes", R1), "100x11"),
            # No maxmemory (0): no ratio.
            (selector("redis_memory_used_bytes", R2), "95x11"),
            (selector("redis_memory_max_bytes", R2), "0x11"),
        ],
        {6: [], 7: [(R1, 0.95)], 9: []},
    ),
    Case(
        "RedisEvictingKeys",
        [
            # Evicting from minute 3 to 20; one burst alone does not fire (for: 10m).
            (selector("redis_evicted_keys_total", R1), "0 0 0 10+10x17 180x30"),
            (selector("redis_evicted_keys_total", R2), "0x50"),
        ],
        {12: [], 13: [(R1, 100)], 31: []},
    ),
    Case(
        "RedisRejectingConnections",
        [
            (selector("redis_rejected_connections_total", R1), "0 0 0 5x20"),
            (selector("redis_rejected_connections_total", R2), "0x22"),
        ],
        {2: [], 3: [(R1, 5)], 9: []},
    ),
    Case(
        "RedisNoRecentSave",
        [
            # Seconds since the epoch: minute 0 is 0; a save at 0, then none for more than a day.
            (selector("redis_rdb_last_save_timestamp_seconds", {**R1, "persistent": "true"}), "0x1500"),
            (selector("redis_rdb_last_save_timestamp_seconds", {**R2, "persistent": "true"}), "0+60x1500"),
            # A cache without persistence saves nothing, and that is fine.
            (
                selector(
                    "redis_rdb_last_save_timestamp_seconds", target("cachewright_redis", "redis-3:6379")
                ),
                "0x1500",
            ),
        ],
        {1440: [], 1451: [({**R1, "persistent": "true"}, 87060)]},
    ),
    Case(
        "RedisPersistenceFailing",
        [
            (selector("redis_rdb_last_bgsave_status", {**R1, "persistent": "true"}), DOWN),
            (selector("redis_aof_last_write_status", {**R1, "persistent": "true"}), UP),
            (selector("redis_aof_enabled", {**R1, "persistent": "true"}), UP),
            (selector("redis_rdb_last_bgsave_status", {**R2, "persistent": "true"}), UP),
            # AOF off: its status says nothing.
            (selector("redis_aof_last_write_status", {**R2, "persistent": "true"}), "0x8"),
            (selector("redis_aof_enabled", {**R2, "persistent": "true"}), "0x8"),
        ],
        {2: [], 3: [({**R1, "persistent": "true"}, 0)], 6: []},
    ),
    Case(
        "MemcachedConnectionsNearLimit",
        [
            (selector("memcached_current_connections", M1), "100 100 900 900 900 900 900 900 900 100 100"),
            (selector("memcached_max_connections", M1), "1024x10"),
            (selector("memcached_current_connections", M2), "700x10"),
            (selector("memcached_max_connections", M2), "1024x10"),
        ],
        {6: [], 7: [(M1, 900 / 1024)], 9: []},
    ),
    Case(
        "MemcachedRejectingConnections",
        [
            (selector("memcached_connections_rejected_total", M1), "0 0 0 7x20"),
            (selector("memcached_connections_rejected_total", M2), "0x22"),
        ],
        {2: [], 3: [(M1, 7)], 9: []},
    ),
    Case(
        "MemcachedOutOfMemory",
        [
            (selector("memcached_slab_items_outofmemory_total", {**M1, "slab": "1"}), "0 0 0 3x20"),
            (selector("memcached_slab_items_outofmemory_total", {**M1, "slab": "2"}), "0 0 0 1x20"),
            (selector("memcached_slab_items_outofmemory_total", {**M2, "slab": "1"}), "0x22"),
        ],
        {2: [], 3: [({"instance": "mc-1:11211"}, 4)], 9: []},
    ),
    Case(
        "MemcachedEvictingItems",
        [
            (selector("memcached_items_evicted_total", M1), "0 0 0 40+40x17 720x30"),
            (selector("memcached_items_evicted_total", M2), "0x50"),
        ],
        {12: [], 13: [(M1, 400)], 31: []},
    ),
]


def rules() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"] if "alert" in rule}


def go_value(value: float) -> str:
    """A float as Go's text/template prints it (shortest form, no exponent below 1e21)."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e21 else repr(float(value))


def render(template: str, labels: dict[str, str], value: float) -> str:
    """The subset of Prometheus's templates the rules use: labels, $value, humanizePercentage."""

    def fill(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("$labels."):
            return labels.get(expression.removeprefix("$labels."), "")
        if expression == "$value":
            return go_value(value)
        if expression == "$value | humanizePercentage":
            return "%.4g%%" % (value * 100)
        raise AssertionError(f"no renderer for {{{{ {expression} }}}}")

    return re.sub(r"\{\{(.*?)\}\}", fill, template)


def promtool_test(cases: list[Case]) -> dict[str, Any]:
    known = rules()
    tests = []
    for case in cases:
        rule = known[case.alert]
        checks = []
        for minute, alerts in sorted(case.checks.items()):
            expected = []
            for labels, value in alerts:
                every = {**labels, **rule.get("labels", {}), "alertname": case.alert}
                expected.append(
                    {
                        "exp_labels": {k: v for k, v in every.items() if k != "alertname"},
                        "exp_annotations": {
                            k: render(v, every, value) for k, v in rule["annotations"].items()
                        },
                    }
                )
            checks.append({"eval_time": f"{minute}m", "alertname": case.alert, "exp_alerts": expected})
        tests.append(
            {
                "name": case.alert,
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in case.series],
                "alert_rule_test": checks,
            }
        )
    return {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests}


def test_the_rules_file_is_valid() -> None:
    done = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_every_alert_has_a_case_that_fires_and_resolves() -> None:
    assert sorted({case.alert for case in CASES}) == sorted(rules())
    for case in CASES:
        fired = [minute for minute, alerts in case.checks.items() if alerts]
        assert fired and any(m < min(fired) for m in case.checks), f"{case.alert}: quiet before it fires"
        if case.alert != "RedisNoRecentSave":  # resolved by the next save; the series ends there
            assert any(m > max(fired) and not case.checks[m] for m in case.checks), f"{case.alert}: resolves"


@pytest.mark.parametrize("case", CASES, ids=[case.alert for case in CASES])
def test_promtool_unit_test(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(promtool_test([case]), sort_keys=False))
    done = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
