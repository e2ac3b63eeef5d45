# SPDX-License-Identifier: Apache-2.0
"""The linear strategy run through Mitogen for Ansible (pinned in requirements.txt).

Mitogen keeps one Python interpreter per host for the whole run and sends modules to it,
instead of a new `docker exec` / SSH session and a new interpreter for every task and loop
item: a no-op site.yml on the lab goes from about 100 s to about 40 s. It is opt-in:
scripts/lab.sh turns it on for the lab (ANSIBLE_STRATEGY=mitogen_linear; CW_MITOGEN=0 turns
it off), and any run can do the same. The roles do not depend on it: their Molecule
scenarios run with Ansible's own linear strategy.
"""

from __future__ import annotations

import ansible.plugins.strategy.linear
import ansible_mitogen.strategy


class StrategyModule(ansible_mitogen.strategy.StrategyMixin, ansible.plugins.strategy.linear.StrategyModule):
    """Ansible's linear strategy with Mitogen's connection and module execution."""
