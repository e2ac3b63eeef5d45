# SPDX-License-Identifier: Apache-2.0
"""Documentation of how the Cachewright Sentinel modules reach this host's own Sentinel."""

from __future__ import annotations


class ModuleDocFragment:
    """The options of local_sentinel_argument_spec() (cachewright.cache.local_sentinel); modules
    add cachewright.cache.tls_client for the client's files."""

    DOCUMENTATION = r"""
options:
  port:
    description: Port of the Sentinel on 127.0.0.1.
    type: int
    default: 26379
  password:
    description: The Sentinels' password (requirepass).
    type: str
    default: ""
  tls:
    description: Whether the Sentinel talks TLS.
    type: bool
    default: false
"""
