# SPDX-License-Identifier: Apache-2.0
"""Filters of roles/redis_server, used as cachewright.cache.<name>.

The code is in plugins/plugin_utils/redis_server_input.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_acl import redis_server_acl
from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_server_config import (
    redis_server_config_plan,
)
from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_server_drill import (
    redis_server_drill_order,
    redis_server_drill_report,
    redis_server_drill_row,
    redis_server_restart_order,
)
from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_server_input import (
    redis_server_effective,
    redis_server_problems,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "redis_server_effective": redis_server_effective,
            "redis_server_problems": redis_server_problems,
            "redis_server_acl": redis_server_acl,
            "redis_server_config_plan": redis_server_config_plan,
            "redis_server_restart_order": redis_server_restart_order,
            "redis_server_drill_order": redis_server_drill_order,
            "redis_server_drill_row": redis_server_drill_row,
            "redis_server_drill_report": redis_server_drill_report,
        }
