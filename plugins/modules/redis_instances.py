#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
"""Ansible module: restart safely, reload the TLS files of, or set settings live on this
host's Redis instances."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: redis_instances
short_description: Restart safely, reload TLS of, or set settings live on Redis instances on this host
version_added: 1.0.0
description:
  - M(cachewright.cache.redis_instances_info) reads each instance's role, replication link,
    persistence and whether its process runs a binary a package upgrade has replaced.
  - C(state=restarted) restarts the instances one at a time, replicas first, each waited for
    until it is back, loaded, linked to its primary and caught up. A primary is never restarted
    while it is a primary when it can hand its role over - through Sentinel (SENTINEL FAILOVER,
    with writes held until every replica has them), the cluster (CLUSTER FAILOVER from a
    replica) or itself (FAILOVER TO a replica, and back afterwards). A primary nobody
    replicates reloads its own AOF or RDB; without persistence one snapshot is taken with
    writes held, loaded at start and removed. The first gate that does not pass in time fails
    the module and leaves the remaining instances alone.
  - C(state=reloaded) makes each TLS instance load its certificate, key and CA files again
    (CONFIG SET), without a restart, when the certificate it serves differs from the file.
  - C(state=configured) sets O(settings) on each running instance with C(CONFIG SET), no
    restart, and reports each value before and after. An instance that does not run is left
    alone (it reads its file when it starts). A value the server refuses fails the module,
    naming the instance and the directive.
  - C(state=users) gives each running instance the users of its aclfile (O(acl_file)), one
    C(ACL SETUSER <name> reset <rules>) per line and C(ACL DELUSER) for the users the file no
    longer has, without a restart. Not C(ACL LOAD), which crashes Valkey 8.0 replicas (their
    primary's client has no user).
  - Supports check mode.
options:
  state:
    description: >-
      Restart them one at a time (restarted), have them load new TLS files (reloaded), set
      O(settings) on the running instances (configured), or give them the users of their
      aclfile (users). M(cachewright.cache.redis_instances_info) reads them.
    type: str
    choices: [restarted, reloaded, configured, users]
    required: true
  acl_file:
    description: With C(state=users), the aclfile of an instance; C({name}) is replaced by its name.
    type: str
    default: ""
    version_added: 1.3.0
  settings:
    description:
      - With C(state=configured), the directives to set on each instance, by instance name, each
        directive's value as C(CONFIG SET) takes it (see the examples).
      - An instance of O(instances) missing here gets nothing set.
    type: dict
    default: {}
    version_added: 1.3.0
  instances:
    description: Names of the instances (C(redis-server@<name>.service)).
    type: list
    elements: str
    required: true
  unit:
    description: systemd unit of an instance; C({name}) is replaced by its name.
    type: str
    default: redis-server@{name}.service
  previous_unit:
    description:
      - The unit an instance runs as now, when a restart moves it to C(unit) (a switch of
        server, e.g. C(redis-server@{name}.service) to C(valkey-server@{name}.service)).
        Its restart stops and masks that unit, then enables and starts C(unit); the safe path
        around it (replicas first, primaries handed over) is the same.
    type: str
    version_added: 1.1.0
  previous_socket:
    description: Unix socket of an instance still running as C(previous_unit).
    type: str
    version_added: 1.1.0
  carry_data:
    description:
      - With C(previous_unit), what to copy from the old data directory into the new one while
        neither runs (snapshot, AOF, cluster node file, markers), replacing what it holds.
      - Keys C(from) and C(to) (C({name}) replaced) and C(owner), C(group) of the copies;
        C(main_config_from) and C(main_config_to), the server-owned main file (which holds
        the replication state CONFIG REWRITE saved), copied over the new one without the
        directives that C(owned_config), the Ansible-owned file loaded after it, sets.
    type: dict
    version_added: 1.1.0
    suboptions:
      from:
        description: The old path of the data directory (C({name}) replaced by the instance's name).
        type: str
        required: true
      to:
        description: The new path of the data directory (C({name}) replaced).
        type: str
        required: true
      owner:
        description: The user that owns the copies.
        type: str
        required: true
      group:
        description: The group that owns the copies.
        type: str
        required: true
      owned_config:
        description:
          - The Ansible-owned file loaded after the copied one.
          - Its directives, and the paths they name, are left out of the copy.
        type: str
      main_config_from:
        description: The server-owned main file of the old unit (C({name}) replaced).
        type: str
      main_config_to:
        description: Where the new unit's main file is (C({name}) replaced).
        type: str
extends_documentation_fragment:
  - cachewright.cache.service_instances
  - cachewright.cache.redis_access
  - cachewright.cache.tls_client
author: Cachewright contributors (@cachewright)
"""

EXAMPLES = r"""
- name: Set a setting live on every instance of this host, without a restart
  cachewright.cache.redis_instances:
    instances: [cache, sessions]
    state: configured
    settings:
      cache: {hz: "15"}
      sessions: {hz: "15", slowlog-log-slower-than: "5000"}
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"

- name: Restart the instances whose settings changed, without losing data
  cachewright.cache.redis_instances:
    instances: [cache, sessions]
    state: restarted
    admin_user: cw-admin
    admin_password: "{{ redis_server_admin_password }}"
    tls: true
    tls_ca_certificate: /etc/redis/cachewright/tls/ca.crt
    tls_certificate: /etc/redis/cachewright/tls/server.crt
    tls_private_key: /etc/redis/cachewright/tls/server.key
    sentinel_password: "{{ redis_sentinel_password }}"
"""

RETURN = r"""
instances:
  description:
    - Per instance - role, and what was done (path, seconds) or would be done.
    - With C(state=configured), C(settings) maps each directive set to its C(before) and C(after) values.
  returned: always
  type: dict
log:
  description: The steps of the safe path, in order.
  returned: state=restarted
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_host import service_argument_spec
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis import (
    access_argument_spec,
    carry_argument_spec,
    require_redis,
)
from ansible_collections.cachewright.cache.plugins.module_utils.cachewright_redis_instances import Instances


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "instances": {"type": "list", "elements": "str", "required": True},
            **service_argument_spec(),
            "state": {
                "type": "str",
                "choices": ["restarted", "reloaded", "configured", "users"],
                "required": True,
            },
            "acl_file": {"type": "str", "default": ""},
            "settings": {"type": "dict", "default": {}},
            "unit": {"type": "str", "default": "redis-server@{name}.service"},
            "previous_unit": {"type": "str"},
            "previous_socket": {"type": "str"},
            "carry_data": carry_argument_spec(
                main_config_from={"type": "str"}, main_config_to={"type": "str"}
            ),
            **access_argument_spec(),
        },
        supports_check_mode=True,
    )
    require_redis(module)
    instances = Instances(module)
    action = {
        "restarted": instances.restarted,
        "reloaded": instances.reloaded,
        "configured": instances.configured,
        "users": instances.users,
    }
    module.exit_json(**action[module.params["state"]]())


if __name__ == "__main__":
    main()
