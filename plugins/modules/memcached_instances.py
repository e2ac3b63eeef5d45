#!/usr/bin/python
"""Ansible module: read, restart keeping the cache, or reload TLS of this host's memcached instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: memcached_instances
short_description: Restart memcached instances one at a time keeping their cache, or reload their certificates
description:
  - C(state=restarted) restarts the instances one at a time. Each is stopped gracefully
    (the unit's SIGUSR1), which writes its memory file (memcached -e) so the next start
    keeps the cache; before the restart the running options are compared with the file's,
    and when a change makes warm restart impossible (memory, item size, slab sizes, CAS)
    the module says so in a warning. Each instance must answer again within C(wait_seconds),
    or the module fails and leaves the remaining instances alone.
  - C(state=reloaded) makes each TLS instance load its certificate files again
    (C(refresh_certs)), without a restart, when the certificate it serves differs from the file.
  - C(state=info) reads each instance's process, items and whether warm restart would keep them.
  - Supports check mode.
options:
  instances:
    description: The instances, each C({name, port, address, tls}).
    type: list
    elements: dict
    required: true
  unit:
    description: systemd unit of an instance; C({name}) is replaced by its name.
    type: str
    default: memcached@{name}.service
  options_file:
    description: The file holding an instance's options (MEMCACHED_OPTIONS); C({name}) is replaced.
    type: path
    default: /etc/memcached/{name}.conf
  wait_seconds:
    description: How long an instance may take to answer after its restart.
    type: int
    default: 30
extends_documentation_fragment:
  - cachewright.cache.service_instances
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Restart memcached@pool, keeping its cache
  cachewright.cache.memcached_instances:
    instances: [{name: pool, port: 11211, address: 127.0.0.1, tls: false}]
    state: restarted
"""

RETURN = r"""
instances:
  description: Per instance - what was done, whether the cache was kept (items before and after) and why not.
  returned: always
  type: dict
"""

import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import (
    process_argv,
    process_outdated,
    service_argument_spec,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_memcached import (
    Endpoint,
    options_from_file,
    warm_blockers,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    file_fingerprint,
    tls_client_argument_spec,
)


class Instances:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.reloaded_daemon = not module.params["daemon_reload"]

    def endpoint(self, instance: dict[str, Any]) -> Endpoint:
        return Endpoint(
            host=str(instance.get("address") or "127.0.0.1"),
            port=int(instance["port"]),
            tls=bool(instance.get("tls")),
            sasl=bool(instance.get("sasl")),
            ca_certificate=self.params["tls_ca_certificate"] or "",
            certificate=self.params["tls_certificate"] or "",
            private_key=self.params["tls_private_key"] or "",
        )

    def unit(self, name: str) -> str:
        return self.params["unit"].replace("{name}", name)

    def main_pid(self, name: str) -> int:
        _unused, out, _unused = self.module.run_command(
            ["systemctl", "show", "-p", "MainPID", "--value", self.unit(name)]
        )
        return int(out.strip() or 0)

    def read(self, instance: dict[str, Any]) -> dict[str, Any]:
        name = instance["name"]
        pid = self.main_pid(name)
        state: dict[str, Any] = {"running": pid > 0}
        if not pid:
            return state
        running = process_argv(pid)[1:]
        state["outdated"] = process_outdated(pid)
        options = self.params["options_file"].replace("{name}", name)
        try:
            with open(options, encoding="utf-8") as stream:
                wanted = options_from_file(stream.read())
        except OSError:
            wanted = []
        state["warm_blockers"] = warm_blockers(running, wanted)
        try:
            stats = self.endpoint(instance).stats()
            state["items"] = int(stats["curr_items"]) if "curr_items" in stats else None
        except OSError as error:
            state["items"], state["error"] = None, f"{type(error).__name__}: {error}"
        return state

    def restart(self, name: str) -> None:
        if not self.reloaded_daemon:
            self.module.run_command(["systemctl", "daemon-reload"], check_rc=True)
            self.reloaded_daemon = True
        self.module.run_command(["systemctl", "restart", self.unit(name)], check_rc=True)

    def gate(self, instance: dict[str, Any]) -> float:
        """Seconds until the instance answers `version` again; fails the module after wait_seconds."""
        start = time.monotonic()
        seen = "nothing yet"
        while time.monotonic() - start < self.params["wait_seconds"]:
            try:
                self.endpoint(instance).version()
                return time.monotonic() - start
            except OSError as error:
                seen = f"{type(error).__name__}: {error}"
                time.sleep(0.1)
        self.module.fail_json(
            msg=f"memcached@{instance['name']}: does not answer within {self.params['wait_seconds']} s "
            f"after its restart (last seen: {seen}). The roll-out stops here."
        )
        return 0.0

    def restarted(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        chosen = []
        for instance in self.params["instances"]:
            state = self.read(instance)
            results[instance["name"]] = {**state, "action": "none"}
            if not state["running"] or not self.params["only_outdated"] or state.get("outdated"):
                chosen.append(instance)
        for instance in chosen:
            name, state = instance["name"], results[instance["name"]]
            blockers = state.get("warm_blockers") or []
            if state["running"] and blockers:
                self.module.warn(
                    f"memcached@{name}: warm restart impossible ({'; '.join(blockers)}): it comes back "
                    f"with an empty cache ({state.get('items')} items now)"
                )
            if self.module.check_mode:
                state["action"] = "would restart"
                continue
            start = time.monotonic()
            self.restart(name)
            self.gate(instance)
            after = self.endpoint(instance).stats()
            state.update(
                action="restarted" if state["running"] else "started (was not running)",
                seconds=round(time.monotonic() - start, 2),
                items_after=int(after["curr_items"]) if "curr_items" in after else None,
                warm=not blockers,
            )
            if not blockers and (state.get("items") or 0) > 0 and not state["items_after"]:
                self.module.warn(
                    f"memcached@{name}: warm restart was expected, but the cache came back empty"
                )
        return {"changed": bool(chosen), "instances": results}

    def reloaded(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        changed = False
        wanted = file_fingerprint(self.params["tls_certificate"]) if self.params["tls_certificate"] else ""
        for instance in self.params["instances"]:
            name = instance["name"]
            if not instance.get("tls"):
                results[name] = {"action": "none (no TLS)"}
                continue
            endpoint = self.endpoint(instance)
            try:
                served = endpoint.served_fingerprint()
            except OSError:
                results[name] = {"action": "none (not running: it reads its files when it starts)"}
                continue
            if served == wanted:
                results[name] = {"action": "none (serves the certificate on disk)"}
                continue
            changed = True
            if self.module.check_mode:
                results[name] = {"action": "would reload"}
                continue
            reply = endpoint.refresh_certs()
            if reply != "OK" or endpoint.served_fingerprint() != wanted:
                self.module.fail_json(
                    msg=f"memcached@{name}: refresh_certs answered {reply!r}; "
                    "the new certificate is not served"
                )
            results[name] = {"action": "reloaded (refresh_certs)"}
        return {"changed": changed, "instances": results}

    def info(self) -> dict[str, Any]:
        return {"changed": False, "instances": {i["name"]: self.read(i) for i in self.params["instances"]}}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "list", "elements": "dict", "required": True},
            **service_argument_spec(),
            "unit": {"type": "str", "default": "memcached@{name}.service"},
            "options_file": {"type": "path", "default": "/etc/memcached/{name}.conf"},
            "wait_seconds": {"type": "int", "default": 30},
            **tls_client_argument_spec(),
        },
        supports_check_mode=True,
    )
    instances = Instances(module)
    action = {"info": instances.info, "restarted": instances.restarted, "reloaded": instances.reloaded}
    module.exit_json(**action[module.params["state"]]())


if __name__ == "__main__":
    main()
