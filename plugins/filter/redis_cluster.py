"""Filters of roles/redis_cluster, used as cachewright.cache.<name>.

The code is in plugins/module_utils/cachewright_redis_cluster_plan.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_cluster_plan import (
    redis_cluster_colocated,
    redis_cluster_node_state,
    redis_cluster_plan,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "redis_cluster_node_state": redis_cluster_node_state,
            "redis_cluster_plan": redis_cluster_plan,
            "redis_cluster_colocated": redis_cluster_colocated,
        }
