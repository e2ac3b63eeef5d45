"""A django-redis connection factory that finds the primary as Redis's client guidelines say.

redis-py's ``Sentinel.discover_master`` reads the primary from ``SENTINEL MASTERS``: the
Sentinels' table, which the Sentinel that ran a failover changes only at the end of it,
once every other replica follows the new primary (+switch-master, seconds later).
A client that asks that Sentinel first keeps being sent to the old primary, now a replica,
and fails its writes for that long. Redis's "Sentinel clients" guidelines ask
``SENTINEL GET-MASTER-ADDR-BY-NAME`` instead, which every Sentinel answers with the new
primary as soon as the promotion is seen. Use::

    "OPTIONS": {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "cachewright_django.sentinel.SentinelConnectionFactory",
        "SENTINELS": [("sentinel-1", 26379), ...],
    }
"""

from __future__ import annotations

from typing import Any

from django_redis.pool import SentinelConnectionFactory as DjangoRedisSentinelConnectionFactory
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.sentinel import MasterNotFoundError
from redis.sentinel import Sentinel as RedisSentinel


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Sentinel(RedisSentinel):
    """redis-py's Sentinel, asking each Sentinel GET-MASTER-ADDR-BY-NAME for the primary."""

    def discover_master(self, service_name: str) -> tuple[str, int]:
        errors = []
        for number, sentinel in enumerate(self.sentinels):
            try:
                address = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", service_name)
            except (RedisConnectionError, RedisTimeoutError) as error:
                errors.append(f"{sentinel} - {error!r}")
                continue
            if address:
                # The Sentinel that answered is asked first next time, as redis-py does.
                self.sentinels[0], self.sentinels[number] = sentinel, self.sentinels[0]
                host = self._force_master_ip if self._force_master_ip is not None else _text(address[0])
                return host, int(address[1])
        detail = f" : {', '.join(errors)}" if errors else ""
        raise MasterNotFoundError(f"No master found for {service_name!r}{detail}")


class SentinelConnectionFactory(DjangoRedisSentinelConnectionFactory):
    """django-redis's Sentinel connection factory with the Sentinel above."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        made = self._sentinel
        self._sentinel = Sentinel(
            options["SENTINELS"],
            min_other_sentinels=made.min_other_sentinels,
            sentinel_kwargs=made.sentinel_kwargs,
            force_master_ip=made._force_master_ip,
            **made.connection_kwargs,
        )
