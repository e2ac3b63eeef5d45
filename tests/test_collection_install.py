# SPDX-License-Identifier: Apache-2.0
"""The collection as a user gets it: built with ansible-galaxy, installed into a collections path
of its own, and used from an empty directory outside the repository, with the user's own
inventory and playbook that name the roles by their fully qualified names only.

The playbook deploys memcached and Redis on one container and generates the Django settings on
another; roles/django_cache proves every alias live from the app container over the network, and
roles/cache_bench measures them and renders its report on the controller.

Slow (two systemd containers, a real deployment): it runs when CW_COLLECTION_E2E=1, as the
test command's "collection" step does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.skipif(
    os.environ.get("CW_COLLECTION_E2E") != "1", reason="CW_COLLECTION_E2E=1 runs it"
)

# The Ansible of the Python running the tests (the kit's virtualenv).
BIN = Path(sys.executable).parent
NETWORK = "cw-collection"
CACHE, APP = "cw-collection-cache", "cw-collection-app"
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
TARBALL = f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"

INVENTORY = f"""\
# The user's inventory: two containers, reached with Docker's connection.
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_user: root
    # Test-only credentials, not secrets.
    redis_server_admin_password: test-only-admin-password
    redis_server_users:
      - {{name: django, password: test-only-django-password, keys: ["site:*"]}}
  children:
    memcached:
      hosts:
        {CACHE}:
    redis:
      hosts:
        {CACHE}:
    app:
      hosts:
        {APP}:
      vars:
        django_cache_key_prefix: site
        django_cache_aliases:
          default: {{backend: redis, group: redis, instance: cache, user: django}}
          sessions: {{backend: redis, group: redis, instance: cache, db: 1, user: django}}
          fragments: {{backend: memcached, group: memcached}}
        # The post-deploy benchmark, short: its report is rendered on the controller.
        cache_bench_ops: [get, set]
        cache_bench_duration: 0.2
        cache_bench_warmup: 0.05
        cache_bench_repetitions: 2
        cache_bench_concurrency: ["1"]
        cache_bench_compare_builtin: []
        cache_bench_redis_benchmark_requests: 2000
        cache_bench_gates:
          - {{alias: "*", op: get, min_ops_per_s: 50}}
"""

PLAYBOOK = """\
# The user's playbook: the collection's roles by their fully qualified names.
- name: Memcached
  hosts: memcached
  roles:
    - role: cachewright.cache.memcached

- name: Redis
  hosts: redis
  roles:
    - role: cachewright.cache.redis_server

- name: The Django settings, proven live, and the benchmark
  hosts: app
  roles:
    - role: cachewright.cache.django_cache
    - role: cachewright.cache.cache_bench
"""


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return done


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def remove_containers() -> None:
    docker("rm", "-f", CACHE, APP, check=False)
    docker("network", "rm", NETWORK, check=False)


@pytest.fixture(scope="module")
def containers() -> Iterator[None]:
    """Two systemd containers from the test image, as molecule/shared/platform_defaults.yml runs them."""
    shared = yaml.safe_load((ROOT / "molecule/shared/platform_defaults.yml").read_text())
    platform, ca = shared["cw_platform_defaults"], Path(shared["cw_controller_ca_bundle"])
    remove_containers()
    try:
        docker("network", "create", NETWORK)
        for name in (CACHE, APP):
            argv = ["run", "-d", "--name", name, "--hostname", name, "--network", NETWORK]
            argv += [f"--cap-add={cap}" for cap in platform["capabilities"]]
            argv += [f"--tmpfs={path}" for path in platform["tmpfs"]]
            argv += [f"--volume={volume}" for volume in platform["volumes"]]
            argv += [f"--env={key}={value}" for key, value in platform["env"].items()]
            if ca.is_file():
                inside = "/etc/cachewright/controller-ca.crt"
                argv += [f"--volume={ca}:{inside}:ro", f"--env=PIP_CERT={inside}"]
            docker(*argv, platform["image"], platform["command"])
        for name in (CACHE, APP):
            wait_for_boot(name, shared["cw_boot_timeout"])
        yield
    finally:
        remove_containers()


def wait_for_boot(name: str, seconds: float) -> None:
    """Until systemd in the container has booted (running, or degraded by a unit that failed)."""
    deadline, state = time.monotonic() + seconds, ""
    while time.monotonic() < deadline:
        # Right after `docker run` the container's bus may not answer yet: then there is no state.
        done = docker("exec", name, "systemctl", "is-system-running", "--wait", check=False)
        state = done.stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise AssertionError(f"{name}: systemd did not boot in {seconds} s ({state or 'no answer'})")


def test_the_built_collection_deploys_from_a_users_directory(tmp_path: Path, containers: None) -> None:
    dist, collections, user = tmp_path / "dist", tmp_path / "collections", tmp_path / "site"
    user.mkdir()
    # The user's environment: none of the kit's Ansible settings (scripts/lib.sh exports its
    # ansible.cfg), only the collections path the collection is installed into.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_PIPELINING="true", ANSIBLE_NOCOWS="1")
    build = [str(BIN / "ansible-galaxy"), "collection", "build", str(ROOT), "--output-path", str(dist)]
    run(build, cwd=tmp_path, env=env)
    with tarfile.open(dist / TARBALL) as tar:
        names = set(tar.getnames())
    for wanted in (
        "MANIFEST.json",
        "LICENSE",
        "meta/runtime.yml",
        "playbooks/site.yml",
        "plugins/plugin_utils/model.py",
        "plugins/filter/django_cache.py",
        "roles/django_cache/meta/argument_specs.yml",
        # The sanity ignores ship: ansible-test reads them from the installed content.
        "tests/sanity/ignore-2.19.txt",
        # The Django side: the package (a link into the role that builds its wheel) and the
        # settings each shipped inventory generates.
        "django_settings/cachewright-django",
        "django_settings/README.md",
        "monitoring/rules/cachewright.rules.yml",
    ):
        assert wanted in names, wanted
    assert not [n for n in names if n.startswith("tests/") and not n.startswith("tests/sanity")], "tests/"
    for unwanted in (
        "molecule",
        "inventories",
        "scripts",
        ".venv",
        "collections",
        "bench",
        "site.yml",
    ):
        assert not any(n == unwanted or n.startswith(unwanted + "/") for n in names), unwanted
    assert not any("/molecule/" in n for n in names)

    # Installed as a user installs it; its dependencies come with the `ansible` package.
    installed = run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--no-deps",
            "-p",
            str(collections),
            str(dist / TARBALL),
        ],
        cwd=tmp_path,
        env=env,
    )
    manifest = collections / "ansible_collections/cachewright/cache/MANIFEST.json"
    assert manifest.is_file(), installed.stdout + installed.stderr
    (user / "hosts.yml").write_text(INVENTORY)
    (user / "site.yml").write_text("---\n" + PLAYBOOK)
    done = run([str(BIN / "ansible-playbook"), "-i", "hosts.yml", "site.yml"], cwd=user, env=env)
    print(textwrap.indent(done.stdout[-1500:], "    "))
    recap = [
        line
        for line in done.stdout.splitlines()
        if line.startswith(("cw-collection-cache", "cw-collection-app"))
    ]
    assert len(recap) == 2 and all("failed=0" in line for line in recap), recap

    # The settings module was written on the app host, from the installed collection's role.
    settings = docker("exec", APP, "cat", "/etc/cachewright/django/cache_settings.py").stdout
    assert settings.startswith("# Ansible managed (roles/django_cache)")
    assert f"{CACHE}:6379" in settings and f"{CACHE}:11211" in settings

    # The benchmark ran on the app host; its results and report are in the user's directory.
    runs = list((user / "bench-results" / "site").iterdir())
    assert len(runs) == 1, runs
    files = {path.name for path in runs[0].iterdir()}
    assert {f"{APP}.json", "report.md", "report.html"} <= files, files
    assert any(name.endswith(".png") for name in files) and any(name.endswith(".svg") for name in files), (
        files
    )
