# SPDX-License-Identifier: Apache-2.0
"""Every role entry point the operator playbooks use has its argument spec, and the playbooks
name it so that Ansible checks it: the spec of an entry point applies when tasks_from names it
exactly (``tasks_from: retire``); ``tasks_from: retire.yml`` runs the same tasks unchecked."""

from __future__ import annotations

from typing import Any

import yaml

from conftest import ROOT

ROLE_PREFIX = "cachewright.cache."
ROLE_ACTIONS = ("ansible.builtin.import_role", "ansible.builtin.include_role")


def role_calls(node: Any) -> list[dict[str, Any]]:
    """Every import_role / include_role argument mapping in a playbook's data."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ROLE_ACTIONS and isinstance(value, dict):
                found.append(value)
            else:
                found += role_calls(value)
    elif isinstance(node, list):
        for item in node:
            found += role_calls(item)
    return found


def entry_points(role: str) -> set[str]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return set(specs["argument_specs"])


def test_every_entry_point_of_a_playbook_is_specified_and_checked() -> None:
    calls = [
        (path.name, call)
        for path in sorted((ROOT / "playbooks").glob("*.yml"))
        for call in role_calls(yaml.safe_load(path.read_text()))
        if "tasks_from" in call
    ]
    assert len(calls) >= 15, calls
    for playbook, call in calls:
        role = call["name"].removeprefix(ROLE_PREFIX)
        entry = call["tasks_from"]
        unchecked = entry.endswith((".yml", ".yaml"))
        assert not unchecked, f"{playbook}: tasks_from {entry} skips its argument spec"
        assert entry in entry_points(role), f"{playbook}: {role} has no argument spec for {entry}"
        assert (ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file()


def test_an_entry_point_takes_what_main_takes() -> None:
    """An entry point that runs the role's checks (validate.yml) is checked against the same
    options as main: one list, the same YAML node."""
    for role in ("memcached", "redis_server", "redis_sentinel"):
        path = ROOT / "roles" / role / "meta" / "argument_specs.yml"
        specs = yaml.safe_load(path.read_text())["argument_specs"]
        main = specs["main"]["options"]
        for name in ("rolling_restart", "certificates", "upgrade", "validate"):
            assert specs[name]["options"] == main, f"{role} {name}"
