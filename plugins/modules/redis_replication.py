#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: make this host's Redis instances follow the primary the inventory names."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_replication
short_description: Point Redis replicas at their primary, and primaries at no one
version_added: 1.0.0
description:
  - Reads each instance's replication state (INFO replication over its unix socket), compares
    it with the primary the inventory names (or none) and, where they differ, sends
    C(REPLICAOF host port) or C(REPLICAOF NO ONE), then C(CONFIG REWRITE) so that the instance
    starts with the same primary after a restart.
  - With C(managed_by=sentinel), an instance is pointed once, on the run that finds no marker
    file for it (the role writes the marker afterwards); from then on Sentinel decides which
    instance is the primary, and this module changes nothing. On that first run it follows
    the primary of its group as the Sentinels announce it now (their hello messages on the
    inventory's primary or on a peer, C(peers)), when that is another host's instance;
    a host that comes back empty joins whoever is primary now as a replica, even where the
    inventory names it the primary. Where no Sentinel watches the group yet (a new tier),
    it follows the inventory (replicas are pointed at their primary, primaries stand alone).
  - Waits up to C(wait_seconds) for an instance that is still starting or loading its data.
  - In check mode it reads and reports what it would change (with C(--diff), each changed
    instance before and after), and changes nothing. An instance that does not answer in
    check mode is reported as a change (it is not running yet).
options:
  instances:
    description:
      - This host's instances (not the cluster ones), by name, each with the inventory's
        C({host, instance}) of its primary, or null for a primary.
    type: dict
    required: true
  primaries:
    description:
      - Each inventory host named in a C(replicaof), as C({address, ports, tls_ports}), the
        last two mapping each of its instances' names to its C(port) and C(tls_port).
    type: dict
    default: {}
  peers:
    description:
      - The other hosts of the play, in the form of C(primaries); an instance's peers are the
        instances of the same name on them (the members of its Sentinel group).
    type: dict
    version_added: 1.2.0
    default: {}
  tls_port_first:
    description:
      - Replicate from the primary's C(tls_port) rather than its C(port) (the role sets it
        when the plain port is kept beside TLS, so that replication still uses TLS).
    type: bool
    default: false
  managed_by:
    description: Who keeps each instance's primary after the first run.
    type: str
    choices: [ansible, sentinel]
    default: ansible
  marker:
    description: The file that says a Sentinel-managed replica has been pointed once; C({name}) is its name.
    type: str
    default: /var/lib/redis/{name}/.cachewright-replication-set
  unit:
    description: systemd unit of an instance, as its results and messages name it; C({name}) is its name.
    type: str
    version_added: 1.1.0
    default: redis-server@{name}.service
extends_documentation_fragment:
  - cachewright.cache.redis_access
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Make replicas follow their primary, and primaries stand alone
  cachewright.cache.redis_replication:
    instances:
      cache: {host: redis-1, instance: cache}
    primaries:
      redis-1: {address: 10.0.0.11, ports: {cache: 6379}, tls_ports: {cache: 0}}
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"
"""

RETURN = r"""
instances:
  description: Per instance - its state before (C(before)), the wanted one (C(after)) and
    the REPLICAOF arguments sent or to be sent (C(command), empty when none).
  returned: always
  type: dict
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    access_argument_spec,
    announced_primary,
    redis,
    require_redis,
    wait_until,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    describe_replication,
    replication_command,
    replication_state,
    wanted_primary,
)


def read_state(client: Any, label: str, timeout: float) -> dict[str, Any]:
    """The instance's replication state, once it answers and has loaded its data."""
    seen: dict[str, Any] = {}

    def probe() -> tuple[bool, str]:
        info = client.info("replication")
        seen.update(replication_state(info))
        return True, str(info.get("role"))

    wait_until(f"{label}: INFO replication", probe, timeout, interval=0.5)
    return seen


def group_primary(
    access: Access, name: str, replicaof: dict[str, Any] | None, params: dict[str, Any]
) -> tuple[str, int] | None:
    """The primary the Sentinels of this instance's group announce now, when it is the
    inventory's primary or a peer (another host's instance of the same name); None when no
    Sentinel watches them yet."""
    candidates = [] if not replicaof else [replicaof]
    candidates += [
        {"host": host, "instance": name} for host, peer in params["peers"].items() if name in peer["ports"]
    ]
    members = {**params["primaries"], **params["peers"]}
    endpoints = [wanted_primary(c, members, params["tls_port_first"]) for c in candidates]
    for endpoint in endpoints:
        if endpoint is None or not endpoint[1]:
            continue
        try:
            announced = announced_primary(access.remote(*endpoint))
        except (redis.RedisError, OSError):
            continue
        if announced is not None:
            return announced if announced in endpoints else None
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "dict", "required": True},
            "primaries": {"type": "dict", "default": {}},
            "peers": {"type": "dict", "default": {}},
            "tls_port_first": {"type": "bool", "default": False},
            "managed_by": {"type": "str", "choices": ["ansible", "sentinel"], "default": "ansible"},
            "marker": {"type": "str", "default": "/var/lib/redis/{name}/.cachewright-replication-set"},
            "unit": {"type": "str", "default": "redis-server@{name}.service"},
            **access_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    params = module.params
    access = Access.from_params(params)
    results: dict[str, Any] = {}
    before: list[str] = []
    after: list[str] = []
    for name, replicaof in params["instances"].items():
        label = params["unit"].replace("{name}", name).removesuffix(".service")
        wanted = wanted_primary(replicaof, params["primaries"], params["tls_port_first"])
        if wanted is not None and not wanted[1]:
            module.fail_json(msg=f"{label}: its primary {replicaof} has no port in `primaries`")
        client = access.local(params["socket"].replace("{name}", name))
        marked = os.path.exists(params["marker"].replace("{name}", name))
        if params["managed_by"] == "sentinel" and not marked:
            wanted = group_primary(access, name, replicaof, params) or wanted
        wait = 2 if module.check_mode else params["wait_seconds"]
        try:
            state: dict[str, Any] | None = read_state(client, label, wait)
        except GateError as error:
            if not module.check_mode:
                module.fail_json(msg=str(error), instances=results)
            state = None
        want_text = f"replica of {wanted[0]}:{wanted[1]}" if wanted else "primary"
        if state is None:
            # Not running yet (check mode): compared as a primary, which a new instance is.
            command = replication_command({"role": "primary"}, wanted, params["managed_by"], marked)
        else:
            command = replication_command(state, wanted, params["managed_by"], marked)
        results[name] = {
            "before": describe_replication(state),
            "after": want_text if command else describe_replication(state),
            "command": command,
        }
        if not command:
            continue
        before.append(f"{name}: {results[name]['before']}\n")
        after.append(f"{name}: {results[name]['after']}\n")
        if module.check_mode:
            continue
        try:
            client.execute_command("REPLICAOF", *command)
            client.execute_command("CONFIG", "REWRITE")
        except (redis.RedisError, OSError) as error:
            module.fail_json(msg=f"{label}: REPLICAOF {' '.join(command)}: {error}", instances=results)
    changed = bool(before)
    module.exit_json(
        changed=changed,
        instances=results,
        diff={"before": "".join(before), "after": "".join(after)},
    )


if __name__ == "__main__":
    main()
