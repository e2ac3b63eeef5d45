# SPDX-License-Identifier: Apache-2.0
"""bench/deploy_cost.py: the scale-out inventories it generates and what it reads from a run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# bench/deploy_cost.py is a script, not a package: loaded from its file (it imports the
# installed cachewright_django for its plot).
_SPEC = importlib.util.spec_from_file_location("deploy_cost", ROOT / "bench" / "deploy_cost.py")
assert _SPEC and _SPEC.loader
deploy_cost = importlib.util.module_from_spec(_SPEC)
sys.modules["deploy_cost"] = deploy_cost  # its dataclasses look their module up there
_SPEC.loader.exec_module(deploy_cost)


def test_a_scale_out_inventory_has_the_labs_shape_times_the_factor(tmp_path: Path) -> None:
    managed = deploy_cost.scale_inventory(4, tmp_path)
    lab = deploy_cost.lab_hosts()
    children = yaml.safe_load((tmp_path / "hosts.yml").read_text())["all"]["children"]
    for group in deploy_cost.GROWING:
        assert len(children[group]["hosts"]) == 4 * len(lab[group])
    assert managed == 4 * sum(len(lab[g]) for g in deploy_cost.GROWING)
    assert list(children["app_database"]["hosts"]) == ["cw-x4-db-1"]
    # The same groups of groups (Sentinel and the cluster on the Redis hosts), new names only.
    assert children["redis_sentinel"] == {"children": {"redis": None}}
    names = [h for group in children.values() for h in (group.get("hosts") or {})]
    assert len(names) == len(set(names)) and all(n.startswith("cw-x4-") for n in names)
    # Every third memcached host runs the lab's other Debian release, as cw-lab-mc-3 does.
    images = [(v or {}).get("cw_lab_image") for v in children["memcached"]["hosts"].values()]
    assert images == [None, None, "cachewright/debian:trixie"] * 4
    files = list((tmp_path / "group_vars").rglob("*.yml"))
    assert len(files) == len(list((deploy_cost.LAB / "group_vars").rglob("*.yml")))
    assert not [f for f in files if "cw-lab-" in f.read_text()]
    redis = yaml.safe_load((tmp_path / "group_vars" / "redis" / "redis.yml").read_text())
    assert redis["redis_server_primary"] == "cw-x4-redis-1"
    lab = yaml.safe_load((tmp_path / "group_vars" / "all" / "lab.yml").read_text())
    assert lab["cw_lab_network"] == "cachewright-x4"


RECAP = """
PLAY RECAP *********
cw-x1-app-1                : ok=80   changed=0    unreachable=0    failed=0    skipped=9
cw-x1-mc-1                 : ok=40   changed=2    unreachable=0    failed=0    skipped=3

TASKS RECAP ********
Monday 30 November 2026  22:13:17 +0000 (0:00:00.032)       0:02:58.805 *******
===============================================================================
memcached : Install the memcached packages ------------------------------ 12.50s
Gathering Facts --------------------------------------------------------- 3.25s
Gathering Facts --------------------------------------------------------- 1.75s
"""


def test_the_recap_gives_task_seconds_and_changes() -> None:
    assert deploy_cost.parse_recap(RECAP) == {
        "memcached : Install the memcached packages": 12.5,
        "Gathering Facts": 5.0,
    }
    assert deploy_cost.recap_counts(RECAP) == (2, 0)


def test_growth_names_the_tasks_that_grow_faster_than_the_hosts() -> None:
    def run(hosts: int, tasks: dict[str, float]) -> deploy_cost.Run:
        return deploy_cost.Run(1, hosts, "mitogen", "no-op", sum(tasks.values()), 0, 0, tasks)

    runs = [run(7, {"linear": 7.0, "quadratic": 1.0}), run(28, {"linear": 28.0, "quadratic": 16.0})]
    (row,) = deploy_cost.growth(runs, "mitogen", "no-op")
    assert (row["task"], row["growth"], row["excess_s"]) == ("quadratic", 16.0, 12.0)


def test_too_few_inotify_instances_is_refused_with_the_command_to_fix_it(tmp_path: Path, monkeypatch) -> None:
    setting = tmp_path / "max_user_instances"
    setting.write_text("128\n")
    monkeypatch.setattr(deploy_cost, "INOTIFY_SETTING", setting)
    assert deploy_cost.containers(4) == 29
    problem = deploy_cost.inotify_problem(deploy_cost.containers(4))
    assert problem and "sysctl -w fs.inotify.max_user_instances=464" in problem
    assert deploy_cost.inotify_problem(deploy_cost.containers(1)) is None
