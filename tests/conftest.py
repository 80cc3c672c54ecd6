"""Shared fixtures: isolation, a seeded rng, synthetic corpora, the real corpus when present, and
the cross-validation runs several modules read. Helpers live in ``tests/helpers/``; how the tests
are scheduled (threads, module order, the JAX checks) in :mod:`tests.helpers.plugin`."""

from __future__ import annotations

# first: pins the backend threads (and numpy's, OMP_NUM_THREADS) before anything imports them; its
# hooks and fixture act from here
from .helpers.plugin import jax_checks, pytest_collection_modifyitems, pytest_sessionfinish  # noqa: F401, I001

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from adcrnn_lib import data  # noqa: E402

from .helpers.audio import SHARED_EMODB, corpus_missing, make_corpus  # noqa: E402

from .helpers.runs import run_folder  # noqa: E402


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


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


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A small EmoDB look-alike: 10 speakers, 2 sentences, 7 emotions, some repeated takes."""
    return make_corpus(tmp_path_factory.mktemp("emodb") / "wav")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """3 speakers (2 female, 1 male), 2 sentences, 7 emotions: enough folds for the CV engine, fast.

    Three, not more: every leave-one-speaker-out run of the tests and of the smoke book trains a fold per speaker."""
    return make_corpus(tmp_path_factory.mktemp("small") / "wav", speakers=["03", "08", "09"])


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    """The real corpus: $ADCRNN_EMODB or ../shared/emodb/wav; skips when neither holds it (fails under $ADCRNN_REQUIRE_EMODB)."""
    env = os.environ.get(data.ENV_VAR)
    for candidate in ([Path(env)] if env else []) + [SHARED_EMODB]:
        if candidate.is_dir() and any(candidate.glob("*.wav")):
            return candidate
    corpus_missing("EmoDB not available: set ADCRNN_EMODB or provide ../shared/emodb/wav")


# ------------------------------------------------------------------------------------------
# cross-validation runs shared by several test modules (each trains once per test run)
# ------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def paper_run(small_corpus, tmp_path_factory):
    """The smoke profile's paper protocol (2 folds), Lf1, no augmentation."""
    from adcrnn_lib.config import ExperimentConfig
    from adcrnn_lib.experiments import cv

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
    from adcrnn_lib import augment, features, train
    from adcrnn_lib.config import ExperimentConfig
    from adcrnn_lib.experiments import cv

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


