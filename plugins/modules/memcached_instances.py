#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: read, restart keeping the cache, or reload TLS of this host's memcached instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: memcached_instances
short_description: Restart memcached instances one at a time keeping their cache, or reload their certificates
version_added: 1.0.0
description:
  - C(state=restarted) restarts the instances one at a time. Each is stopped gracefully
    (the unit's SIGUSR1), which writes its memory file (memcached -e) so the next start
    keeps the cache; before the restart the running options are compared with the file's,
    and when a change makes warm restart impossible (memory, item size, slab sizes, CAS)
    the module says so in a warning. Each instance must answer again within C(wait_seconds),
    or the module fails and leaves the remaining instances alone.
  - C(state=reloaded) makes each TLS instance load its certificate files again
    (C(refresh_certs)), without a restart, when the certificate it serves differs from the file.
  - M(cachewright.cache.memcached_instances_info) reads each instance's process, items and
    whether warm restart would keep them.
  - Supports check mode.
options:
  wait_seconds:
    description: How long an instance may take to answer after its restart.
    type: int
    default: 30
extends_documentation_fragment:
  - cachewright.cache.memcached_instances
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import service_argument_spec
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_memcached import Instances
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_tls import (
    tls_client_argument_spec,
)


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
    action = {"restarted": instances.restarted, "reloaded": instances.reloaded}
    module.exit_json(**action[module.params["state"]]())


if __name__ == "__main__":
    main()
