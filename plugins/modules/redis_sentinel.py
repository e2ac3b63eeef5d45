#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: read this host's Sentinel, or restart it and wait until it knows its primaries again."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_sentinel
short_description: Restart a Sentinel and wait until it watches every primary it watched, with its peers
version_added: 1.0.0
description:
  - C(state=restarted) reads what the Sentinel knows (each primary, its replicas and the other
    Sentinels), restarts its unit, and waits until it answers again and knows every primary
    as up, with at least as many replicas and other Sentinels as before. It fails when that
    does not happen within C(wait_seconds). Run it one host at a time, which keeps a quorum.
  - M(cachewright.cache.redis_sentinel_info) reads what the Sentinel knows.
  - C(state=reset) forgets what the Sentinel lists but finds down for good, replicas and
    other Sentinels of a host that died or came back under another address. For each
    primary with such entries, C(SENTINEL RESET) of that primary, then it waits until the
    Sentinel knows it again with its live replicas and Sentinels. Run it one host at a time
    (C(throttle=1)); a Sentinel that was reset counts no peer for a moment.
  - Sentinel cannot load new TLS files at run time (no CONFIG SET), so a restart is how it does.
  - Needs redis-py on the host (Debian's python3-redis). Supports check mode.
options:
  state:
    description: What to do.
    type: str
    choices: [restarted, reset]
    required: true
  unit:
    description: The Sentinel's systemd unit.
    type: str
    required: true
  previous_unit:
    description:
      - The unit the Sentinel runs as now, when this restart moves it to C(unit) (a switch of
        server, e.g. C(redis-sentinel@main.service) to C(valkey-sentinel@main.service)). That
        unit is stopped and masked, C(carry_config) copied, then C(unit) enabled and started.
    type: str
    version_added: 1.1.0
  carry_config:
    description:
      - With C(previous_unit), the Sentinel-owned file to copy from the old path to the new one
        while neither runs (its monitors, epochs, known replicas and Sentinels, its own ID).
      - Keys C(from), C(to), C(owner), C(group); C(owned_config), the Ansible-owned file loaded
        after it, whose directives (and the paths they name) are left out of the copy.
    type: dict
    version_added: 1.1.0
    suboptions:
      from:
        description: The old path of the Sentinel-owned file.
        type: str
        required: true
      to:
        description: The new path of the Sentinel-owned file.
        type: str
        required: true
      owner:
        description: The user that owns the copies.
        type: str
        required: true
      group:
        description: The group that owns the copies.
        type: str
        required: true
      owned_config:
        description:
          - The Ansible-owned file loaded after the copied one.
          - Its directives, and the paths they name, are left out of the copy.
        type: str
  daemon_reload:
    description: Run C(systemctl daemon-reload) before the restart.
    type: bool
    default: false
  only_outdated:
    description: With C(state=restarted), restart only when a package upgrade replaced the binary it runs.
    type: bool
    default: false
  gone:
    description: With C(state=reset), addresses of hosts taken out; their replicas and Sentinels go too.
    type: list
    version_added: 1.2.0
    elements: str
    default: []
  wait_seconds:
    description: How long the Sentinel may take to know its primaries again.
    type: int
    default: 60
extends_documentation_fragment:
  - cachewright.cache.local_sentinel
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Restart Sentinel, gated
  cachewright.cache.redis_sentinel:
    state: restarted
    unit: redis-sentinel@main.service
    password: "{{ redis_sentinel_password }}"
    tls: true
    tls_ca_certificate: /etc/redis/cachewright/sentinel-tls/ca.crt
"""

RETURN = r"""
masters:
  description: Per primary name - its address, its replicas and the other Sentinels.
  returned: always
  type: dict
ghosts:
  description: With C(state=reset), per primary name, what was found down and forgotten (or to
    forget).
  returned: with state=reset
  type: dict
"""

import grp
import os
import pwd
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import process_outdated
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    GateError,
    carry_argument_spec,
    local_sentinel,
    local_sentinel_argument_spec,
    redis,
    require_redis,
    wait_until,
    write_carried,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    fields_of,
    masters,
    peers_answered,
    sentinel_ghosts,
)


def ghosts_of(client: Any, name: str, gone: list[str]) -> list[str]:
    """The replicas and Sentinels of primary `name` this Sentinel finds down, or on `gone`."""
    replicas = [fields_of(row) for row in client.execute_command("SENTINEL", "REPLICAS", name)]
    sentinels = [fields_of(row) for row in client.execute_command("SENTINEL", "SENTINELS", name)]
    return sentinel_ghosts(replicas, sentinels, gone)


def reset(module: AnsibleModule, client: Any, before: dict[str, dict[str, Any]]) -> None:
    """SENTINEL RESET each primary with ghosts, then wait until the Sentinel knows it again
    with the replicas and Sentinels that were alive; exits the module."""
    gone = module.params["gone"]
    ghosts = {name: found for name in before if (found := ghosts_of(client, name, gone))}
    if not ghosts or module.check_mode:
        module.exit_json(changed=bool(ghosts), masters=before, ghosts=ghosts)
    start = time.monotonic()
    for name, found in ghosts.items():
        replicas = before[name]["replicas"] - sum(1 for g in found if g.startswith("replica "))
        peers = before[name]["other_sentinels"] - sum(1 for g in found if g.startswith("sentinel "))
        client.execute_command("SENTINEL", "RESET", name)

        def knows_again(name: str = name, replicas: int = replicas, peers: int = peers) -> tuple[bool, str]:
            now = masters(client).get(name)
            ok = bool(now) and now["replicas"] >= replicas and now["other_sentinels"] >= peers
            return ok, f"{name}: {now} (wants {replicas} replicas, {peers} other Sentinels)"

        try:
            wait_until(
                f"{name}: its live replicas and Sentinels known again after SENTINEL RESET",
                knows_again,
                module.params["wait_seconds"],
                0.2,
            )
        except GateError as error:
            module.fail_json(msg=str(error), ghosts=ghosts)
    module.exit_json(
        changed=True, masters=masters(client), ghosts=ghosts, seconds=round(time.monotonic() - start, 2)
    )


def switch(module: AnsibleModule) -> None:
    """Stop and mask the previous unit, carry the Sentinel's own file over, start the new unit."""
    params = module.params
    for args in (["disable", "--now"], ["mask"]):
        module.run_command(["systemctl", *args, params["previous_unit"]], check_rc=True)
    carry = params["carry_config"]
    if carry and os.path.exists(carry["from"]):
        uid, gid = pwd.getpwnam(carry["owner"]).pw_uid, grp.getgrnam(carry["group"]).gr_gid
        write_carried(carry["from"], carry["owned_config"] or "", carry["to"], uid, gid)
    module.run_command(["systemctl", "enable", "--now", params["unit"]], check_rc=True)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["restarted", "reset"], "required": True},
            "unit": {"type": "str", "required": True},
            "previous_unit": {"type": "str"},
            "carry_config": carry_argument_spec(),
            "daemon_reload": {"type": "bool", "default": False},
            "only_outdated": {"type": "bool", "default": False},
            "wait_seconds": {"type": "int", "default": 60},
            "gone": {"type": "list", "elements": "str", "default": []},
            **local_sentinel_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    params = module.params
    client = local_sentinel(params)
    try:
        before = masters(client)
    except (redis.RedisError, OSError):
        before = {}
    if params["state"] == "reset":
        reset(module, client, before)
    if params["only_outdated"]:
        _unused, pid, _unused = module.run_command(
            ["systemctl", "show", "-p", "MainPID", "--value", params["unit"]]
        )
        if int(pid.strip() or 0) and not process_outdated(int(pid)):
            module.exit_json(changed=False, masters=before, msg="runs the installed binary")
    if module.check_mode:
        module.exit_json(changed=params["state"] == "restarted", masters=before)
    if params["daemon_reload"]:
        module.run_command(["systemctl", "daemon-reload"], check_rc=True)
    start = time.monotonic()
    if params["previous_unit"]:
        switch(module)
    else:
        module.run_command(["systemctl", "restart", params["unit"]], check_rc=True)

    def knows_again() -> tuple[bool, str]:
        """Every primary up, with its replicas, and every other Sentinel answering since the restart."""
        now = masters(client)
        since_ms = (time.monotonic() - start) * 1000
        short = [
            f"{name}: {now.get(name)}"
            for name, was in before.items()
            if name not in now
            or {"s_down", "o_down", "disconnected"} & set(now[name]["flags"].split(","))
            or now[name]["replicas"] < was["replicas"]
            or len([ms for ms in peers_answered(client, name) if ms < since_ms]) < was["other_sentinels"]
        ]
        return not short, "; ".join(short) or "all known"

    try:
        wait_until(
            f"{params['unit']}: every primary known again with its replicas and peers",
            knows_again,
            params["wait_seconds"],
            0.2,
        )
    except GateError as error:
        module.fail_json(msg=f"{error}. The roll-out stops here.", masters_before=before)
    module.exit_json(
        changed=True,
        seconds=round(time.monotonic() - start, 2),
        masters=masters(client),
        masters_before=before,
    )


if __name__ == "__main__":
    main()
