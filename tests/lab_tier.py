# SPDX-License-Identifier: Apache-2.0
"""What the lab's Redis tier looks like from inside it (tests/test_lab_main_job.py).

``tier_state()`` runs a probe on a Redis host of the lab, with the host's own TLS files
and the lab's admin and Sentinel passwords: every cluster node's ``CLUSTER INFO``, where
the primaries sit (by host), and what every Sentinel counts for each primary it watches.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

# Runs on a Redis host with Debian's python3-redis: argv is the admin password, the
# Sentinels' password, and JSON {"hosts": [...], "cluster_ports": [...]}.
PROBE = """
import glob, json, socket, sys
import redis
admin, sentinel, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def files(kind):
    return glob.glob(f"/etc/*/cachewright/{kind}/ca.crt")[0].rsplit("/", 1)[0]
def client(host, port, user, password, kind):
    d = files(kind)
    return redis.Redis(host=host, port=port, username=user, password=password, ssl=True,
                       ssl_ca_certs=d + "/ca.crt", ssl_certfile=d + "/server.crt",
                       ssl_keyfile=d + "/server.key", ssl_check_hostname=False,
                       socket_timeout=3, decode_responses=True)
def fields(row):
    return dict(zip(row[0::2], row[1::2])) if isinstance(row, list) else dict(row)
names = {socket.gethostbyname(h): h for h in spec["hosts"]}
out = {"nodes": {}, "primaries_by_host": {h: 0 for h in spec["hosts"]}, "colocated": [],
       "sentinels": {}}
table = None
for host in spec["hosts"]:
    for port in spec["cluster_ports"]:
        try:
            c = client(host, port, "cw-admin", admin, "tls")
            text = c.execute_command("CLUSTER", "INFO")
            info = dict(l.split(":", 1) for l in text.splitlines() if ":" in l)
            out["nodes"][f"{host}:{port}"] = {"state": info["cluster_state"],
                                               "known": int(info["cluster_known_nodes"])}
            table = table or c.execute_command("CLUSTER", "NODES")
        except (redis.RedisError, OSError) as error:
            out["nodes"][f"{host}:{port}"] = {"error": str(error)}
rows = [line.split() for line in (table or "").splitlines() if line.strip()]
by_id = {row[0]: row for row in rows}
for row in rows:
    flags, ip = row[2].split(","), row[1].split("@")[0].rsplit(":", 1)[0]
    if "master" in flags and len(row) > 8 and not {"fail", "noaddr"} & set(flags):
        out["primaries_by_host"][names.get(ip, ip)] = out["primaries_by_host"].get(names.get(ip, ip), 0) + 1
    if "slave" in flags and row[3] in by_id and by_id[row[3]][1].split("@")[0].rsplit(":", 1)[0] == ip:
        out["colocated"].append(row[1])
for host in spec["hosts"]:
    try:
        s = client(host, 26379, None, sentinel, "sentinel-tls")
        out["sentinels"][host] = {
            m["name"]: {"primary": names.get(m["ip"], m["ip"]), "replicas": int(m["num-slaves"]),
                        "other_sentinels": int(m["num-other-sentinels"]), "flags": m["flags"]}
            for m in map(fields, s.execute_command("SENTINEL", "MASTERS"))
        }
    except (redis.RedisError, OSError) as error:
        out["sentinels"][host] = {"error": str(error)}
print(json.dumps(out))
"""


def tier_state(
    probe_host: str, hosts: list[str], cluster_ports: list[int], admin: str, sentinel: str
) -> dict[str, Any]:
    """The cluster's nodes, primaries by host and colocated replicas, and each Sentinel's
    count of replicas and peers per primary, as seen from `probe_host`."""
    spec = json.dumps({"hosts": hosts, "cluster_ports": cluster_ports})
    done = subprocess.run(
        ["docker", "exec", probe_host, "python3", "-c", PROBE, admin, sentinel, spec],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def problems(state: dict[str, Any], hosts: list[str], cluster_ports: list[int]) -> list[str]:
    """What keeps the tier from being as healthy as the inventory says: a node not ok or
    listing more or fewer nodes than the inventory has, bunched primaries, a replica on its
    primary's host, a Sentinel counting other replicas or peers than the inventory has."""
    found = []
    wanted_nodes = len(hosts) * len(cluster_ports)
    for node, info in state["nodes"].items():
        if info.get("state") != "ok" or info.get("known") != wanted_nodes:
            found.append(f"cluster node {node}: {info} (wanted ok, {wanted_nodes} known nodes)")
    share = -(-sum(state["primaries_by_host"].values()) // len(hosts))
    if max(state["primaries_by_host"].values()) > share:
        found.append(f"primaries bunched: {state['primaries_by_host']}")
    found += [f"replica {r} on its primary's host" for r in state["colocated"]]
    for host, masters in state["sentinels"].items():
        for name, seen in masters.items() if "error" not in masters else [("-", masters)]:
            if seen.get("replicas") != len(hosts) - 1 or seen.get("other_sentinels") != len(hosts) - 1:
                found.append(
                    f"Sentinel on {host}, {name}: {seen} (wanted {len(hosts) - 1} replicas and peers)"
                )
    return found
