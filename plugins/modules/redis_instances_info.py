#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: read the state of this host's Redis instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_instances_info
short_description: Read the role, replication, persistence and binary of Redis instances on this host
version_added: 1.3.0
description:
  - Reads each instance through its unix socket - its role, whether it is a cluster node or
    loading, its replication link and replicas, its persistence, and whether its process runs
    a binary a package upgrade has replaced since it started. Changes nothing.
  - An instance that does not answer is reported with C(running=false) and the error.
  - Supports check mode.
options:
  instances:
    description: Names of the instances.
    type: list
    elements: str
    required: true
  previous_socket:
    description: Unix socket of an instance still running as a previous unit (C({name}) replaced).
    type: str
extends_documentation_fragment:
  - cachewright.cache.redis_access
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Read the instances
  cachewright.cache.redis_instances_info:
    instances: [cache, sessions]
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"
  register: instances
"""

RETURN = r"""
instances:
  description: Per instance - running, role (primary or replica), cluster, loading, link, replicas,
    persistence, outdated; or running false and the error.
  returned: always
  type: dict
  sample: {"cache": {"running": true, "role": "primary", "cluster": false, "loading": false,
           "link": null, "replicas": 2, "persistence": "aof", "outdated": false}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    access_argument_spec,
    require_redis,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_instances import Instances


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "list", "elements": "str", "required": True},
            "previous_socket": {"type": "str"},
            **access_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    module.exit_json(**Instances(module).info())


if __name__ == "__main__":
    main()
