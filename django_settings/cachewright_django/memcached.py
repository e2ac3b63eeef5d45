"""PyMemcacheCache over TLS with settings that stay plain Python literals.

Django's PyMemcacheCache takes TLS as OPTIONS ``tls_context``, an ``ssl.SSLContext`` object,
which a generated settings file cannot hold as a literal. This backend takes the file names
instead and builds the context once per process::

    "OPTIONS": {"tls": {"ca_certs": "/etc/...", "certfile": "...", "keyfile": "..."}, ...}

The server's certificate is verified against ``ca_certs`` and its host name is checked.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

from django.core.cache.backends.memcached import PyMemcacheCache
from django.utils.functional import cached_property


@lru_cache(maxsize=8)
def client_context(ca_certs: str, certfile: str = "", keyfile: str = "") -> ssl.SSLContext:
    """A verifying TLS client context, with this host's client certificate when given."""
    context = ssl.create_default_context(cafile=ca_certs)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile:
        context.load_cert_chain(certfile, keyfile or None)
    return context


class PyMemcacheTLSCache(PyMemcacheCache):
    """PyMemcacheCache whose OPTIONS['tls'] names the CA and client certificate files.

    The files are read when the alias is first used, not when settings are loaded.
    """

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        params = dict(params)
        options = dict(params.get("OPTIONS") or {})
        self._tls: dict[str, str] = options.pop("tls", None) or {}
        params["OPTIONS"] = options
        super().__init__(server, params)

    @cached_property
    def _cache(self) -> Any:
        options = dict(self._options)
        if self._tls:
            options["tls_context"] = client_context(
                self._tls["ca_certs"], self._tls.get("certfile", ""), self._tls.get("keyfile", "")
            )
        return self._class(self.client_servers, **options)
