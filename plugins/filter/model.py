# SPDX-License-Identifier: Apache-2.0
"""Filters of the shared model, used as cachewright.cache.<name> by every role.

The code is in plugins/plugin_utils/model.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.model import (
    group_addresses,
    redis_primaries,
    replication_problem,
    server_label,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "group_addresses": group_addresses,
            "redis_primaries": redis_primaries,
            "redis_replication_problem": replication_problem,
            "redis_server_label": server_label,
        }
