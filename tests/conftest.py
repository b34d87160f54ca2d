import os

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
