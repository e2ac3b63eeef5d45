"""Verify of roles/django_cache's `app` scenario, run on the app host as the app user.

It loads the generated settings through the role's minimal project and checks what the
round trip alone does not show: replicas serve the reads, DISABLE_CACHE switches every alias
off, a wrong password is caught and named, and the tiered alias promotes and invalidates.
"""

from __future__ import annotations

import os
import subprocess
import sys

import django

sys.path.insert(0, "/opt/cw-probe")
from cw_checks import check, expect_error, report

EXPECTED = {
    "default", "builtin", "compact", "reports", "sessions", "fragments", "secure", "libmc",
    "api", "reports_db", "pages", "local", "tiered", "disabled",
}  # fmt: skip
PYTHON = sys.executable
PROJECT = "/var/lib/cachewright/django-probe"


def every_alias_declared() -> None:
    from django.conf import settings  # noqa: PLC0415

    missing = EXPECTED - set(settings.CACHES)
    assert not missing, f"aliases missing from CACHES: {sorted(missing)}"


def reads_go_to_the_replica() -> None:
    from django.core.cache import caches  # noqa: PLC0415

    client = caches["default"].client
    write = client.get_client(write=True).connection_pool.connection_kwargs["host"]
    read = client.get_client(write=False).connection_pool.connection_kwargs["host"]
    assert (write, read) == ("app-redis-1", "app-redis-2"), f"writes to {write}, reads from {read}"


def other_aliases_read_from_the_primary() -> None:
    from django.core.cache import caches  # noqa: PLC0415

    for alias in ("compact", "reports", "sessions"):
        client = caches[alias].client
        read = client.get_client(write=False).connection_pool.connection_kwargs["host"]
        assert read == "app-redis-1", f"{alias} reads from {read}"


def every_read_sees_the_write_just_made() -> None:
    from cachewright_django.drill import read_after_write  # noqa: PLC0415

    found = {alias: read_after_write(alias) for alias in ("compact", "reports", "sessions", "builtin")}
    print(f"     read after write: {found}")
    missed = {a: r for a, r in found.items() if any(not v.startswith("0/") for v in r.values())}
    assert not missed, f"reads missed the write just made: {missed}"


def clear_takes_only_the_alias_keys() -> None:
    from django.core.cache import caches  # noqa: PLC0415

    # The django ACL user has no @dangerous (FLUSHDB, KEYS): clear() and keys() still work.
    reports, compact = caches["reports"], caches["compact"]
    reports.set("stays", 1, 60)
    compact.set_many({f"c{i}": i for i in range(20)}, 60)
    assert sorted(compact.keys("c*")) == sorted(f"c{i}" for i in range(20))
    compact.clear()
    assert compact.keys("c*") == [] and reports.get("stays") == 1


def disabled_cache_keeps_sessions() -> None:
    # A login's session written and read back, with every cache off.
    code = "\n".join(
        [
            "import django",
            "django.setup()",
            "from importlib import import_module",
            "from django.conf import settings",
            "from django.core.management import call_command",
            "call_command('migrate', 'sessions', verbosity=0)",
            "engine = import_module(settings.SESSION_ENGINE)",
            "session = engine.SessionStore()",
            "session['user_id'] = 7",
            "session.save()",
            "again = engine.SessionStore(session_key=session.session_key)",
            "print(settings.SESSION_ENGINE, again.get('user_id'))",
        ]
    )
    out = run({"DISABLE_CACHE": "1"}, "-c", code)
    assert out.stdout.split() == ["django.contrib.sessions.backends.db", "7"], out.stdout + out.stderr


def contract_holds() -> None:
    from cachewright_django.contract import failures, run, summary  # noqa: PLC0415

    results = run(destructive=True)
    print("\n".join(f"     {line}" for line in summary(results).splitlines()))
    broken = failures(results)
    assert not broken, "; ".join(broken)


def keys_carry_prefix_and_version() -> None:
    from django.core.cache import caches  # noqa: PLC0415

    cache = caches["reports"]
    cache.set("probe", 1, 30)
    raw = cache.client.get_client(write=True)
    assert raw.exists("reports:1:probe") == 1, "key reports:1:probe not in Redis"
    cache.delete("probe")


def tiered_promotes_and_invalidates() -> None:
    from django.core.cache import caches  # noqa: PLC0415

    tiered, local, warm = caches["tiered"], caches["local"], caches["default"]
    warm.set("tier-probe", "warm-value", 60)
    local.delete("tier-probe")
    assert tiered.get("tier-probe") == "warm-value", "read-through missed the warm tier"
    assert local.get("tier-probe") == "warm-value", "the hit was not promoted to the hot tier"
    tiered.delete("tier-probe")
    assert warm.get("tier-probe") is None and local.get("tier-probe") is None, "delete left a tier"


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *args], cwd=PROJECT, env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def disable_switch() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(sorted({c['BACKEND'] for c in settings.CACHES.values()}))"
    )
    out = run({"DISABLE_CACHE": "1"}, "-c", code)
    assert out.stdout.strip() == "['django.core.cache.backends.dummy.DummyCache']", out.stdout + out.stderr


def wrong_password_is_named(settings_path: str) -> None:
    # A copy of the settings whose password files (django_cache_secrets: files) hold a
    # wrong password for the app's ACL user.
    broken = "/tmp/cw-broken"
    os.makedirs(f"{broken}/secrets", exist_ok=True)
    with open(settings_path, encoding="utf-8") as source:
        module_lines = source.read().splitlines()
    secrets = next(line for line in module_lines if line.startswith("_SECRETS = "))
    directory = secrets.split("Path(", 1)[1].rstrip(")").strip("'\"")
    assert "lab-only-django-password" not in "\n".join(module_lines), "the settings module holds a password"
    for name in os.listdir(directory):
        with open(os.path.join(directory, name), encoding="utf-8") as stream:
            value = stream.read().replace("lab-only-django-password", "not-the-password")
        with open(f"{broken}/secrets/{name}", "w", encoding="utf-8") as stream:
            stream.write(value)
    text = "\n".join(
        f"_SECRETS = Path({broken + '/secrets'!r})" if line == secrets else line for line in module_lines
    )
    with open(f"{broken}/broken_cache_settings.py", "w", encoding="utf-8") as target:
        target.write(text + "\n")
    out = run(
        {"DJANGO_SETTINGS_MODULE": "broken_cache_settings", "PYTHONPATH": broken},
        "-m", "cachewright_django.roundtrip", "default", "sessions", "local",
    )  # fmt: skip
    assert out.returncode == 1, f"exit {out.returncode}: {out.stdout}{out.stderr}"
    assert "default" in out.stdout and "FAILED" in out.stdout and "local" in out.stdout, out.stdout
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "FAILED" in lines["default"] and "FAILED" in lines["sessions"], out.stdout
    assert "ok" in lines["local"], out.stdout


def main(settings_path: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cachewright_probe.settings")
    sys.path.insert(0, PROJECT)
    django.setup()
    check("every declared alias is in CACHES", every_alias_declared)
    check("default alias writes to the primary and reads from the replica (asked)", reads_go_to_the_replica)
    check("the other Redis aliases read from the primary", other_aliases_read_from_the_primary)
    check("every read sees the write just made (100 B, 64 KiB, 512 KiB)", every_read_sees_the_write_just_made)
    check("clear() and keys() under the ACL user take only the alias's keys", clear_takes_only_the_alias_keys)
    check("DISABLE_CACHE=1 keeps sessions (in the database)", disabled_cache_keeps_sessions)
    check("keys carry the alias's KEY_PREFIX and VERSION", keys_carry_prefix_and_version)
    check("tiered alias reads through, promotes and deletes from every tier", tiered_promotes_and_invalidates)
    check("DISABLE_CACHE=1 turns every alias into DummyCache", disable_switch)
    check(
        "a wrong Redis password fails the round trip, naming the aliases",
        lambda: wrong_password_is_named(settings_path),
    )

    def refused_write() -> None:
        from django.core.cache import caches  # noqa: PLC0415

        caches["reports"].client.get_client(write=True).set("django:1:not-mine", 1)

    expect_error("the reports ACL user cannot write outside reports:*", refused_write, "NOPERM")
    # Last: it clears every alias in turn.
    check("Django's cache contract on every alias (clear() of each leaves the others)", contract_holds)
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
