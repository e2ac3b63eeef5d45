#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: keep this host's cache ports to the hosts that need them (nftables)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall
short_description: Open a host's cache ports only to the hosts that need them (an nftables table)
version_added: 1.0.0
description:
  - Renders table C(inet <table>) into C(<directory>/<table>.nft) - loopback accepted, each
    rule's ports accepting its sources, every other packet to those ports dropped - and loads
    it with C(nft -f), which replaces the table whole. Ports the table does not name are left
    to the host's other rules (the chain's policy is accept), so it coexists with the host's
    own firewall.
  - Reads the file and the live table first, and changes nothing when both are the rendered
    ones (the live table's comment holds a digest of the file). A new file is checked with
    C(nft -c) before it is written or loaded; a ruleset nft refuses changes nothing.
  - Source host names are looked up on the host itself (its DNS and /etc/hosts), as its
    clients' addresses are seen there. A name that does not resolve fails the module before
    anything changes, and the message names the rule (the inventory variable).
  - Adds C(include "<file>") to C(boot_config) so the table is loaded again at boot
    (Debian's nftables.service reads /etc/nftables.conf).
  - Supports check mode and diff mode.
options:
  table:
    description: Name of the table (C(inet <table>)) and of its file; lower case, digits and C(_).
    type: str
    required: true
  rules:
    description:
      - Each C({name, ports, sources}). C(name) is the inventory variable the sources come from
        (used in messages and as the rule's comment); C(ports) the TCP ports; C(sources) host
        names, addresses or networks (CIDR).
      - A rule with no sources keeps its ports closed to every other host.
    type: list
    elements: dict
    default: []
  state:
    description: C(present) loads the table; C(absent) deletes it, its file and its include line.
    type: str
    choices: [present, absent]
    default: present
  directory:
    description: Where the table's file is kept.
    type: path
    default: /etc/nftables.d
  boot_config:
    description: The file nftables loads at boot, which gets the include line; empty, none is added.
    type: path
    default: /etc/nftables.conf
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Keep the memcached ports to the app hosts
  cachewright.cache.firewall:
    table: cachewright_memcached
    rules:
      - name: memcached_firewall_client_groups
        ports: [11211, 11212]
        sources: [app-1.example.internal, app-2.example.internal]
      - name: memcached_firewall_clients
        ports: [11211, 11212]
        sources: [10.0.5.0/24]
"""

RETURN = r"""
path:
  description: The table's file.
  returned: always
  type: str
sources:
  description: Per rule, the addresses and networks its sources resolved to.
  returned: state=present
  type: dict
"""

import os
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_firewall import (
    TABLE_NAME,
    Rule,
    live_digest,
    render,
    resolve,
    rule_problems,
    with_include,
)


class Firewall:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.table: str = module.params["table"]
        self.path = os.path.join(module.params["directory"], f"{self.table}.nft")
        self.boot_config: str = module.params["boot_config"] or ""
        self.nft = module.get_bin_path("nft")

    def read(self, path: str) -> str:
        try:
            with open(path, encoding="utf-8") as stream:
                return stream.read()
        except FileNotFoundError:
            return ""

    def live(self) -> str | None:
        """The live table as nft lists it, None when it is not loaded (or nft is missing)."""
        if not self.nft:
            return None
        rc, out, _unused = self.module.run_command([self.nft, "list", "table", "inet", self.table])
        return out if rc == 0 else None

    def nft_check(self, text: str) -> None:
        """nft -c on the rendered file: fail, changing nothing, when nft refuses it."""
        if not self.nft:
            if self.module.check_mode:
                return
            self.module.fail_json(msg="nft is not installed (Debian's package nftables)")
        with tempfile.NamedTemporaryFile("w", suffix=".nft", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            rc, out, err = self.module.run_command([self.nft, "-c", "-f", stream.name])
        if rc != 0:
            self.module.fail_json(msg=f"nft refuses the table {self.table}: {err or out}", ruleset=text)

    def boot_lines(self, present: bool) -> tuple[str, str]:
        """The boot file before and after its include line is added or removed."""
        if not self.boot_config:
            return "", ""
        before = self.read(self.boot_config)
        return before, with_include(before, self.path, present)

    def write(self, path: str, text: str, mode: int) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o755, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".cachewright-")
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)

    def present(self, rules: list[Rule]) -> dict[str, Any]:
        problems = [p for rule in rules for p in rule_problems(rule)]
        if not problems:
            resolved, problems = resolve(rules)
        if problems:
            self.module.fail_json(msg="; ".join(problems))
        text = render(self.table, resolved)
        before = self.read(self.path)
        live = self.live()
        boot_before, boot_after = self.boot_lines(True)
        stale = live is None or live_digest(live) != live_digest(text)
        changed = before != text or stale or boot_before != boot_after
        if changed:
            self.nft_check(text)
        if changed and not self.module.check_mode:
            if before != text:
                self.write(self.path, text, 0o644)
            if stale:
                self.module.run_command([self.nft, "-f", self.path], check_rc=True)
            if boot_before != boot_after:
                self.write(self.boot_config, boot_after, 0o755)
        return {
            "changed": changed,
            "path": self.path,
            "sources": {item.rule.name: [str(n) for n in item.networks] for item in resolved},
            "diff": [
                {"before_header": self.path, "after_header": self.path, "before": before, "after": text},
                {
                    "before_header": self.boot_config,
                    "after_header": self.boot_config,
                    "before": boot_before,
                    "after": boot_after,
                },
            ],
        }

    def absent(self) -> dict[str, Any]:
        before = self.read(self.path)
        live = self.live()
        boot_before, boot_after = self.boot_lines(False)
        changed = bool(before) or live is not None or boot_before != boot_after
        if changed and not self.module.check_mode:
            if live is not None:
                self.module.run_command([self.nft, "delete", "table", "inet", self.table], check_rc=True)
            if before:
                os.unlink(self.path)
            if boot_before != boot_after:
                self.write(self.boot_config, boot_after, 0o755)
        return {
            "changed": changed,
            "path": self.path,
            "diff": {"before_header": self.path, "after_header": self.path, "before": before, "after": ""},
        }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "table": {"type": "str", "required": True},
            "rules": {"type": "list", "elements": "dict", "default": []},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "directory": {"type": "path", "default": "/etc/nftables.d"},
            "boot_config": {"type": "path", "default": "/etc/nftables.conf"},
        },
        supports_check_mode=True,
    )
    table = module.params["table"]
    if not TABLE_NAME.match(table):
        module.fail_json(msg=f"table: {table!r} is not a table name (a-z, 0-9, '_', at most 41)")
    rules = [
        Rule(
            name=str(item.get("name") or f"rules[{index}]"),
            ports=tuple(int(p) if isinstance(p, str) and p.isdigit() else p for p in item.get("ports") or ()),
            sources=tuple(item.get("sources") or ()),
        )
        for index, item in enumerate(module.params["rules"])
    ]
    firewall = Firewall(module)
    result = firewall.present(rules) if module.params["state"] == "present" else firewall.absent()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
