#!/usr/bin/python
"""Ansible module: form a Redis Cluster from its nodes once, add new nodes later."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cachewright_redis_cluster
short_description: Form a Redis Cluster, add the nodes not in it, rebalance when asked
description:
  - Reads every node's C(CLUSTER INFO). A node that knows other nodes or serves slots is in
    the cluster. When none is, the cluster is formed from all of them
    (C(redis-cli --cluster create)); otherwise the nodes not in it join it
    (C(redis-cli --cluster add-node), as replicas or as empty primaries).
  - With C(rebalance), slots move onto every primary (C(redis-cli --cluster rebalance
    --cluster-use-empty-masters)) when a primary is off its even share by more than
    redis-cli's threshold (2 %).
  - After a change, waits until every node reports C(cluster_state:ok). Then checks from
    C(CLUSTER NODES) that no replica runs on its primary's host, and fails when one does.
  - redis-cli gets the password in C(REDISCLI_AUTH), never on its command line.
  - Run it once for the whole cluster (C(run_once)), on a host that reaches every node.
  - In check mode it reads and reports what it would form or add (with C(--diff)), and
    changes nothing. Nodes that do not answer in check mode count as new (not running yet).
options:
  nodes:
    description: Every node of the cluster, each a dict with C(address) and C(port) (other keys are ignored).
    type: list
    elements: dict
    required: true
  replicas:
    description: Replicas per primary when the cluster is formed.
    type: int
    default: 1
  new_nodes_as_replicas:
    description: Nodes added to a formed cluster join as replicas (true) or as empty primaries (false).
    type: bool
    default: true
  rebalance:
    description: Move slots onto primaries that serve less than their share (empty ones included).
    type: bool
    default: false
  admin_user:
    description: ACL user to log in to the nodes with (all commands).
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
  tls:
    description: Whether the nodes talk TLS.
    type: bool
    default: false
  wait_seconds:
    description: How long the cluster may take to report C(cluster_state:ok) after a change.
    type: int
    default: 60
  cli:
    description: The server's command-line client (C(redis-cli), or C(valkey-cli) for Valkey).
    type: str
    default: redis-cli
extends_documentation_fragment: [cachewright.cache.cachewright_tls_client]
requirements: [redis-py and redis-cli on the host (Debian's python3-redis and redis-tools)]
author: Cachewright
"""

EXAMPLES = r"""
- name: Form the cluster, or add new nodes to it
  cachewright.cache.cachewright_redis_cluster:
    nodes:
      - {address: 10.0.0.11, port: 7000}
      - {address: 10.0.0.12, port: 7000}
      - {address: 10.0.0.13, port: 7000}
    replicas: 0
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"
  run_once: true
"""

RETURN = r"""
action:
  description: C(create), C(add), C(rebalance) or C(none) - the first step taken (or to take).
  returned: always
  type: str
nodes:
  description: Each node with C(slots), C(known) and C(state) from its CLUSTER INFO before any change.
  returned: always
  type: list
added:
  description: The nodes added (or to be added), as C(address:port).
  returned: always
  type: list
rebalanced:
  description: Whether slots were (or would be) moved.
  returned: always
  type: bool
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    redis,
    require_redis,
    wait_until,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    cluster_colocated,
    cluster_node_state,
    cluster_plan,
    endpoint,
    info_fields,
    rebalance_needed,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)

# redis-cli --cluster add-node needs the cluster to know the node before the next one joins.
ADD_PAUSE_SECONDS = 2


class Cluster:
    """The nodes, reached with redis-py (reads) and redis-cli (the --cluster commands)."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        params = module.params
        self.access = Access.from_params(params)
        self.cli = [params["cli"], "--user", params["admin_user"], "--no-auth-warning"]
        if params["tls"]:
            self.cli += ["--tls"]
            for flag, key in (
                ("--cacert", "tls_ca_certificate"),
                ("--cert", "tls_certificate"),
                ("--key", "tls_private_key"),
            ):
                if params[key]:
                    self.cli += [flag, params[key]]

    def info(self, node: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """A node's CLUSTER INFO once it answers; None if it does not within timeout."""
        seen: dict[str, Any] = {}

        def probe() -> tuple[bool, str]:
            seen.update(self.cluster_info(node))
            return "cluster_state" in seen, str(seen.get("cluster_state"))

        try:
            wait_until(f"{endpoint(node)}: CLUSTER INFO", probe, timeout, 0.5)
        except GateError:
            return None
        return seen

    def cluster_info(self, node: dict[str, Any]) -> dict[str, str]:
        """CLUSTER INFO as a dict of strings."""
        reply = self.access.remote(node["address"], node["port"]).execute_command("CLUSTER", "INFO")
        return info_fields(reply)

    def nodes_text(self, node: dict[str, Any]) -> str:
        reply = self.access.remote(node["address"], node["port"]).execute_command("CLUSTER", "NODES")
        return reply if isinstance(reply, str) else str(reply)

    def run(self, args: list[str]) -> str:
        """redis-cli with these arguments, the password in its environment; its output."""
        rc, out, err = self.module.run_command(
            self.cli + args, environ_update={"REDISCLI_AUTH": self.module.params["admin_password"]}
        )
        if rc != 0:
            self.module.fail_json(msg=f"redis-cli {' '.join(args)} failed (rc {rc})", stdout=out, stderr=err)
        return out

    def wait_ok(self, nodes: list[dict[str, Any]]) -> float:
        """Seconds until every node reports cluster_state:ok."""

        def probe() -> tuple[bool, str]:
            states = {endpoint(n): self.cluster_info(n).get("cluster_state") for n in nodes}
            bad = {k: v for k, v in states.items() if v != "ok"}
            return not bad, str(bad)

        return wait_until(
            "every node reports cluster_state:ok", probe, self.module.params["wait_seconds"], 0.5
        )


def converge(
    cluster: Cluster, plan: dict[str, Any], result: dict[str, Any], nodes: list[dict[str, Any]]
) -> str:
    """Form, add and rebalance as planned (in check mode: only say so); fills `result` and
    returns the cluster's state after, for the diff."""
    module, check, seed = cluster.module, cluster.module.check_mode, plan["seed"]
    states = result["nodes"]
    after = "not formed" if plan["create"] else f"formed, {len(states) - len(plan['add'])} nodes"
    if plan["create"]:
        after = f"formed of {len(states)} nodes, {module.params['replicas']} replica(s) per primary"
        if not check:
            replicas = str(module.params["replicas"])
            cluster.run(
                ["--cluster", "create", *plan["endpoints"], "--cluster-replicas", replicas, "--cluster-yes"]
            )
    for index, node in enumerate(plan["add"]):
        after = f"formed, {len(states)} nodes (added {', '.join(result['added'])})"
        if check:
            continue
        if index:
            time.sleep(ADD_PAUSE_SECONDS)
        as_replica = ["--cluster-slave"] if module.params["new_nodes_as_replicas"] else []
        cluster.run(["--cluster", "add-node", endpoint(node), endpoint(seed), *as_replica])
    changed = plan["create"] or bool(plan["add"])
    if changed and not check:
        cluster.wait_ok(nodes)
    # In check mode, a cluster still to be formed has nothing to rebalance or to check yet.
    formed = not plan["create"] or not check
    if module.params["rebalance"] and formed and rebalance_needed(cluster.nodes_text(seed)):
        result["rebalanced"] = True
        result["action"] = result["action"] if changed else "rebalance"
        after += ", slots rebalanced"
        if not check:
            cluster.run(["--cluster", "rebalance", endpoint(seed), "--cluster-use-empty-masters"])
            cluster.wait_ok(nodes)
    if formed and all(s["answered"] for s in states):
        colocated = cluster_colocated(cluster.nodes_text(seed))
        if colocated:
            module.fail_json(msg=f"{'; '.join(colocated)}: a lost host would lose both", **result)
    return after


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "nodes": {"type": "list", "elements": "dict", "required": True},
            "replicas": {"type": "int", "default": 1},
            "new_nodes_as_replicas": {"type": "bool", "default": True},
            "rebalance": {"type": "bool", "default": False},
            "admin_user": {"type": "str", "required": True},
            "admin_password": {"type": "str", "required": True, "no_log": True},
            "tls": {"type": "bool", "default": False},
            "cli": {"type": "str", "default": "redis-cli"},
            "wait_seconds": {"type": "int", "default": 60},
            **tls_client_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    check = module.check_mode
    cluster = Cluster(module)
    nodes = [{**n, "port": int(n["port"])} for n in module.params["nodes"]]
    states = []
    for node in nodes:
        info = cluster.info(node, 2 if check else 20)
        if info is None and not check:
            module.fail_json(msg=f"{endpoint(node)} does not answer CLUSTER INFO")
        states.append({**cluster_node_state(node, info), "answered": info is not None})
    plan = cluster_plan(states)
    result: dict[str, Any] = {
        "action": "create" if plan["create"] else ("add" if plan["add"] else "none"),
        "nodes": states,
        "added": [endpoint(n) for n in plan["add"]],
        "rebalanced": False,
    }
    before = "not formed" if plan["create"] else f"formed, {len(states) - len(plan['add'])} nodes"
    try:
        after = converge(cluster, plan, result, nodes)
    except GateError as error:
        module.fail_json(msg=str(error), **result)
    except (redis.RedisError, OSError) as error:
        module.fail_json(msg=f"{type(error).__name__}: {error}", **result)
    changed = result["action"] != "none"
    module.exit_json(
        changed=changed,
        diff={"before": f"cluster: {before}\n", "after": f"cluster: {after}\n"} if changed else {},
        **result,
    )


if __name__ == "__main__":
    main()
