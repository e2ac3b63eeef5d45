"""Raw ceilings on the same path as a Django alias, derived from the alias itself.

For a Redis alias (django-redis with DefaultClient/HerdClient/SentinelClient or
``cachewright_django.redis_cluster.RedisClusterClient``, or Django's built-in RedisCache)
the connection (host, port, db, username, password, TLS CA/cert/key, parser) is read from
the connection pools the alias builds, so the raw loop and ``redis-benchmark`` use the
same server, ACL user and TLS files as the application. For a memcached alias
(PyMemcacheCache and subclasses such as ``cachewright_django.memcached.PyMemcacheTLSCache``)
the raw loop is pymemcache's HashClient over the same servers, with the keyword arguments
(TLS context, pooling, timeouts) of the client the alias built; for a PyLibMCCache alias it
is pylibmc's client with the alias's OPTIONS (binary protocol, behaviors): each alias is
compared with the client library it actually uses.

Passwords are used, never recorded: :meth:`RedisEndpoint.describe` leaves them out and the
recorded redis-benchmark command line shows ``***``.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cachewright_django.bench.sessions import KeySpace, MemcacheSession, PyLibMCSession, RedisSession

# Connection keyword arguments copied from an alias's pool to the raw client (the pools
# also carry redis-py internals that must not be shared).
REDIS_KWARGS = frozenset(
    {
        "host",
        "port",
        "db",
        "username",
        "password",
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "socket_keepalive_options",
        "retry_on_timeout",
        "health_check_interval",
        "client_name",
        "protocol",
        "parser_class",
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_ca_data",
        "ssl_check_hostname",
        "ssl_password",
        "ssl_min_version",
        "ssl_ciphers",
    }
)
# What Django's built-in RedisCache gets in OPTIONS for the comparison (credentials, TLS, timeouts).
BUILTIN_OPTIONS = frozenset(
    {
        "username",
        "password",
        "socket_timeout",
        "socket_connect_timeout",
        "ssl_keyfile",
        "ssl_certfile",
        "ssl_cert_reqs",
        "ssl_ca_certs",
        "ssl_ca_path",
        "ssl_check_hostname",
    }
)
# HashClient arguments of the alias's client that the raw client keeps (not its serde).
MEMCACHE_DROP = frozenset({"serde", "serializer", "deserializer"})


class UnsupportedError(Exception):
    """No raw ceiling for this alias; the message is the reason recorded in the result."""


def class_path(obj: Any) -> str:
    """``module.Class`` of an object."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _mro_names(obj: Any) -> set[str]:
    return {f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__}


def backend_kind(cache: Any) -> str:
    """redis, memcached, locmem, database, filesystem, dummy or other (by class ancestry)."""
    names = _mro_names(cache)
    kinds = {
        "django_redis.cache.RedisCache": "redis",
        "django.core.cache.backends.redis.RedisCache": "redis",
        "django.core.cache.backends.memcached.BaseMemcachedCache": "memcached",
        "django.core.cache.backends.locmem.LocMemCache": "locmem",
        "django.core.cache.backends.db.DatabaseCache": "database",
        "django.core.cache.backends.filebased.FileBasedCache": "filesystem",
        "django.core.cache.backends.dummy.DummyCache": "dummy",
    }
    return next((kind for name, kind in kinds.items() if name in names), "other")


def is_django_redis(cache: Any) -> bool:
    """True for django-redis's RedisCache (and subclasses)."""
    return "django_redis.cache.RedisCache" in _mro_names(cache)


# ---------------------------------------------------------------- Redis


@dataclass
class RedisEndpoint:
    """One Redis server as the alias reaches it."""

    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_kwargs(
        cls, kwargs: dict[str, Any], tls: bool, address: tuple[str, int] | None = None
    ) -> RedisEndpoint:
        """From a pool's ``connection_kwargs`` (``address`` overrides host/port: Sentinel, Cluster)."""
        clean = {k: v for k, v in kwargs.items() if k in REDIS_KWARGS and v is not None}
        if not tls:
            clean = {k: v for k, v in clean.items() if not k.startswith("ssl_")}
        if address is not None:
            clean["host"], clean["port"] = address
        return cls(
            host=str(clean.get("host", "localhost")),
            port=int(clean.get("port", 6379)),
            db=int(clean.get("db") or 0),
            username=clean.get("username"),
            password=clean.get("password"),
            tls=tls,
            kwargs=clean,
        )

    @property
    def ssl(self) -> dict[str, Any]:
        """The TLS keyword arguments (CA, certificate, key, verification)."""
        return {k: v for k, v in self.kwargs.items() if k.startswith("ssl_")}

    def url(self) -> str:
        """``redis[s]://host:port/db`` without credentials."""
        return f"{'rediss' if self.tls else 'redis'}://{self.host}:{self.port}/{self.db}"

    def describe(self) -> dict[str, Any]:
        """JSON-safe description (no password)."""
        return {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password_set": bool(self.password),
            "tls": self.tls,
            "ca_certs": self.kwargs.get("ssl_ca_certs"),
            "certfile": self.kwargs.get("ssl_certfile"),
            "keyfile": self.kwargs.get("ssl_keyfile"),
        }

    def client(self) -> Any:
        """A new redis-py client with its own pool, same parser/TLS/ACL as the alias."""
        import redis  # noqa: PLC0415 - only on hosts with a Redis alias

        connection_class = redis.SSLConnection if self.tls else redis.Connection
        return redis.Redis(
            connection_pool=redis.ConnectionPool(connection_class=connection_class, **self.kwargs)
        )


@dataclass
class RedisTarget:
    """The Redis server(s) behind an alias: ``endpoints[0]`` takes writes; ``reads`` take reads."""

    topology: str  # standalone, replicated, sentinel, cluster
    endpoints: list[RedisEndpoint]
    reads: list[RedisEndpoint]
    parser: str

    @property
    def primary(self) -> RedisEndpoint:
        """Where writes go (a startup node for a cluster)."""
        return self.endpoints[0]

    @property
    def tls(self) -> bool:
        """TLS on the path to the primary."""
        return self.primary.tls

    def describe(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "kind": "redis",
            "topology": self.topology,
            "primary": self.primary.describe(),
            "reads": [e.describe() for e in self.reads],
            "tls": self.tls,
            "parser": self.parser,
        }

    def cluster_client(self) -> Any:
        """A new RedisCluster over the same startup nodes and credentials."""
        from redis.cluster import ClusterNode, RedisCluster  # noqa: PLC0415

        kwargs = {
            k: v for k, v in self.primary.kwargs.items() if k not in ("host", "port", "db", "parser_class")
        }
        return RedisCluster(
            startup_nodes=[ClusterNode(e.host, e.port) for e in self.endpoints], ssl=self.tls, **kwargs
        )

    def session(self, space: KeySpace, value: bytes, timeout: int) -> RedisSession:
        """A raw redis-py session (call in the worker thread)."""
        if self.topology == "cluster":
            client = self.cluster_client()
            return RedisSession(client, [client], space, value, timeout, cluster=True)
        write = self.primary.client()
        reads = [write if e is self.primary else e.client() for e in self.reads]
        return RedisSession(write, reads, space, value, timeout, cluster=False)


def _pool_endpoint(pool: Any, address: tuple[str, int] | None = None) -> RedisEndpoint:
    import redis  # noqa: PLC0415

    tls = issubclass(pool.connection_class, redis.SSLConnection)
    return RedisEndpoint.from_kwargs(dict(pool.connection_kwargs), tls, address)


def _parser_name(kwargs: dict[str, Any]) -> str:
    parser = kwargs.get("parser_class")
    if parser is None:
        from redis.connection import DefaultParser  # noqa: PLC0415

        parser = DefaultParser
    return getattr(parser, "__name__", str(parser))


def redis_target(cache: Any) -> RedisTarget:
    """Derive the Redis target of a django-redis or built-in RedisCache alias."""
    if is_django_redis(cache):
        return _django_redis_target(cache)
    if "django.core.cache.backends.redis.RedisCache" in _mro_names(cache):
        client = cache._cache  # RedisCacheClient: one pool per LOCATION
        endpoints = [_pool_endpoint(client._get_connection_pool(write=True))]
        for index in range(1, len(client._servers)):
            pool = client._pool_class.from_url(client._servers[index], **client._pool_options)
            endpoints.append(_pool_endpoint(pool))
        topology = "replicated" if len(endpoints) > 1 else "standalone"
        return RedisTarget(
            topology, endpoints, endpoints[1:] or endpoints[:1], _parser_name(client._pool_options)
        )
    raise UnsupportedError(f"{class_path(cache)} is not a Redis backend")


def _django_redis_target(cache: Any) -> RedisTarget:
    client = cache.client
    names = _mro_names(client)
    if "cachewright_django.redis_cluster.RedisClusterClient" in names:
        cluster = client.get_client(write=True)
        manager = cluster.nodes_manager
        kwargs = dict(manager.connection_kwargs)
        tls = bool(kwargs.pop("ssl", False)) or "SSL" in getattr(
            kwargs.get("connection_class"), "__name__", ""
        )
        endpoints = [
            RedisEndpoint.from_kwargs(kwargs, tls, (node.host, node.port))
            for node in manager.startup_nodes.values()
        ]
        return RedisTarget("cluster", endpoints, endpoints[:1], _parser_name(kwargs))
    if "django_redis.client.sharded.ShardClient" in names:
        raise UnsupportedError("ShardClient: keys are spread by the client over several servers")
    pools = [client.connect(index).connection_pool for index in range(len(client._server))]
    if "django_redis.client.sentinel.SentinelClient" in names:
        primary_pool = pools[0]
        primary = _pool_endpoint(primary_pool, tuple(primary_pool.get_master_address()))
        replicas = primary_pool.sentinel_manager.discover_slaves(primary_pool.service_name)
        replica_endpoints = [_pool_endpoint(primary_pool, (host, int(port))) for host, port in replicas]
        # The raw loop reads where the alias reads: its replicas only when it has their pool.
        reads = replica_endpoints if len(pools) > 1 else []
        return RedisTarget(
            "sentinel", [primary, *replica_endpoints], reads or [primary], _parser_name(primary.kwargs)
        )
    endpoints = [_pool_endpoint(pool) for pool in pools]
    topology = "replicated" if len(endpoints) > 1 else "standalone"
    return RedisTarget(
        topology, endpoints, endpoints[1:] or endpoints[:1], _parser_name(pools[0].connection_kwargs)
    )


def builtin_redis_cache(target: RedisTarget, key_prefix: str = "", timeout: int = 300) -> Any:
    """Django's built-in ``django.core.cache.backends.redis.RedisCache`` on the same server(s):
    the seed's "Basic Redis Configuration" made valid (no CLIENT_CLASS), same credentials and TLS.
    Instantiated directly, settings untouched. Call once per worker thread."""
    from django.core.cache.backends.redis import RedisCache  # noqa: PLC0415

    if target.topology == "cluster":
        raise UnsupportedError("Django's built-in RedisCache does not support Redis Cluster")
    servers = [target.primary, *[e for e in target.reads if e is not target.primary]]
    options = {k: v for k, v in target.primary.kwargs.items() if k in BUILTIN_OPTIONS}
    return RedisCache(
        [e.url() for e in servers], {"KEY_PREFIX": key_prefix, "TIMEOUT": timeout, "OPTIONS": options}
    )


# ---------------------------------------------------------------- memcached


@dataclass
class MemcachedTarget:
    """The memcached servers of an alias and the HashClient arguments to reach them."""

    servers: list[Any]
    kwargs: dict[str, Any] = field(repr=False)
    tls: bool
    source: str  # which client the arguments came from
    library: str = "pymemcache"

    @property
    def layer(self) -> str:
        """The raw layer's name: ``raw-pymemcache``."""
        return "raw-pymemcache"

    def describe(self) -> dict[str, Any]:
        """JSON-safe description."""
        return {
            "kind": "memcached",
            "servers": [s if isinstance(s, str) else f"{s[0]}:{s[1]}" for s in self.servers],
            "tls": self.tls,
            "source": self.source,
            "library": self.library,
        }

    def client(self) -> Any:
        """A new pymemcache HashClient (raw bytes, no serde)."""
        from pymemcache.client.hash import HashClient  # noqa: PLC0415

        return HashClient(self.servers, **self.kwargs)

    def session(self, space: KeySpace, value: bytes, timeout: int) -> MemcacheSession:
        """A raw pymemcache session (call in the worker thread)."""
        return MemcacheSession(self.client(), space, value, timeout)


@dataclass
class PyLibMCTarget:
    """The memcached servers of a PyLibMCCache alias and the pylibmc.Client arguments it uses."""

    servers: list[str]
    kwargs: dict[str, Any] = field(repr=False)
    tls: bool = False  # pylibmc has no TLS
    source: str = "pylibmc.Client with the alias's OPTIONS"
    library: str = "pylibmc"

    @property
    def layer(self) -> str:
        """The raw layer's name: ``raw-pylibmc``."""
        return "raw-pylibmc"

    def describe(self) -> dict[str, Any]:
        """JSON-safe description (no SASL password)."""
        return {
            "kind": "memcached",
            "servers": list(self.servers),
            "tls": False,
            "source": self.source,
            "library": self.library,
            "binary": bool(self.kwargs.get("binary")),
            "behaviors": dict(self.kwargs.get("behaviors") or {}),
        }

    def client(self) -> Any:
        """A new pylibmc.Client (its own connections), as the alias builds it."""
        import pylibmc  # noqa: PLC0415 - only on hosts with a pylibmc alias

        return pylibmc.Client(self.servers, **self.kwargs)

    def session(self, space: KeySpace, value: bytes, timeout: int) -> PyLibMCSession:
        """A raw pylibmc session (call in the worker thread)."""
        return PyLibMCSession(self.client(), space, value, timeout)


def memcached_target(cache: Any) -> MemcachedTarget | PyLibMCTarget:
    """Derive the memcached target of a PyMemcacheCache (or subclass) or PyLibMCCache alias."""
    names = _mro_names(cache)
    servers = list(cache.client_servers)
    if "django.core.cache.backends.memcached.PyMemcacheCache" in names:
        built = cache._cache  # the alias's own HashClient
        kwargs = {k: v for k, v in built.default_kwargs.items() if k not in MEMCACHE_DROP}
        kwargs.update(
            use_pooling=built.use_pooling,
            ignore_exc=built.ignore_exc,
            retry_attempts=built.retry_attempts,
            retry_timeout=built.retry_timeout,
            dead_timeout=built.dead_timeout,
        )
        return MemcachedTarget(servers, kwargs, kwargs.get("tls_context") is not None, class_path(built))
    if "django.core.cache.backends.memcached.PyLibMCCache" in names:
        return PyLibMCTarget([str(s) for s in servers], dict(cache._options))
    raise UnsupportedError(f"{class_path(cache)} is not a memcached backend")


def raw_target(cache: Any) -> RedisTarget | MemcachedTarget | PyLibMCTarget:
    """The raw target for an alias, or :class:`UnsupportedError` with the reason."""
    kind = backend_kind(cache)
    if kind == "redis":
        return redis_target(cache)
    if kind == "memcached":
        return memcached_target(cache)
    raise UnsupportedError(f"no raw ceiling for a {kind} backend")


# ---------------------------------------------------------------- redis-benchmark


@dataclass
class BenchmarkRun:
    """One redis-benchmark test (``SET`` or ``GET``) parsed from its ``--csv`` output."""

    command: list[str]
    ops_per_s: float | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    error: str | None = None


def redis_benchmark_binary() -> str | None:
    """Path of redis-benchmark (Debian: redis-tools), or None."""
    return shutil.which("redis-benchmark")


def benchmark_key(prefix: str, cluster: bool) -> str:
    """The key template of redis-benchmark: the run's prefix, ``__rand_int__`` 0..keys-1 as 12 digits."""
    return f"{prefix}rb:{{tag}}:__rand_int__" if cluster else f"{prefix}rb:__rand_int__"


def benchmark_keys(prefix: str, keys: int) -> list[str]:
    """Every key a non-cluster redis-benchmark run can have written (for the clean-up)."""
    return [f"{prefix}rb:{i:012d}" for i in range(keys)]


def tls_arguments(endpoint: RedisEndpoint) -> list[str]:
    """redis-benchmark's TLS options from the endpoint's ssl_* arguments (none without TLS)."""
    if not endpoint.tls:
        return []
    argv = ["--tls"]
    options = (
        ("--cacert", "ssl_ca_certs"),
        ("--cacertdir", "ssl_ca_path"),
        ("--cert", "ssl_certfile"),
        ("--key", "ssl_keyfile"),
    )
    for option, name in options:
        if endpoint.kwargs.get(name):
            argv += [option, str(endpoint.kwargs[name])]
    if str(endpoint.kwargs.get("ssl_cert_reqs", "required")).lower() in (
        "none",
        "0",
        "certrequired.cert_none",
    ):
        argv.append("--insecure")
    return argv


def redis_benchmark_command(
    binary: str,
    endpoint: RedisEndpoint,
    *,
    test: str,
    clients: int,
    requests: int,
    keys: int,
    value_size: int,
    prefix: str,
    timeout: int,
    cluster: bool = False,
) -> list[str]:
    """The redis-benchmark argv: our own keys (``SET <prefix>rb:<n> <value> EX <timeout>`` or ``GET``)."""
    argv = [binary, "-h", endpoint.host, "-p", str(endpoint.port), "-c", str(clients), "-n", str(requests)]
    argv += ["-r", str(keys), "--csv"]
    if endpoint.db and not cluster:
        argv += ["--dbnum", str(endpoint.db)]
    if cluster:
        argv.append("--cluster")
    argv += tls_arguments(endpoint)
    if endpoint.password:
        if endpoint.username:
            argv += ["--user", endpoint.username]
        argv += ["-a", endpoint.password]
    key = benchmark_key(prefix, cluster)
    if test == "set":
        argv += ["SET", key, "v" * value_size, "EX", str(timeout)]
    elif test == "get":
        argv += ["GET", key]
    else:
        raise ValueError(f"redis-benchmark test must be get or set, not {test!r}")
    return argv


def redact(argv: Sequence[str], endpoint: RedisEndpoint) -> list[str]:
    """The argv to record: the password as ``***``, the value as ``<N bytes>``."""
    out = []
    for i, arg in enumerate(argv):
        if endpoint.password and i > 0 and argv[i - 1] == "-a":
            out.append("***")
        elif len(arg) > 16 and arg == "v" * len(arg):
            out.append(f"<{len(arg)} bytes>")
        else:
            out.append(arg)
    return out


def parse_benchmark_csv(text: str) -> tuple[float, dict[str, float]]:
    """(requests/s, latencies in ms) from ``redis-benchmark --csv`` (one test)."""
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    header = next((r for r in rows if r and r[0] == "test"), None)
    data = [r for r in rows if r is not header and len(r) > 1]
    if header is None or not data:
        raise ValueError(f"no CSV result in redis-benchmark output: {text[-300:]!r}")
    row = dict(zip(header, data[-1], strict=False))
    latency = {
        name.removesuffix("_latency_ms"): float(value)
        for name, value in row.items()
        if name.endswith("_latency_ms")
    }
    return float(row["rps"]), latency


def run_redis_benchmark(argv: list[str], endpoint: RedisEndpoint, time_limit: float) -> BenchmarkRun:
    """Run redis-benchmark, parse its CSV; errors are recorded, not raised."""
    run = BenchmarkRun(command=redact(argv, endpoint))
    started = time.monotonic()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=time_limit,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired:
        run.error = f"redis-benchmark did not finish within {time_limit:.0f}s"
        return run
    finally:
        run.elapsed_s = time.monotonic() - started
    try:
        run.ops_per_s, run.latency_ms = parse_benchmark_csv(done.stdout)
    except ValueError as exc:
        detail = (done.stderr or done.stdout).strip().replace(endpoint.password or "\0", "***")[-300:]
        run.error = f"exit {done.returncode}: {detail or exc}"
    return run
