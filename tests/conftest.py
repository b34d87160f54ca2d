import os
import re
import subprocess
import sys

import pytest

from hypothesis import HealthCheck, settings

from rtl_gen import toolchain

# 'ci' keeps the default run quick; 'fuzz' (tox -e fuzz) runs long and keeps
# the example database so a found failure is replayed first next time.
settings.register_profile("ci", max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

toolchain.activate()


@pytest.fixture
def cli_mismatch():
    """Run `qbert ARGV` expecting a simulation mismatch (exit 1).

    Returns (report, command): the failure report between MISMATCH and the
    seed, which must name the first differing element (``first_pattern``),
    and the command line it prints to reproduce the case.
    """
    def run(argv, first_pattern: str):
        r = subprocess.run([sys.executable, "-m", "scripts.cli", *argv], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
        report = r.stderr[r.stderr.index("MISMATCH"):r.stderr.index("seed:")]
        assert re.search(first_pattern, report), report
        return report, re.search(r"reproduce with:\n\s+(.*)", r.stderr).group(1)
    return run
