#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: make this host's Sentinel watch the primaries the inventory names."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_sentinel_monitors
short_description: Add missing Sentinel monitors and set the tunables that differ
version_added: 1.0.0
description:
  - Asks the Sentinel on 127.0.0.1 what it knows of each wanted primary (C(SENTINEL MASTER)),
    watches the ones it does not know (C(SENTINEL MONITOR)) and sets what differs
    (C(SENTINEL SET) quorum, down-after-milliseconds, failover-timeout, parallel-syncs).
  - A new monitor also gets the credentials Sentinel logs in to the instances with
    (auth-user, auth-pass). Sentinel does not tell them back, so a known monitor keeps its own.
  - A known monitor keeps the primary Sentinel follows (a failover may have moved it);
    monitors Sentinel has that are not listed are left alone.
  - In check mode it reads and reports what it would change (with C(--diff), each monitor
    before and after, never a password), and changes nothing. A Sentinel that does not answer
    in check mode is reported as needing every monitor (it is not running yet).
options:
  monitors:
    description: The wanted monitors.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Master name.
        type: str
        required: true
      address:
        description: Address of the primary, for a new monitor.
        type: str
        required: true
      port:
        description: Port of the primary, for a new monitor.
        type: int
        required: true
      quorum:
        description: Sentinels that must agree the primary is down.
        type: int
        required: true
      down_after_milliseconds:
        description: C(down-after-milliseconds).
        type: int
        required: true
      failover_timeout:
        description: C(failover-timeout).
        type: int
        required: true
      parallel_syncs:
        description: C(parallel-syncs).
        type: int
        required: true
      host:
        description: The primary's inventory host (not used; roles/redis_sentinel's monitors carry it).
        type: str
      instance:
        description: The primary's instance name (not used; roles/redis_sentinel's monitors carry it).
        type: str
  auth_user:
    description: The user Sentinel logs in to the instances with (for a new monitor).
    type: str
    default: ""
  auth_password:
    description: Its password (for a new monitor).
    type: str
    default: ""
  wait_seconds:
    description: How long the Sentinel may take to answer.
    type: int
    default: 20
extends_documentation_fragment: [cachewright.cache.local_sentinel, cachewright.cache.tls_client]
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Watch the primaries
  cachewright.cache.redis_sentinel_monitors:
    monitors:
      - name: main
        address: 10.0.0.11
        port: 6379
        quorum: 2
        down_after_milliseconds: 5000
        failover_timeout: 60000
        parallel_syncs: 1
    password: "{{ redis_sentinel_password }}"
    auth_user: cw-sentinel
    auth_password: "{{ redis_sentinel_auth_password }}"
"""

RETURN = r"""
monitors:
  description: Per master name - C(before) and C(after) (address and tunables), and the
    commands sent or to be sent (C(monitor), C(set); passwords hidden).
  returned: always
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    GateError,
    local_sentinel,
    local_sentinel_argument_spec,
    redis,
    require_redis,
    wait_until,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    describe_monitor,
    monitor_after,
    monitor_plan,
    safe_args,
    sentinel_fields,
)


def known_monitor(client: Any, name: str) -> dict[str, str] | None:
    """What SENTINEL MASTER says of `name`; None when Sentinel does not watch it."""
    try:
        return sentinel_fields(client.execute_command("SENTINEL", "MASTER", name))
    except redis.ResponseError as error:
        if "No such master" in str(error):
            return None
        raise


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "monitors": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "address": {"type": "str", "required": True},
                    "port": {"type": "int", "required": True},
                    "quorum": {"type": "int", "required": True},
                    "down_after_milliseconds": {"type": "int", "required": True},
                    "failover_timeout": {"type": "int", "required": True},
                    "parallel_syncs": {"type": "int", "required": True},
                    "host": {"type": "str"},
                    "instance": {"type": "str"},
                },
            },
            "auth_user": {"type": "str", "default": ""},
            "auth_password": {"type": "str", "default": "", "no_log": True},
            "wait_seconds": {"type": "int", "default": 20},
            **local_sentinel_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    params = module.params
    client = local_sentinel(params)
    running = True
    try:
        wait_until(
            f"Sentinel on port {params['port']}",
            lambda: (bool(client.ping()), "answers"),
            2 if module.check_mode else params["wait_seconds"],
            0.5,
        )
    except GateError as error:
        if not module.check_mode:
            module.fail_json(msg=str(error))
        running = False
    results: dict[str, Any] = {}
    before: list[str] = []
    after: list[str] = []
    for wanted in params["monitors"]:
        name = wanted["name"]
        try:
            known = known_monitor(client, name) if running else None
        except (redis.RedisError, OSError) as error:
            module.fail_json(msg=f"SENTINEL MASTER {name}: {error}", monitors=results)
        plan = monitor_plan(wanted, known, params["auth_user"], params["auth_password"])
        results[name] = {
            "before": describe_monitor(wanted, known),
            "after": describe_monitor(wanted, monitor_after(wanted, known)),
            "monitor": plan["monitor"],
            "set": safe_args(plan["set"]),
        }
        if not plan["monitor"] and not plan["set"]:
            continue
        before.append(f"{name}: {results[name]['before']}\n")
        after.append(f"{name}: {results[name]['after']}\n")
        if module.check_mode:
            continue
        try:
            if plan["monitor"]:
                client.execute_command("SENTINEL", "MONITOR", *plan["monitor"])
            if plan["set"]:
                client.execute_command("SENTINEL", "SET", name, *plan["set"])
        except (redis.RedisError, OSError) as error:
            module.fail_json(msg=f"Sentinel, master {name}: {error}", monitors=results)
    module.exit_json(
        changed=bool(before),
        monitors=results,
        diff={"before": "".join(before), "after": "".join(after)},
    )


if __name__ == "__main__":
    main()
