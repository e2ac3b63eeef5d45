# SPDX-License-Identifier: Apache-2.0
"""This host's Redis instances as the instance modules see them: read each one's state,
restart them through the safe path, reload their TLS files, set settings live
(redis_instances, redis_instances_info)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import time
from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import (
    process_outdated,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    Access,
    GateError,
    gate_up,
    persistence_of,
    read_snapshot,
    redis,
    write_carried,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_restart import Restarter
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    client_context,
    file_fingerprint,
    served_fingerprint,
)


class Instances:
    """This host's instances, as the module sees them."""

    def __init__(self, module: Any) -> None:
        self.module = module
        params = module.params
        self.access = Access.from_params(params)
        self.restarter = Restarter(
            access=self.access,
            socket_of=self.socket_of,
            restart=self.systemctl_restart,
            timeout=float(params.get("wait_seconds") or 60),
        )
        self.reloaded_daemon = not params.get("daemon_reload")

    def unit(self, name: str) -> str:
        return self.module.params["unit"].replace("{name}", name)

    def socket_of(self, name: str) -> str:
        """The socket of the instance as it runs now: the previous unit's until it has moved."""
        params = self.module.params
        current = params["socket"].replace("{name}", name)
        if params.get("previous_socket") and not os.path.exists(current):
            previous = params["previous_socket"].replace("{name}", name)
            if os.path.exists(previous):
                return previous
        return current

    def systemctl(self, *args: str) -> None:
        self.module.run_command(["systemctl", *args], check_rc=True)

    def systemctl_restart(self, name: str) -> None:
        if not self.reloaded_daemon:
            self.systemctl("daemon-reload")
            self.reloaded_daemon = True
        previous = self.module.params["previous_unit"]
        if not previous:
            self.systemctl("restart", self.unit(name))
            return
        old = previous.replace("{name}", name)
        self.systemctl("disable", "--now", old)
        self.systemctl("mask", old)
        self.carry(name)
        self.systemctl("enable", "--now", self.unit(name))
        self.restarter.log.append(f"{name}: {old} stopped and masked, {self.unit(name)} started")

    def carry(self, name: str) -> None:
        """Copy the old main file and data directory over the new ones (neither runs now)."""
        carry = self.module.params["carry_data"]
        if not carry:
            return
        uid = pwd.getpwnam(carry["owner"]).pw_uid
        gid = grp.getgrnam(carry["group"]).gr_gid
        if carry["main_config_from"] and carry["main_config_to"]:
            config = carry["main_config_from"].replace("{name}", name)
            owned = (carry["owned_config"] or "").replace("{name}", name)
            if os.path.exists(config):
                copied = carry["main_config_to"].replace("{name}", name)
                write_carried(config, owned, copied, uid, gid)
        source = carry["from"].replace("{name}", name)
        target = carry["to"].replace("{name}", name)
        if not os.path.isdir(source):
            return
        # What the new directory holds is not the instance's: the new unit never served it
        # (the old one held its ports until now), e.g. a node file of a start that failed.
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        for root, dirs, files in os.walk(target):
            for entry in [root, *(os.path.join(root, child) for child in dirs + files)]:
                os.chown(entry, uid, gid)
        self.restarter.log.append(f"{name}: data of {source} copied to {target}")

    def read(self, name: str) -> dict[str, Any]:
        """An instance's state; running false when it does not answer."""
        try:
            client = self.restarter.local(name)
            snap = read_snapshot(client, name)
            persistence = persistence_of(client)
        except (redis.RedisError, OSError) as error:
            return {"running": False, "error": f"{type(error).__name__}: {error}"}
        return {
            "running": True,
            "role": "primary" if snap.primary else "replica",
            "cluster": snap.cluster,
            "loading": snap.loading,
            "link": snap.replication.get("master_link_status"),
            "replicas": int(snap.replication.get("connected_slaves", 0)),
            "persistence": persistence,
            "outdated": process_outdated(snap.process_id),
        }

    def info(self) -> dict[str, Any]:
        return {"changed": False, "instances": {n: self.read(n) for n in self.module.params["instances"]}}

    def restarted(self) -> dict[str, Any]:
        params = self.module.params
        states = {n: self.read(n) for n in params["instances"]}
        chosen = [
            n for n, s in states.items() if not s["running"] or not params["only_outdated"] or s["outdated"]
        ]
        # Replicas first: a primary hands its role over last, to a replica already restarted.
        chosen.sort(key=lambda n: states[n].get("role") == "primary")
        results: dict[str, Any] = {n: {**s, "action": "none"} for n, s in states.items()}
        if self.module.check_mode:
            for name in chosen:
                results[name]["action"] = "would restart"
            return {"changed": bool(chosen), "instances": results}
        for name in chosen:
            try:
                if not states[name]["running"]:
                    self.systemctl_restart(name)
                    gate_up(self.restarter.local(name), name, self.restarter.timeout)
                    results[name].update(action="started (was not running)")
                    continue
                results[name].update(action="restarted", **self.restarter.restart_safely(name))
            except (GateError, redis.RedisError, OSError) as error:
                self.module.fail_json(
                    msg=f"{self.unit(name)}: {error}. The roll-out stops here; the instances after it "
                    f"were not touched ({', '.join(chosen[chosen.index(name) + 1 :]) or 'none'}).",
                    instances=results,
                    log=self.restarter.log,
                )
        return {"changed": bool(chosen), "instances": results, "log": self.restarter.log}

    def reloaded(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        changed = False
        for name in self.module.params["instances"]:
            client = self.restarter.local(name)
            try:
                port = int(client.config_get("tls-port").get("tls-port") or 0)
            except (redis.RedisError, OSError):
                results[name] = {"action": "none (not running: it reads its files when it starts)"}
                continue
            if not port:
                results[name] = {"action": "none (no TLS port)"}
                continue
            files = client.config_get("tls-*")
            wanted = file_fingerprint(files["tls-cert-file"])
            context = client_context(
                self.access.ca_certificate, self.access.certificate, self.access.private_key
            )
            if served_fingerprint("127.0.0.1", port, context) == wanted:
                results[name] = {"action": "none (serves the certificate on disk)"}
                continue
            changed = True
            results[name] = {"action": "would reload" if self.module.check_mode else "reloaded"}
            if self.module.check_mode:
                continue
            client.execute_command(
                "CONFIG", "SET",
                "tls-cert-file", files["tls-cert-file"],
                "tls-key-file", files["tls-key-file"],
                "tls-ca-cert-file", files["tls-ca-cert-file"],
            )  # fmt: skip
            deadline = time.monotonic() + 5
            while served_fingerprint("127.0.0.1", port, context) != wanted:
                if time.monotonic() > deadline:
                    self.module.fail_json(
                        msg=f"{self.unit(name)}: still serves the old certificate after CONFIG SET"
                    )
                time.sleep(0.1)
        return {"changed": changed, "instances": results}

    def configured(self) -> dict[str, Any]:
        """CONFIG SET each instance's settings (a running instance; one that does not run reads
        its file when it starts)."""
        wanted = self.module.params["settings"] or {}
        results: dict[str, Any] = {}
        changed = False
        for name in self.module.params["instances"]:
            settings = {str(key): str(value) for key, value in (wanted.get(name) or {}).items()}
            if not settings:
                results[name] = {"action": "none (nothing to set)"}
                continue
            client = self.restarter.local(name)
            try:
                before = {key: client.config_get(key).get(key) for key in settings}
            except (redis.RedisError, OSError):
                results[name] = {"action": "none (not running: it reads its file when it starts)"}
                continue
            changed = True
            results[name] = {
                "action": "would set" if self.module.check_mode else "set",
                "settings": {key: {"before": before[key], "after": value} for key, value in settings.items()},
            }
            if self.module.check_mode:
                continue
            for key, value in settings.items():
                try:
                    client.config_set(key, value)
                except redis.RedisError as error:
                    self.module.fail_json(
                        msg=f"{self.unit(name)}: CONFIG SET {key} {value!r} refused: {error}",
                        instances=results,
                    )
        diff = {
            "before": "".join(
                f"{name}: {key} {values['before']}\n"
                for name, result in results.items()
                for key, values in result.get("settings", {}).items()
            ),
            "after": "".join(
                f"{name}: {key} {values['after']}\n"
                for name, result in results.items()
                for key, values in result.get("settings", {}).items()
            ),
        }
        return {"changed": changed, "instances": results, "diff": diff}

    def users(self) -> dict[str, Any]:
        """Each running instance takes the users of its aclfile (O(acl_file)) one by one:
        ACL SETUSER <name> reset <rules> for each line, ACL DELUSER for a user the file no
        longer has. Not ACL LOAD, which crashes a Valkey 8.0 replica (the client of its
        primary has no user)."""
        results: dict[str, Any] = {}
        changed = False
        for name in self.module.params["instances"]:
            path = self.module.params["acl_file"].replace("{name}", name)
            try:
                with open(path, encoding="utf-8") as stream:
                    lines = [line.split() for line in stream if line.startswith("user ")]
            except OSError as error:
                self.module.fail_json(msg=f"{self.unit(name)}: cannot read {path}: {error}")
            wanted = {words[1]: words[2:] for words in lines if len(words) >= 2}
            client = self.restarter.local(name)
            try:
                present = [str(user) for user in client.execute_command("ACL", "USERS")]
            except (redis.RedisError, OSError):
                results[name] = {"action": "none (not running: it reads its file when it starts)"}
                continue
            gone = sorted(set(present) - set(wanted))
            changed = True
            results[name] = {
                "action": "would set users" if self.module.check_mode else "set users",
                "users": sorted(wanted),
                "removed": gone,
            }
            if self.module.check_mode:
                continue
            for user, rules in wanted.items():
                try:
                    client.execute_command("ACL", "SETUSER", user, "reset", *rules)
                except redis.RedisError as error:
                    self.module.fail_json(msg=f"{self.unit(name)}: ACL SETUSER {user} refused: {error}")
            if gone:
                client.execute_command("ACL", "DELUSER", *gone)
        return {"changed": changed, "instances": results}
