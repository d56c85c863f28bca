"""Shared pytest configuration: a deterministic, time-bounded hypothesis profile.

``SYMLIP_BLAS_THREADS=N`` runs the session with ``N`` BLAS threads (threadpoolctl), to
check that no test depends on the thread count; ``OPENBLAS_CORETYPE=Prescott`` (or
Sandybridge, Nehalem, Zen, ...) selects other OpenBLAS kernels, i.e. other summation
orders, as on another machine.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session", autouse=True)
def _blas_threads():
    threads = os.environ.get("SYMLIP_BLAS_THREADS")
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads), user_api="blas"):
        yield
