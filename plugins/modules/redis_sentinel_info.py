#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: read what this host's Sentinel knows of each primary it watches."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_sentinel_info
short_description: Read what this host's Sentinel knows of each primary it watches
version_added: 1.3.0
description:
  - Asks the Sentinel on 127.0.0.1 (C(SENTINEL MASTERS)) for each primary it watches - its
    address, flags, how many replicas and other Sentinels it knows. Changes nothing.
  - Needs redis-py on the host (Debian's python3-redis). Supports check mode.
extends_documentation_fragment:
  - cachewright.cache.local_sentinel
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Read what the Sentinel knows
  cachewright.cache.redis_sentinel_info:
    password: "{{ redis_sentinel_password }}"
    tls: true
    tls_ca_certificate: /etc/redis/cachewright/sentinel-tls/ca.crt
  register: sentinel
"""

RETURN = r"""
masters:
  description: Per primary name - its address, flags, replicas and the other Sentinels.
  returned: always
  type: dict
  sample: {"cache": {"address": "10.0.0.5:6379", "flags": "master", "replicas": 2, "other_sentinels": 2}}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    local_sentinel,
    local_sentinel_argument_spec,
    require_redis,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_state import masters


def main() -> None:
    module = AnsibleModule(argument_spec=local_sentinel_argument_spec(), supports_check_mode=True)
    require_redis(module)
    module.exit_json(changed=False, masters=masters(local_sentinel(module.params)))


if __name__ == "__main__":
    main()
