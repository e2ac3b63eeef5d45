# SPDX-License-Identifier: Apache-2.0
"""Documentation of how the Cachewright memcached modules find this host's instances."""

from __future__ import annotations


class ModuleDocFragment:
    """The options of memcached_instances and memcached_instances_info that name the instances
    (cachewright.cache.memcached_instances)."""

    DOCUMENTATION = r"""
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
"""
