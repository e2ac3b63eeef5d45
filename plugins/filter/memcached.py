# SPDX-License-Identifier: Apache-2.0
"""Filters of roles/memcached, used as cachewright.cache.<name>.

The code is in plugins/plugin_utils/memcached_input.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.memcached_argv import (
    memcached_argv,
    memcached_probe_endpoint,
    memcached_warm_size_mb,
)
from ansible_collections.cachewright.cache.plugins.plugin_utils.memcached_input import (
    memcached_effective,
    memcached_problems,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "memcached_effective": memcached_effective,
            "memcached_problems": memcached_problems,
            "memcached_argv": memcached_argv,
            "memcached_warm_size_mb": memcached_warm_size_mb,
            "memcached_probe_endpoint": memcached_probe_endpoint,
        }
