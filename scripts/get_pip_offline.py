# SPDX-License-Identifier: Apache-2.0
"""Stands in for ansible-test's pip bootstrap script (get-pip.py from ci-files.testing.ansible.com,
which this workplace cannot reach): installs Python's own pip with ensurepip, then the pip
ansible-test asked for from the configured index, trusting the system's CA bundle (ansible-test
runs pip without the caller's environment). scripts/sanity.sh puts it where ansible-test looks."""

import ensurepip
import pathlib
import subprocess
import sys

BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

pathlib.Path(sys.prefix, "pip.conf").write_text(f"[global]\ncert = {BUNDLE}\n")
ensurepip.bootstrap()
wanted = [argument for argument in sys.argv[1:] if argument not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install", "--cert", BUNDLE, *wanted])
