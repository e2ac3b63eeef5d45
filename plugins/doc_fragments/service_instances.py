# SPDX-License-Identifier: Apache-2.0
"""Documentation of what the Cachewright instance modules do with a host's service instances."""

from __future__ import annotations


class ModuleDocFragment:
    """extends_documentation_fragment: [cachewright.cache.service_instances]"""

    DOCUMENTATION = r"""
options:
  state:
    description: >-
      Restart them one at a time (restarted), or have them load new TLS files (reloaded).
      The matching C(_info) module reads them.
    type: str
    choices: [restarted, reloaded]
    required: true
  only_outdated:
    description: With C(state=restarted), restart only instances whose binary a package upgrade replaced.
    type: bool
    default: false
  daemon_reload:
    description: Run C(systemctl daemon-reload) before the first restart (their unit changed).
    type: bool
    default: false
"""
