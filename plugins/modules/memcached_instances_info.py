#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: read the state of this host's memcached instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: memcached_instances_info
short_description: Read the process, items and warm-restart readiness of memcached instances on this host
version_added: 1.3.0
description:
  - Reads each instance - whether its unit runs, whether its process runs a binary a package
    upgrade has replaced, how many items it holds, and what would keep a restart from
    keeping them (options that shape its memory file and differ from the file's). Changes
    nothing.
  - Supports check mode.
extends_documentation_fragment:
  - cachewright.cache.memcached_instances
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Read memcached@pool
  cachewright.cache.memcached_instances_info:
    instances: [{name: pool, port: 11211, address: 127.0.0.1, tls: false}]
  register: pool
"""

RETURN = r"""
instances:
  description: Per instance - running, outdated, items, warm_blockers (and error when it did not answer).
  returned: always
  type: dict
  sample: {"pool": {"running": true, "outdated": false, "warm_blockers": [], "items": 5000}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_memcached import Instances
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "list", "elements": "dict", "required": True},
            "unit": {"type": "str", "default": "memcached@{name}.service"},
            "options_file": {"type": "path", "default": "/etc/memcached/{name}.conf"},
            **tls_client_argument_spec(),
        },
        supports_check_mode=True,
    )
    module.exit_json(**Instances(module).info())


if __name__ == "__main__":
    main()
