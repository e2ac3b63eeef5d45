# SPDX-License-Identifier: Apache-2.0
"""The aclfile of a roles/redis_server instance: its users' lines, and the password hashes an
aclfile holds now (which playbooks/rotate_passwords.yml keeps beside a new password).

Tested by tests/test_redis_server_filters.py.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# An app user's commands when redis_server_users gives none.
DEFAULT_COMMANDS = "+@all -@dangerous"


def hashed(password: str) -> str:
    """A password as an aclfile line carries it (#<sha256 hex>)."""
    return "#" + hashlib.sha256(password.encode()).hexdigest()


HASH_RE = re.compile(r"^#[0-9a-f]{64}$")


def acl_held(text: str | None) -> dict[str, list[str]]:
    """The password hashes each user of an aclfile holds now ({} for no file)."""
    held: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "user":
            held[words[1]] = [word for word in words[2:] if HASH_RE.match(word)]
    return held


def _user_hashes(password: str, held: list[str], rotation: str) -> str:
    """The hashes an aclfile line gives a user: the input's password, and during a rotation
    (or a rotation cut off, until playbooks/rotate_passwords.yml finishes it) the ones the
    instance holds beside it."""
    new = hashed(password)
    if rotation == "finish" or (new not in held and rotation != "add"):
        return new
    return " ".join([*[h for h in held if h != new], new])


def redis_server_acl(
    instance_name: str,
    settings: dict[str, Any],
    current: str | None = None,
    rotation: str = "",
) -> list[str]:
    """The aclfile lines of one instance: default user off, admin, replication, app users.

    The default user is off, with no password: no connection can be or become it, and
    every command of an unauthenticated client is refused (NOAUTH). It still holds every
    permission, because Redis 7.0/8.0 and Valkey 8.1 replay an AOF as the default user and
    check the permissions of each MULTI/EXEC and script in it again (redis/redis#14541,
    valkey-io/valkey#3983): with "-@all" every transaction in the AOF (django-redis
    set_many) would be dropped at the next start.

    `current` is the instance's aclfile now and `rotation` the phase of
    playbooks/rotate_passwords.yml ("add", "finish", or "" for any other run): an app
    user's line carries the hashes of redis_server_password_problems' rule.
    """
    held = acl_held(current)
    lines = [
        "user default off resetpass ~* &* +@all",
        f"user {settings['redis_server_admin_user']} on {hashed(settings['redis_server_admin_password'])} "
        "~* &* +@all",
    ]
    if settings["redis_server_replication_password"]:
        lines.append(
            f"user {settings['redis_server_replication_user']} on "
            f"{hashed(settings['redis_server_replication_password'])} resetkeys resetchannels "
            "-@all +psync +replconf +ping"
        )
    if settings.get("redis_server_sentinel_password"):
        # What Redis's documentation lists for Sentinel's user.
        lines.append(
            f"user {settings['redis_server_sentinel_user']} on "
            f"{hashed(settings['redis_server_sentinel_password'])} "
            "allchannels -@all +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish +info "
            "+client|setname +client|kill +script|kill"
        )
    for user in settings["redis_server_users"] or []:
        if user.get("instances") and instance_name not in user["instances"]:
            continue
        keys = " ".join(k if k.startswith(("~", "%")) else f"~{k}" for k in user["keys"])
        channels = " ".join(c if c.startswith("&") else f"&{c}" for c in user.get("channels") or [])
        hashes = _user_hashes(user["password"], held.get(user["name"], []), rotation)
        lines.append(
            f"user {user['name']} on {hashes} resetkeys {keys} resetchannels"
            f"{' ' + channels if channels else ''} -@all {user.get('commands') or DEFAULT_COMMANDS}"
        )
    return lines
