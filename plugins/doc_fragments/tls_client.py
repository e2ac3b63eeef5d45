# SPDX-License-Identifier: Apache-2.0
"""Documentation of the TLS options the Cachewright modules reach servers with."""

from __future__ import annotations


class ModuleDocFragment:
    """extends_documentation_fragment: [cachewright.cache.tls_client]"""

    DOCUMENTATION = r"""
options:
  tls_ca_certificate:
    description: CA file to check the servers with; empty, a local instance is not checked.
    type: path
    default: ""
  tls_certificate:
    description: Certificate presented to servers that ask clients for one (the host's own).
    type: path
    default: ""
  tls_private_key:
    description: Its private key.
    type: path
    default: ""
"""
