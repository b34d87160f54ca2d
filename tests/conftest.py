import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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
def caught_and_reproduced():
    """Check that `qbert sim UNIT --rtl RTL` on broken RTL exits 1 with a report
    naming the first differing element (``first_pattern``), and that the command
    line the report prints reproduces exactly the same shrunk report."""
    def run(argv, first_pattern: str):
        r = subprocess.run([sys.executable, "-m", "scripts.cli", *argv], capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
        report = r.stderr[r.stderr.index("MISMATCH"):r.stderr.index("seed:")]
        assert re.search(first_pattern, report), report
        return report, re.search(r"reproduce with:\n\s+(.*)", r.stderr).group(1)

    def check(unit: str, rtl, first_pattern: str, examples: int) -> None:
        report, cmd = run(["sim", unit, "--rtl", str(rtl), "--seed", "5",
                           "--examples", str(examples)], first_pattern)
        parts = shlex.split(cmd)
        assert parts[:3] == ["qbert", "sim", unit] and "--seed" in parts
        assert run(parts[1:], first_pattern)[0] == report
    return check


@pytest.fixture
def plant_mutant():
    """Plant a single-point mutation in a generated RTL file: ``old`` must occur
    exactly once (``first_only``: the first of several, e.g. lane 0's saturation
    constant), so a generator change cannot silently move or multiply the site."""
    def plant(path, old: str, new: str, first_only: bool = False) -> None:
        path = Path(path)
        text = path.read_text()
        n = text.count(old)
        if first_only:
            assert n >= 1, f"mutation site {old!r} does not occur"
            i = text.index(old)
            text = text[:i] + new + text[i + len(old):]
        else:
            assert n == 1, f"mutation site {old!r} occurs {n} times"
            text = text.replace(old, new)
        path.write_text(text)
    return plant
