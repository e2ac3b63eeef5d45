#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: form a Redis Cluster from its nodes once, add new nodes later."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_cluster
short_description: Form a Redis Cluster, add and forget nodes, spread its primaries
version_added: 1.0.0
description:
  - Reads every node's C(CLUSTER INFO). A node that knows other nodes or serves slots is in
    the cluster. When none is, the cluster is formed from all of them
    (C(redis-cli --cluster create)); otherwise the nodes not in it join it
    (C(redis-cli --cluster add-node), as replicas or as empty primaries).
  - With C(rebalance), slots move onto every primary (C(redis-cli --cluster rebalance
    --cluster-use-empty-masters)) when a primary is off its even share by more than
    redis-cli's threshold (2 %).
  - Forgets ghosts on every node (C(CLUSTER FORGET), within the 60 s ban window), the nodes
    the cluster lists as failed (C(fail) or C(noaddr)) that serve no slot, at an address
    that is in no node of I(nodes) or that another node answers now (a host that came back
    empty has new node IDs). A failed node that may come back at its own address is kept.
  - With C(spread_primaries), first gives every primary serving slots a replica on another
    host (C(CLUSTER REPLICATE) of a replica of a primary that has two, as a new shard needs),
    then moves primary roles so that no host runs more than its even
    share of the primaries (rounded up), with C(CLUSTER FAILOVER) on a replica of a host with
    fewer, once that replica is in sync (no data moves; writes are held until it has them
    all), one at a time, each gated as the restart path gates a hand-over.
  - After a change, waits until every node reports C(cluster_state:ok). Then checks from
    C(CLUSTER NODES) that no replica runs on its primary's host, and fails when one does.
  - Returns where the primaries sit and whether losing any one host leaves a majority of
    primaries and a replica on another host for every shard it held (C(placement)).
  - redis-cli gets the password in C(REDISCLI_AUTH), never on its command line.
  - Run it once for the whole cluster (C(run_once)), on a host that reaches every node.
  - In check mode it reads and reports what it would form or add (with C(--diff)), and
    changes nothing; ghosts to forget and bunched primaries are reported as drift. Nodes
    that do not answer in check mode count as new (not running yet).
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
    description:
      - Nodes added to a formed cluster all join as replicas (true; the capacity stays), or
        (false) as the node count allows - as primaries while the cluster has fewer than one
        primary for every C(1 + replicas) nodes (a new host's first node first), the others as
        replicas of the primary with the fewest replicas on another host. New primaries get
        their share of the slots (C(--cluster rebalance --cluster-use-empty-masters)), moved
        key by key while clients keep working (they follow C(ASK) and C(MOVED)).
    type: bool
    default: true
  rebalance:
    description:
      - Move slots onto primaries that serve less than their share. A primary that serves no
        slot at all gets its share whatever this says.
    type: bool
    default: false
  retire:
    description:
      - Nodes to take out of the cluster (each a dict with C(address) and C(port), like
        I(nodes)), e.g. every node of a host that leaves. Their slots are moved to the other
        primaries first (C(--cluster rebalance) with weight 0 for them, key by key while
        clients follow C(ASK) and C(MOVED)), then each is removed (C(--cluster del-node)),
        its replicas given to other primaries. The rest of the run (replicas, placement)
        works on the other nodes.
    type: list
    version_added: 1.2.0
    elements: dict
    default: []
  spread_primaries:
    description: Move primary roles (C(CLUSTER FAILOVER)) until no host runs more than its even share.
    type: bool
    version_added: 1.2.0
    default: true
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
    version_added: 1.1.0
    default: redis-cli
extends_documentation_fragment: [cachewright.cache.tls_client]
requirements: [redis-py and redis-cli on the host (Debian's python3-redis and redis-tools)]
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Form the cluster, or add new nodes to it
  cachewright.cache.redis_cluster:
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
retired:
  description: The nodes of C(retire) taken out (or to take out), each with C(address), C(id) and C(slots).
  returned: always
  type: list
forgotten:
  description: The ghost nodes forgotten (or to forget), each with C(id) and C(address).
  returned: always
  type: list
joins:
  description: How each added node joined (or would), C({node, as, primary}) with C(as) primary or replica.
  returned: always
  type: list
replicas_moved:
  description: The replicas given to another primary (or to give), each C({replica, primary}), host:port.
  returned: always
  type: list
moved:
  description: The primary roles moved (or to move), each C({replica, primary}) as C(address:port).
  returned: always
  type: list
placement:
  description: >-
    After the run (in check mode: now), C(primaries_by_host), C(without_replica) (primaries
    with no replica on another host) and C(survives_host_loss).
  returned: when every node answered
  type: dict
"""

import contextlib
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    gate_in_sync,
    redis,
    require_redis,
    wait_until,
    while_loading,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_handover import (
    Handover,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import (
    cluster_colocated,
    cluster_ghosts,
    cluster_node_state,
    cluster_plan,
    cluster_rows,
    empty_primaries,
    endpoint,
    info_fields,
    join_plan,
    placement_moves,
    placement_report,
    rebalance_needed,
    replica_moves,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)

# What a run that forms or adds nothing did, by the result key that says it, first first.
ACTIONS = {"retired": "retire", "forgotten": "forget", "replicas_moved": "spread", "moved": "spread"}
# redis-cli --cluster add-node needs the cluster to know the node before the next one joins.
ADD_PAUSE_SECONDS = 2


def slot_table(cluster_nodes: str) -> list[str]:
    """Which node serves which slots, from one node's CLUSTER NODES (its view to compare)."""
    return sorted(
        f"{line.split()[0]} {' '.join(line.split()[8:])}"
        for line in cluster_nodes.splitlines()
        if len(line.split()) > 8 and "master" in line.split()[2]
    )


def node_at(address: str) -> dict[str, Any]:
    """host:port as a node ({address, port})."""
    host, port = address.rsplit(":", 1)
    return {"address": host, "port": int(port)}


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

    def client(self, address: str) -> Any:
        """The node at host:port."""
        node = node_at(address)
        return self.access.remote(node["address"], node["port"])

    def command(self, node: dict[str, Any], *args: str) -> Any:
        """A command to a node, sent again while the node is loading its data."""
        client = self.access.remote(node["address"], node["port"])
        return while_loading(lambda: client.execute_command(*args), float(self.module.params["wait_seconds"]))

    def node_id(self, node: dict[str, Any]) -> str | None:
        """The node's own ID, or None when it does not answer."""
        try:
            return str(self.command(node, "CLUSTER", "MYID"))
        except (redis.RedisError, OSError):
            return None

    def forget(self, ghosts: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> None:
        """CLUSTER FORGET every ghost on every node that answers (a node that never met it,
        a fresh one, says it does not know it)."""
        for node in nodes:
            client = self.access.remote(node["address"], node["port"])
            for ghost in ghosts:
                try:
                    client.execute_command("CLUSTER", "FORGET", ghost["id"])
                except redis.ResponseError as error:
                    if "unknown node" not in str(error).lower():
                        raise
                except (redis.ConnectionError, OSError):
                    break

    def wait_settled(self, seed: dict[str, Any], nodes: list[dict[str, Any]], replicas: list[str]) -> None:
        """Until the seed lists every node connected (no handshake, no failure), the nodes just
        added as replicas as replicas, and every node has the same table of slots (what
        redis-cli checks before it moves slots): gossip takes a moment after add-node."""
        wanted = {endpoint(n) for n in nodes}

        def settled() -> tuple[bool, str]:
            rows = {row["address"]: row for row in cluster_rows(self.nodes_text(seed))}
            pending = sorted(
                address
                for address in wanted
                if address not in rows
                or rows[address]["link"] != "connected"
                or {"handshake", "fail", "fail?", "noaddr"} & rows[address]["flags"]
                or (address in replicas and "slave" not in rows[address]["flags"])
            )
            if pending:
                return False, f"not yet settled: {', '.join(pending)}"
            tables = {endpoint(n): slot_table(self.nodes_text(n)) for n in nodes}
            differ = sorted(a for a, table in tables.items() if table != tables[endpoint(seed)])
            return not differ, f"these nodes do not agree on the slots yet: {', '.join(differ)}"

        wait_until("every node known and connected", settled, self.module.params["wait_seconds"], 0.5)

    def give_replicas(self, seed: dict[str, Any], nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
        """CLUSTER REPLICATE until every primary serving slots has a replica on another host
        (a new shard takes one from a primary that has two), each replica in sync before the
        next move."""
        moved: list[dict[str, str]] = []
        for _unused in range(len(nodes)):
            moves = replica_moves(self.nodes_text(seed))
            if not moves:
                break
            move = moves[0]
            primary_id = self.node_id(node_at(move["primary"]))
            replica = self.client(move["replica"])
            self.command(node_at(move["replica"]), "CLUSTER", "REPLICATE", str(primary_id))
            timeout = float(self.module.params["wait_seconds"])

            def seen(address: str = move["replica"], wanted: str | None = primary_id) -> tuple[bool, str]:
                row = next((r for r in cluster_rows(self.nodes_text(seed)) if r["address"] == address), None)
                return bool(row) and row["primary_id"] == wanted, f"the seed lists {row}"

            wait_until(f"{move['replica']} listed as a replica of {move['primary']}", seen, timeout, 0.2)
            gate_in_sync(self.access, replica, move["replica"], timeout)
            moved.append(move)
        return moved

    def spread(self, seed: dict[str, Any], nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
        """Move primary roles until no host runs more than its share: one CLUSTER FAILOVER at
        a time, on a replica in sync, each gated; the table read again after each."""
        moved: list[dict[str, str]] = []
        log: list[str] = []
        timeout = float(self.module.params["wait_seconds"])
        for _unused in range(len(nodes)):
            moves = placement_moves(self.nodes_text(seed))
            if not moves:
                break
            move = moves[0]
            gate_in_sync(self.access, self.client(move["replica"]), move["replica"], timeout)
            target = node_at(move["replica"])
            Handover(self.access, timeout, log).cluster(
                self.client(move["primary"]), move["primary"], (target["address"], target["port"])
            )
            moved.append(move)
            self.wait_ok(nodes)
        return moved

    def nodes_text(self, node: dict[str, Any]) -> str:
        """The node's CLUSTER NODES (which a node refuses while it loads its data)."""
        reply = self.command(node, "CLUSTER", "NODES")
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


def join(cluster: Cluster, seed: dict[str, Any], added: list[str]) -> list[dict[str, str]]:
    """Add the nodes not in the cluster (in check mode: only plan it), as replicas or as the
    node count allows (join_plan); how each joined."""
    params = cluster.module.params
    if params["new_nodes_as_replicas"]:
        steps = [{"node": node, "as": "replica"} for node in added]
    else:
        steps = join_plan(cluster.nodes_text(seed), added, params["replicas"])
    for index, step in enumerate([] if cluster.module.check_mode else steps):
        if index:
            time.sleep(ADD_PAUSE_SECONDS)
        role = []
        if step["as"] == "replica":
            role = ["--cluster-slave"]
            if step.get("primary"):
                role += ["--cluster-master-id", cluster.node_id(node_at(step["primary"])) or ""]
        cluster.run(["--cluster", "add-node", step["node"], endpoint(seed), *role])
    return steps


def retire(
    cluster: Cluster, seed: dict[str, Any], kept: list[dict[str, Any]], leaving: set[str]
) -> list[dict[str, Any]]:
    """Take the `leaving` nodes out (in check mode: say which): their slots moved to the
    other primaries, then each removed; the nodes retired, with the slots they served."""
    rows = [r for r in cluster_rows(cluster.nodes_text(seed)) if r["address"] in leaving]
    retired = [{"address": r["address"], "id": r["id"], "slots": r["slots"]} for r in rows]
    if cluster.module.check_mode or not retired:
        return retired
    serving = [r["id"] for r in rows if "master" in r["flags"] and r["slots"]]
    if serving:
        weights = [f"{node_id}=0" for node_id in serving]
        cluster.run(["--cluster", "rebalance", endpoint(seed), "--cluster-weight", *weights])

        def drained() -> tuple[bool, str]:
            left = {
                r["address"]: r["slots"] for r in cluster_rows(cluster.nodes_text(seed)) if r["id"] in serving
            }
            return not any(left.values()), f"slots still served: {left}"

        wait_until("the leaving primaries' slots moved", drained, cluster.module.params["wait_seconds"], 0.5)
    for node in retired:
        cluster.run(["--cluster", "del-node", endpoint(seed), node["id"]])
    cluster.wait_ok(kept)
    return retired


def converge(
    cluster: Cluster, plan: dict[str, Any], result: dict[str, Any], nodes: list[dict[str, Any]]
) -> str:
    """Form, add and rebalance as planned (in check mode: only say so); fills `result` and
    returns the cluster's state after, for the diff."""
    module, check, seed = cluster.module, cluster.module.check_mode, plan["seed"]
    states = result["nodes"]
    after = "not formed" if plan["create"] else f"formed, {len(states) - len(plan['add'])} nodes"
    if result["forgotten"] and not check:
        cluster.forget(result["forgotten"], nodes)
    if plan["create"]:
        after = f"formed of {len(states)} nodes, {module.params['replicas']} replica(s) per primary"
        if not check:
            replicas = str(module.params["replicas"])
            cluster.run(
                ["--cluster", "create", *plan["endpoints"], "--cluster-replicas", replicas, "--cluster-yes"]
            )
    if plan["add"]:
        after = f"formed, {len(states)} nodes (added {', '.join(result['added'])})"
        result["joins"] = join(cluster, seed, result["added"])
    changed = plan["create"] or bool(plan["add"])
    if changed and not check:
        cluster.wait_ok(nodes)
        replicas = [step["node"] for step in result["joins"] if step["as"] == "replica"]
        cluster.wait_settled(seed, nodes, replicas)
        # Slots move only once the replicas just added have synced: Valkey replicates CLUSTER
        # SETSLOT to a primary's replicas and refuses it (NOREPLICAS) while one is still
        # loading its first copy, which would stop a rebalance half-way.
        timeout = float(module.params["wait_seconds"])
        for address in replicas:
            gate_in_sync(cluster.access, cluster.client(address), address, timeout)
    # In check mode, a cluster still to be formed has nothing to rebalance or to check yet.
    formed = not plan["create"] or not check
    asked = module.params["rebalance"] or any(step["as"] == "primary" for step in result["joins"])
    table = cluster.nodes_text(seed) if formed else ""
    if formed and (asked or empty_primaries(table)) and rebalance_needed(table):
        result["rebalanced"] = True
        result["action"] = result["action"] if changed else "rebalance"
        after += ", slots rebalanced"
        if not check:
            cluster.run(["--cluster", "rebalance", endpoint(seed), "--cluster-use-empty-masters"])
            cluster.wait_ok(nodes)
    if formed and all(s["answered"] for s in states):
        after += place(cluster, seed, nodes, result)
    return after


def place(cluster: Cluster, seed: dict[str, Any], nodes: list[dict[str, Any]], result: dict[str, Any]) -> str:
    """Spread the primaries (in check mode: say which roles would move), record where they
    sit, and fail when a replica runs on its primary's host; the diff's words for it."""
    module = cluster.module
    said = ""
    if module.params["spread_primaries"]:
        if module.check_mode:
            result["replicas_moved"] = replica_moves(cluster.nodes_text(seed))
            result["moved"] = placement_moves(cluster.nodes_text(seed))
        else:
            result["replicas_moved"] = cluster.give_replicas(seed, nodes)
            result["moved"] = cluster.spread(seed, nodes)
        if result["replicas_moved"]:
            moves = ", ".join(
                f"{m['replica']} now replicates {m['primary']}" for m in result["replicas_moved"]
            )
            said += f", replicas moved ({moves})"
        if result["moved"]:
            moves = ", ".join(f"{m['replica']} takes over from {m['primary']}" for m in result["moved"])
            said += f", primaries spread ({moves})"
    table = cluster.nodes_text(seed)
    if result["moved"] or result["replicas_moved"]:
        # The seed learns the new roles by gossip: read its table until it shows them.
        def steady() -> tuple[bool, str]:
            nonlocal table
            table = cluster.nodes_text(seed)
            report = placement_report(cluster_rows(table))
            return report["survives_host_loss"], str(report)

        with contextlib.suppress(GateError):
            wait_until("the seed lists the moved roles", steady, float(module.params["wait_seconds"]), 0.5)
    result["placement"] = placement_report(cluster_rows(table))
    colocated = cluster_colocated(table)
    if colocated:
        module.fail_json(msg=f"{'; '.join(colocated)}: a lost host would lose both", **result)
    return said


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "nodes": {"type": "list", "elements": "dict", "required": True},
            "replicas": {"type": "int", "default": 1},
            "new_nodes_as_replicas": {"type": "bool", "default": True},
            "rebalance": {"type": "bool", "default": False},
            "spread_primaries": {"type": "bool", "default": True},
            "retire": {"type": "list", "elements": "dict", "default": []},
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
    leaving = {endpoint(n) for n in module.params["retire"]}
    nodes = [{**n, "port": int(n["port"])} for n in module.params["nodes"]]
    kept = [n for n in nodes if endpoint(n) not in leaving]
    retired = retire(cluster, kept[0], kept, leaving) if leaving else []
    nodes = kept
    states = []
    for node in nodes:
        info = cluster.info(node, 2 if check else 20)
        if info is None and not check:
            module.fail_json(msg=f"{endpoint(node)} does not answer CLUSTER INFO")
        states.append({**cluster_node_state(node, info), "answered": info is not None})
    plan = cluster_plan(states)
    ghosts: list[dict[str, Any]] = []
    if not plan["create"]:
        answering = {endpoint(n): cluster.node_id(n) for n in nodes}
        ghosts = cluster_ghosts(cluster.nodes_text(plan["seed"]), answering)
    result: dict[str, Any] = {
        "action": "create" if plan["create"] else ("add" if plan["add"] else "none"),
        "nodes": states,
        "added": [endpoint(n) for n in plan["add"]],
        "rebalanced": False,
        "forgotten": ghosts,
        "retired": retired,
        "joins": [],
        "replicas_moved": [],
        "moved": [],
    }
    before = "not formed" if plan["create"] else f"formed, {len(states) - len(plan['add'])} nodes"
    if ghosts:
        before += f", {len(ghosts)} ghost(s) listed: {', '.join(g['address'] for g in ghosts)}"
    try:
        after = converge(cluster, plan, result, nodes)
    except GateError as error:
        module.fail_json(msg=str(error), **result)
    except (redis.RedisError, OSError) as error:
        module.fail_json(msg=f"{type(error).__name__}: {error}", **result)
    changed = result["action"] != "none" or any(result[k] for k in ACTIONS)
    if changed and result["action"] == "none":
        result["action"] = next(action for key, action in ACTIONS.items() if result[key])
        after += f", retired: {', '.join(r['address'] for r in retired)}" if retired else ""
        after += f", ghosts forgotten: {len(result['forgotten'])}" if result["forgotten"] else ""
    module.exit_json(
        changed=changed,
        diff={"before": f"cluster: {before}\n", "after": f"cluster: {after}\n"} if changed else {},
        **result,
    )


if __name__ == "__main__":
    main()
