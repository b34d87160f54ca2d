"""Formal tests run real SymbiYosys (YoWASP) jobs: no mocks.

Work folders go under pytest's tmp_path so failing traces can be inspected.
"""
import pytest

from formal.sby import check_tools


@pytest.fixture(scope="session", autouse=True)
def _formal_tools():
    # A missing tool is an error of the environment, never a skip: the proofs
    # are part of the regression.
    check_tools("smtbmc yices")


@pytest.fixture
def run(tmp_path):
    from formal.sby import run_job

    def _run(job, timeout=300, **kw):
        return run_job(job, timeout=timeout, workdir=tmp_path, **kw)
    return _run
