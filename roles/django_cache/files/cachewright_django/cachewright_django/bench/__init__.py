"""cachebench: the post-deploy benchmark of a Django site's cache aliases.

Run it with ``manage.py cachebench`` (``cachewright_django`` in INSTALLED_APPS). The
modules are small and usable alone:

- :mod:`.stats`: percentiles (nearest-rank) from every latency sample, throughput;
- :mod:`.workload`: key distributions (uniform, zipf), values, operations, concurrency;
- :mod:`.sessions`: one worker's view of a cache: Django alias, raw redis-py, raw pymemcache;
- :mod:`.runner`: a timed load over processes x threads, with warm-up, rate limit, progress;
- :mod:`.raw`: the raw ceilings derived from an alias (redis-py, pymemcache, redis-benchmark)
  and Django's built-in RedisCache on the same server;
- :mod:`.environment`: where a run happened;
- :mod:`.server`: the server software behind each alias (``Valkey 8.1.1``, ``Redis 7.0.15``);
- :mod:`.suite`: the whole matrix of runs and the JSON document;
- :mod:`.schema`: the document's schema name and keys (the report reads them from there too).

Safety: every key starts with ``cachebench:<run-id>:``, every Django call passes
``version=BENCH_VERSION``, only the bench's own keys are deleted at the end, ``clear()``
(FLUSHDB on Redis) is never called, and ``--max-rate`` caps the load on an alias.
"""

KEY_ROOT = "cachebench"
# The cache VERSION of every key the bench writes through Django (never an app's version).
BENCH_VERSION = 424242
