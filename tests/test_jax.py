"""The same library code on the JAX backend (the GPU machines have JAX, not TensorFlow).

The tests read one subprocess, ``tests/jax_checks.py`` run with ``KERAS_BACKEND=jax`` (the
``jax_checks`` fixture of ``tests/helpers/plugin.py``): one module, so that a parallel test run
(``pytest -n 2 --dist loadscope``) starts that subprocess once, on one worker.
"""

from __future__ import annotations


def test_same_code_runs_on_jax(jax_checks):
    """Every loss trains on the JAX backend and the dilated BiLSTM matches its definition there (tests/jax_checks.py)."""
    stdout, stderr = jax_checks
    assert "models ok" in stdout.splitlines(), stderr[-3000:]
    assert all(f"{loss} [" in stdout for loss in ("lf1", "lf2", "lf3", "lf4"))


def test_gan_training_runs_on_jax(jax_checks):
    """WGAN-GP trains and resumes exactly on the JAX backend; its gradient penalty is right by hand (tests/jax_checks.py)."""
    stdout, stderr = jax_checks
    assert "gan ok" in stdout.splitlines(), stderr[-3000:]


def test_timnet_trains_on_jax_and_its_records_name_the_backend(jax_checks):
    """The TIM-Net calibration model trains on the JAX backend, and provenance records ``keras_backend`` "jax" there (tests/jax_checks.py)."""
    stdout, stderr = jax_checks
    assert "timnet ok" in stdout.splitlines(), stderr[-3000:]
