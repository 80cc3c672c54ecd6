"""How the tests run: one backend thread per process under pytest-xdist, the modules' order on the
two workers, and the JAX-backend checks in one subprocess. ``tests/conftest.py`` imports its hooks
and fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["backend_threads", "MODULE_ORDER", "pytest_collection_modifyitems", "pytest_sessionfinish", "jax_checks"]

# Under pytest-xdist (``make test``: two worker processes on a 2-core machine) each test process,
# and every process it starts (Dask workers, notebook kernels, the JAX checks), gets one backend
# thread: with the default of one per core, four or more spinning thread pools share two cores.
# Set when tests/conftest.py imports this module, before anything imports TensorFlow; a variable
# the user set is kept.
if "PYTEST_XDIST_WORKER" in os.environ:
    for _var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_var, "1")


def backend_threads() -> int:
    """TensorFlow's intra-op threads in this test process: the sequential runs train with them, so a
    Dask worker given as many trains the same folds digit for digit."""
    return int(os.environ.get("TF_NUM_INTRAOP_THREADS") or len(os.sched_getaffinity(0)))


# ------------------------------------------------------------------------------------------
# the JAX backend: both checks of tests/jax_checks.py in one subprocess, once per test run. In a
# plain run it starts as soon as collection picks a test that needs it, and runs beside the other
# tests: it compiles on one XLA thread, mostly while this process traces its own models on one core.
# ------------------------------------------------------------------------------------------
_JAX_CHECKS = pytest.StashKey[tuple]()


def _start_jax_checks():
    """``(process, folder)``: ``tests/jax_checks.py`` started with ``KERAS_BACKEND=jax`` in a folder
    of its own (its cache, results and checkpoint land there); ``None`` without jax."""
    import importlib.util
    import subprocess
    import sys
    import tempfile

    if importlib.util.find_spec("jax") is None:
        return None
    root = Path(__file__).resolve().parents[2]
    folder = Path(tempfile.mkdtemp(prefix="adcrnn-jax-checks-"))
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": str(root),
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        "ADCRNN_CACHE_DIR": str(folder / "cache"),
        "ADCRNN_RESULTS_DIR": str(folder / "results"),
    }
    proc = subprocess.Popen([sys.executable, str(root / "tests" / "jax_checks.py")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
    return proc, folder


#: The modules that start first. ``make test`` runs ``pytest -n 2 --dist loadscope
#: --no-loadscope-reorder`` (pytest-xdist): two worker processes, each given whole modules in this
#: order. The smoke book (the longest test, with its own two Dask workers) goes first, so that one
#: worker builds it while the other runs the rest; then a quick module, which that first worker holds
#: behind the book (a worker takes more only when at most 2 of its tests are left); then the
#: modules whose fixtures train the most, so that nothing long starts last.
MODULE_ORDER = ("test_book.py", "test_report.py", "test_jax.py", "test_study.py", "test_cv.py", "test_distributed.py", "test_gan.py", "test_leaky.py", "test_predict.py")


def _module_rank(item) -> int:
    name = item.path.name
    return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected
def pytest_collection_modifyitems(config, items):
    items.sort(key=_module_rank)  # stable: each module keeps its own order
    # in a plain run, start the JAX checks now, beside the other tests; under xdist every worker
    # collects every test, so the worker that runs tests/test_jax.py starts them when it gets there
    if "PYTEST_XDIST_WORKER" not in os.environ and any("jax_checks" in item.fixturenames for item in items):
        config.stash[_JAX_CHECKS] = _start_jax_checks()


def pytest_sessionfinish(session):
    import shutil

    started = session.config.stash.get(_JAX_CHECKS, None)
    if started:
        proc, folder = started
        if proc.poll() is None:  # no selected test read it (e.g. stopped on a failure with -x)
            proc.kill()
            proc.communicate()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def jax_checks(request):
    """``(stdout, stderr)`` of ``tests/jax_checks.py`` run with ``KERAS_BACKEND=jax``; skips without jax."""
    started = request.config.stash.get(_JAX_CHECKS, None) or _start_jax_checks()
    if started is None:
        pytest.skip("jax is not installed (make test installs requirements-test.txt; GPU machines have it)")
    request.config.stash[_JAX_CHECKS] = started
    stdout, stderr = started[0].communicate(timeout=900)
    return stdout, stderr + f"\n(exit status {started[0].returncode})"
