# SPDX-License-Identifier: Apache-2.0
"""Filters of roles/django_cache, used as cachewright.cache.<name>.

The code is in plugins/plugin_utils/django_settings.py.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.cachewright.cache.plugins.plugin_utils.django_settings import (
    django_cache_json_or_empty,
    django_cache_literal,
    django_cache_module,
    django_cache_pins,
    django_cache_plan,
    django_cache_roundtrip_line,
    django_cache_secrets,
    django_cache_topology,
)


class FilterModule:
    """Ansible entry point."""

    def filters(self) -> dict[str, Any]:
        return {
            "django_cache_topology": django_cache_topology,
            "django_cache_plan": django_cache_plan,
            "django_cache_module": django_cache_module,
            "django_cache_secrets": django_cache_secrets,
            "django_cache_pins": django_cache_pins,
            "django_cache_literal": django_cache_literal,
            "django_cache_json_or_empty": django_cache_json_or_empty,
            "django_cache_roundtrip_line": django_cache_roundtrip_line,
        }
