"""Shared fixtures: a seeded rng, synthetic EmoDB-named wav files, the real corpus when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adcrnn_lib import data

SHARED_EMODB = Path(__file__).resolve().parents[1].parent / "shared" / "emodb" / "wav"

# Under pytest-xdist (``make test``: two worker processes on a 2-core machine) each test process,
# and every process it starts (Dask workers, notebook kernels, the JAX checks), gets one backend
# thread: with the default of one per core, four or more spinning thread pools share two cores.
# Set before anything imports TensorFlow; a variable the user set is kept.
if "PYTEST_XDIST_WORKER" in os.environ:
    for _var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(_var, "1")


def backend_threads() -> int:
    """TensorFlow's intra-op threads in this test process: the sequential runs train with them, so a
    Dask worker given as many trains the same folds digit for digit."""
    return int(os.environ.get("TF_NUM_INTRAOP_THREADS") or len(os.sched_getaffinity(0)))

# One fundamental frequency per emotion, so that synthetic classes differ audibly.
_F0 = {"W": 220.0, "L": 110.0, "E": 150.0, "A": 260.0, "F": 240.0, "T": 120.0, "N": 170.0}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def run_folder(tmp_path_factory) -> Path:
    """This test run's temporary folder: pytest's, or under pytest-xdist the one that holds every
    worker's folder (and their shared cache)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base


@pytest.fixture(scope="session", autouse=True)
def _isolated_session(tmp_path_factory):
    """One cache and one results folder for the whole run, set before any fixture runs.

    Session- and module-scoped fixtures (a trained run, a model) are set up before any
    function-scoped fixture, so this must be session-scoped too: with it, nothing the tests do
    reads or writes the user's ``~/.cache/adcrnn`` or the project's ``results/``. The cache is
    shared by the whole run, by both pytest-xdist workers too (entries are keyed by content and
    written atomically, so sharing is safe and saves recomputing the same features and GANs); it
    starts empty, so no stale entry is ever read.
    """
    if "PYTEST_XDIST_WORKER" in os.environ:  # the workers of one run share its cache, in the run's own folder
        cache = run_folder(tmp_path_factory) / "cache"
        cache.mkdir(exist_ok=True)
    else:
        cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ADCRNN_CACHE_DIR", str(cache))
        mp.setenv("ADCRNN_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))
        yield


@pytest.fixture(autouse=True)
def _isolated_results(tmp_path_factory, monkeypatch):
    """Each test writes its runs into a results folder of its own."""
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))


def tone(f0: float, seconds: float, *, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: a few harmonics of ``f0`` with a slow vibrato, plus a little noise."""
    gen = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)
    y = sum(np.sin(k * phase) / k for k in range(1, 5)) * np.hanning(t.size) ** 0.2
    return (0.3 * y / np.max(np.abs(y)) + 0.005 * gen.standard_normal(t.size)).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype)
    return path


def make_corpus(folder: Path, *, sentences=("a01", "a02"), extra_takes: int = 1, seconds=(0.5, 1.2), speakers=None) -> Path:
    """Write EmoDB-named wavs: every speaker x sentence x emotion once, some with a second take."""
    gen = np.random.default_rng(1)
    n = 0
    for speaker in speakers or sorted(data.SPEAKER_SEX):
        for sentence in sentences:
            for code, f0 in _F0.items():
                takes = "ab" if (extra_takes and gen.random() < 0.3) else "a"
                for take in takes:
                    dur = float(gen.uniform(*seconds))
                    write_wav(folder / f"{speaker}{sentence}{code}{take}.wav", tone(f0 * gen.uniform(0.95, 1.05), dur, seed=n))
                    n += 1
    return folder


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A small EmoDB look-alike: 10 speakers, 2 sentences, 7 emotions, some repeated takes."""
    return make_corpus(tmp_path_factory.mktemp("emodb") / "wav")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """3 speakers (2 female, 1 male), 2 sentences, 7 emotions: enough folds for the CV engine, fast.

    Three, not more: every leave-one-speaker-out run of the tests and of the smoke book trains a fold per speaker."""
    return make_corpus(tmp_path_factory.mktemp("small") / "wav", speakers=["03", "08", "09"])


#: Set (to anything but "" or "0") where the real corpus must be there, as in CI (.ci/run): the
#: corpus tests then fail instead of skipping when it is not.
REQUIRE_EMODB_VAR = "ADCRNN_REQUIRE_EMODB"


def corpus_missing(reason: str):
    """Skip a test that needs the real corpus, or fail it where :data:`REQUIRE_EMODB_VAR` asks for the corpus."""
    if os.environ.get(REQUIRE_EMODB_VAR, "") not in ("", "0"):
        pytest.fail(f"{reason} (and ${REQUIRE_EMODB_VAR} requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    """The real corpus: $ADCRNN_EMODB or ../shared/emodb/wav; skips when neither holds it (fails under $ADCRNN_REQUIRE_EMODB)."""
    env = os.environ.get(data.ENV_VAR)
    for candidate in ([Path(env)] if env else []) + [SHARED_EMODB]:
        if candidate.is_dir() and any(candidate.glob("*.wav")):
            return candidate
    corpus_missing("EmoDB not available: set ADCRNN_EMODB or provide ../shared/emodb/wav")


# ------------------------------------------------------------------------------------------
# hand-computed metrics and constructed fold records, for tests whose answer must be known
# ------------------------------------------------------------------------------------------
#: EmoDB's emotion letters (the sixth character of a file name), in the library's class order.
EMOTION_OF_CODE = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


def hand_scores(y_true, y_pred, n_classes: int = 7) -> dict:
    """WA, UA (mean recall over the classes present), macro-F1 over all ``n_classes`` and the
    confusion matrix, computed with loops, independently of :mod:`adcrnn_lib.metrics`."""
    y_true, y_pred = [int(v) for v in y_true], [int(v) for v in y_pred]
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for t, p in zip(y_true, y_pred):
        matrix[t][p] += 1
    present = [c for c in range(n_classes) if sum(matrix[c]) > 0]
    f1 = []
    for c in range(n_classes):
        tp = matrix[c][c]
        fp = sum(matrix[r][c] for r in range(n_classes)) - tp
        fn = sum(matrix[c]) - tp
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "wa": sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true),
        "ua": sum(matrix[c][c] / sum(matrix[c]) for c in present) / len(present),
        "macro_f1": sum(f1) / n_classes,
        "confusion": matrix,
    }


def constructed_folds(table, protocol: str, accuracy: float, *, seed: int = 0) -> list[tuple]:
    """Per fold of ``protocol`` (the smoke profile's paper folds, or one per speaker) drawn with
    ``seed``: test ids, true classes, and predictions right on the first ``accuracy`` share of each
    class's test utterances (wrong ones say the next class). Input of :func:`constructed_records`."""
    from adcrnn_lib import profiles

    ids, labels = table["utterance"].to_numpy(), table["emotion"].cat.codes.to_numpy()
    n_splits = profiles.get_profile("smoke").n_splits if protocol == "paper" else None
    out = []
    for fold in data.make_folds(table, protocol=protocol, n_splits=n_splits, seed=seed):
        y = labels[fold.test]
        pred = y.copy()
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            wrong = rows[int(round(accuracy * len(rows))) :]
            pred[wrong] = (c + 1) % 7
        out.append((ids[fold.test].tolist(), y, pred))
    return out


def constructed_records(config, folds) -> list[dict]:
    """Fold records of ``config`` from given predictions, without training.

    ``folds``: one ``(test_ids, y_true, y_pred)`` per fold; every fold's training utterances are
    the other folds' test utterances. Provenance is a stub (no git calls).
    """
    from unittest import mock

    import time

    from adcrnn_lib import cv

    everyone = [u for ids, _, _ in folds for u in ids]
    records = []
    with mock.patch.object(cv, "provenance", lambda **kw: {"stub": True, **kw}):
        for k, (ids, y_true, y_pred) in enumerate(folds):
            probs = np.full((len(ids), 7), 0.05)
            probs[np.arange(len(ids)), np.asarray(y_pred)] = 0.7
            records.append(
                cv.fold_record(
                    config, k, test_ids=list(ids), y_true=np.asarray(y_true), probs=probs, train_ids=[u for u in everyone if u not in set(ids)],
                    val_ids=[], n_generated=0, n_train_segments=0, best_epoch=1, val={}, history={"loss": [], "val_wa": [], "val_ua": []},
                    started=time.perf_counter(), profile="smoke", data_dir=None,
                )
            )
    return records


def write_records(records: list[dict], folder: Path) -> Path:
    """Write ``records`` as ``fold-<k>.json`` into ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        (folder / f"fold-{r['fold']}.json").write_text(json.dumps(r))
    return folder


# ------------------------------------------------------------------------------------------
# cross-validation runs shared by several test modules (each trains once per test run)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def paper_run(small_corpus, tmp_path_factory):
    """The smoke profile's paper protocol (2 folds), Lf1, no augmentation."""
    from adcrnn_lib import cv
    from adcrnn_lib.config import ExperimentConfig

    config = ExperimentConfig(profile="smoke", protocol="paper", data_dir=str(small_corpus))
    return cv.run_cv(config, results_dir=tmp_path_factory.mktemp("paper-runs"), verify=False, progress=False)


@pytest.fixture(scope="session")
def loso_run(small_corpus, tmp_path_factory):
    """Leave one speaker out (3 folds) with time shifting and per-speaker normalization.

    Returns the result and what the run handed out: ``seen["hook"]`` holds ``(fold, training
    utterance ids)`` of every call of the augmentation hook and ``seen["clips"]`` the clips it
    returned, ``seen["speakers"]`` the arguments the per-speaker statistics were computed from,
    ``seen["fit"]`` ``(features, normalizer)`` of every training normalizer fitted, and
    ``seen["train"]`` ``(train, val, trained)`` of every :func:`~adcrnn_lib.train.train_model` call.
    """
    from adcrnn_lib import augment, cv, features, train
    from adcrnn_lib.config import ExperimentConfig

    seen: dict[str, list] = {"hook": [], "clips": [], "speakers": [], "fit": [], "train": []}
    real_hook, real_norms, real_train = augment.augment_training_set, features.speaker_normalizers, train.train_model

    def hook(method, train, **kw):
        seen["hook"].append((kw["fold"], sorted(train["utterance"].astype(str))))
        seen["clips"].append(real_hook(method, train, **kw))
        return seen["clips"][-1]

    def norms(feats, speakers):
        seen["speakers"].append(list(speakers))
        return real_norms(feats, speakers)

    class SpyNormalizer(features.Normalizer):
        """The training normalizer, remembering what it was fitted on (the per-speaker ones are not it)."""

        @classmethod
        def fit(cls, feats, **kw):
            normalizer = features.Normalizer.fit(feats, **kw)
            seen["fit"].append((list(feats), normalizer))
            return normalizer

    def train_model(train_data, val_data, **kw):
        trained = real_train(train_data, val_data, **kw)
        seen["train"].append((train_data, val_data, trained))
        return trained

    config = ExperimentConfig(profile="smoke", protocol="loso", augmentation="time_shift", speaker_norm=True, data_dir=str(small_corpus))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(augment, "augment_training_set", hook)
        mp.setattr(features, "speaker_normalizers", norms)
        mp.setattr(train, "Normalizer", SpyNormalizer)
        mp.setattr(train, "train_model", train_model)
        result = cv.run_cv(config, results_dir=tmp_path_factory.mktemp("loso-runs"), verify=False, progress=False)
    return result, seen


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
    root = Path(__file__).resolve().parents[1]
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
