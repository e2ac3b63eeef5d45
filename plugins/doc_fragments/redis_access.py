# SPDX-License-Identifier: Apache-2.0
"""Documentation of how the Cachewright Redis modules log in to instances and Sentinels."""

from __future__ import annotations


class ModuleDocFragment:
    """The options of a module that logs in to Redis instances (cachewright.cache.redis_access);
    modules add cachewright.cache.tls_client for the TLS ones."""

    DOCUMENTATION = r"""
options:
  socket:
    description: Unix socket of an instance; C({name}) is replaced by its name.
    type: str
    default: /run/redis-{name}/redis-server.sock
  admin_user:
    description: ACL user the module logs in with (all commands, all keys).
    type: str
    required: true
  admin_password:
    description: Its password.
    type: str
    required: true
  tls:
    description: Whether the instances talk TLS (to reach primaries, replicas and Sentinels).
    type: bool
    default: false
  sentinel_password:
    description: Password of the Sentinels (their requirepass), to ask them for a failover.
    type: str
    default: ""
  sentinel_tls:
    description: Whether the Sentinels talk TLS. Default C(tls).
    type: bool
  wait_seconds:
    description: How long each gate may take before the module fails.
    type: int
    default: 60
requirements: [redis-py on the host (Debian's python3-redis)]
"""
