# SPDX-License-Identifier: Apache-2.0
"""Filters of roles/redis_sentinel, used as cachewright.cache.<name>.

The code is in plugins/plugin_utils/redis_sentinel_input.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.redis_sentinel_input import (
    redis_sentinel_effective,
    redis_sentinel_problems,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "redis_sentinel_effective": redis_sentinel_effective,
            "redis_sentinel_problems": redis_sentinel_problems,
        }
