"""adcrnn_lib.experiments.timnet, the calibration model: its folds are ADCRNN's and the baseline's, a rerun
trains nothing, the backward path reads time reversed, its MFCC input and its training setup."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from adcrnn_lib import data, profiles
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.experiments import baselines, cv, timnet
from adcrnn_lib.experiments.baselines import BaselineConfig, run_baseline
from adcrnn_lib.experiments.results import run_dir
from adcrnn_lib.experiments.timnet import TimNetConfig, build_timnet, compile_timnet, mfcc_features, run_timnet

from .helpers.audio import tone, write_wav

N_SPLITS = profiles.get_profile("smoke").n_splits


class _Untrained:
    """What a fold's training returns, without training: a model predicting class 0, a selection at epoch 1."""

    best_epoch, best_val, history = 1, {"wa": 0.0, "ua": 0.0}, {"loss": [], "val_wa": [], "val_ua": []}

    def predict_on_batch(self, x):
        return np.eye(7, dtype=np.float32)[np.zeros(len(x), dtype=int)]


class _Search:
    """What :func:`~adcrnn_lib.experiments.baselines.fit_fold` returns, without fitting: a classifier predicting class 0."""

    best_params_, best_score_ = {"clf__C": 1.0}, 0.0

    @property
    def best_estimator_(self):
        return self

    def predict_proba(self, X):
        return np.eye(7)[np.zeros(len(X), dtype=int)]


def _tested(result) -> list[list[str]]:
    """The test utterances of each fold of ``result``."""
    return [[p["utterance"] for p in f["predictions"]] for f in result.folds]


def test_timnet_tests_adcrnn_s_and_the_baseline_s_utterances_of_the_same_seed(small_corpus, tmp_path, monkeypatch):
    """The chapter pairs TIM-Net with the baseline (and ADCRNN) of each seed: each runner's own folds
    must test the same utterances in the same order, and train and validate on the same ones as ADCRNN."""
    monkeypatch.setattr(timnet, "mfcc_features", lambda paths, **kw: np.zeros((len(paths), 4, 39), np.float32))
    monkeypatch.setattr(timnet, "_train_fold", lambda *a, **kw: (_Untrained(), _Untrained()))
    monkeypatch.setattr(baselines, "fit_fold", lambda *a, **kw: _Search())
    monkeypatch.setattr(cv, "extract_features", lambda paths, **kw: [None] * len(paths))
    ids = data.load_emodb(small_corpus, verify=False)["utterance"].to_numpy()

    def adcrnn_fold(config, df, fold, features, **kw):  # the record run_cv writes, without training
        return cv.fold_record(
            config, fold.k, test_ids=ids[fold.test].tolist(), y_true=df["emotion"].cat.codes.to_numpy()[fold.test], probs=np.full((len(fold.test), 7), 1 / 7),
            train_ids=ids[fold.train].tolist(), val_ids=ids[fold.val].tolist(), n_generated=0, n_train_segments=0, best_epoch=1, val={},
            history={}, started=0.0, profile=config.profile, data_dir=None,
        )

    monkeypatch.setattr(cv, "run_fold", adcrnn_fold)
    monkeypatch.setattr(cv, "provenance", lambda **kw: {"stub": True})
    tested = {}
    for seed in (0, 1):
        mine = run_timnet(TimNetConfig(seed=seed, epochs=1, n_splits=N_SPLITS, dilations=1, data_dir=str(small_corpus)), results_dir=tmp_path, verify=False, progress=False)
        adcrnn = cv.run_cv(ExperimentConfig(profile="smoke", seed=seed, data_dir=str(small_corpus)), results_dir=tmp_path, verify=False, progress=False)
        baseline = run_baseline(BaselineConfig(features="egemaps", seed=seed, n_splits=N_SPLITS, data_dir=str(small_corpus)), results_dir=tmp_path, verify=False, progress=False, features=np.zeros((len(ids), 1)))
        assert len(mine.folds) == N_SPLITS and _tested(mine) == _tested(adcrnn) == _tested(baseline)
        for a, b in zip(mine.folds, adcrnn.folds):
            assert (a["train_utterances"], a["val_utterances"]) == (b["train_utterances"], b["val_utterances"])
        assert cv.compare(baseline, mine, n_boot=10)["ua"]["folds"] == N_SPLITS  # pairs without complaint
        tested[seed] = _tested(mine)
    assert tested[0] != tested[1]  # each seed draws its own folds: the check above can fail


@pytest.fixture(scope="module")
def tiny_run(small_corpus, tmp_path_factory):
    """A real TIM-Net run, as small as it goes: one epoch, one dilation, the smoke profile's folds."""
    config = TimNetConfig(epochs=1, n_splits=N_SPLITS, dilations=1, data_dir=str(small_corpus))
    results = tmp_path_factory.mktemp("timnet")
    return config, results, run_timnet(config, results_dir=results, verify=False, progress=False)


def test_a_rerun_trains_nothing_and_a_resumed_run_only_the_missing_fold(tiny_run, tmp_path, monkeypatch):
    config, results, first = tiny_run
    assert len(first.folds) == N_SPLITS and all(f["config_key"] == config.key() and len(f["history"]["val_ua"]) == 1 for f in first.folds)
    real = timnet._train_fold
    monkeypatch.setattr(timnet, "_train_fold", lambda *a, **kw: pytest.fail("a finished TIM-Net fold was trained again"))
    again = run_timnet(config, results_dir=results, verify=False, progress=False)
    assert again.folds == first.folds
    # a copy with fold 1 gone trains fold 1 alone, with that fold's seed
    shutil.copytree(first.run_dir, run_dir(config, tmp_path))
    (run_dir(config, tmp_path) / "fold-1.json").unlink()
    seeds = []
    monkeypatch.setattr(timnet, "_train_fold", lambda *a, **kw: seeds.append(a[5]) or real(*a, **kw))
    resumed = run_timnet(config, results_dir=tmp_path, verify=False, progress=False)
    assert seeds == [config.seed + 1] and resumed.folds[0] == first.folds[0]
    assert [p["pred"] for p in resumed.folds[1]["predictions"]] == [p["pred"] for p in first.folds[1]["predictions"]]  # seeded: the same fold again


def _pairs(model):
    """(forward layer, its backward twin) for every layer with weights on the two paths."""
    names = {layer.name for layer in model.layers}
    out = [(model.get_layer("forward_in"), model.get_layer("backward_in"))]
    out += [(model.get_layer(n), model.get_layer("bwd" + n[3:])) for n in sorted(names) if n.startswith("fwd") and model.get_layer(n).weights]
    return out


def test_the_backward_path_reads_the_sequence_reversed(rng):
    """With the forward weights copied into the backward path, each backward block on a sequence
    gives what its forward twin gives on the reversed sequence, and the whole network cannot tell a
    sequence from its reversal (the two paths are added, then averaged over time)."""
    import keras

    model = build_timnet((24, 39), 7, dilations=3)
    x = rng.standard_normal((3, 24, 39)).astype("float32")
    assert not np.allclose(model.predict_on_batch(x), model.predict_on_batch(x[:, ::-1]), atol=1e-4)
    pairs = _pairs(model)
    assert len(pairs) == 1 + 3 * 4  # the 1x1 input convolution; two convolutions and two batch norms a block
    for fwd, bwd in pairs:
        weights = [w + rng.normal(0, 0.1, w.shape).astype(w.dtype) if "bn" in fwd.name else w for w in fwd.get_weights()]  # batch-norm statistics that do something
        if "bn" in fwd.name:
            weights[3] = np.abs(weights[3]) + 0.5  # a positive variance
        fwd.set_weights(weights)
        bwd.set_weights(weights)
    for d in (1, 2, 4):
        gates = keras.Model(model.inputs, [model.get_layer(f"fwd{d}_gate").output, model.get_layer(f"bwd{d}_gate").output])
        forward_of_reversed, _ = gates.predict_on_batch(x[:, ::-1])
        _, backward = gates.predict_on_batch(x)
        np.testing.assert_allclose(backward, forward_of_reversed, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.predict_on_batch(x), model.predict_on_batch(x[:, ::-1]), rtol=1e-4, atol=1e-5)


def test_mfcc_features_centre_pad_or_crop_to_the_fixed_length_and_cache_by_content(tmp_path, monkeypatch):
    import librosa

    short = write_wav(tmp_path / "wav" / "short.wav", tone(150.0, 0.5))
    long = write_wav(tmp_path / "wav" / "long.wav", tone(220.0, 6.0, seed=1))
    cache = tmp_path / "cache"
    feats = mfcc_features([short, long], cache=cache)
    frames = 1 + timnet.TIMNET_SAMPLES // 512  # librosa's centred frames, hop 512
    assert feats.shape == (2, frames, timnet.N_MFCC) and feats.dtype == np.float32
    # the oracle: the signal at 22,050 Hz, zero-padded equally on both sides, or its middle 96,000 samples
    y = data.load_audio(short, sr=timnet.TIMNET_SR)
    pad = timnet.TIMNET_SAMPLES - len(y)
    assert pad > 0
    centred = np.concatenate([np.zeros(pad // 2, np.float32), y, np.zeros(pad - pad // 2, np.float32)])
    np.testing.assert_allclose(feats[0], librosa.feature.mfcc(y=centred, sr=timnet.TIMNET_SR, n_mfcc=39).T, rtol=1e-5, atol=1e-3)
    y = data.load_audio(long, sr=timnet.TIMNET_SR)
    start = (len(y) - timnet.TIMNET_SAMPLES) // 2
    assert start > 0
    np.testing.assert_allclose(feats[1], librosa.feature.mfcc(y=y[start : start + timnet.TIMNET_SAMPLES], sr=timnet.TIMNET_SR, n_mfcc=39).T, rtol=1e-5, atol=1e-3)
    # cached by content: read back, and a copy under another name is a hit
    assert len(list(cache.rglob("*.npy"))) == 2
    monkeypatch.setattr(timnet, "_file_mfcc", lambda path: pytest.fail(f"{path} computed again"))
    copy = shutil.copy(long, tmp_path / "wav" / "copy.wav")
    np.testing.assert_array_equal(mfcc_features([long, copy, short], cache=cache), feats[[1, 1, 0]])
    monkeypatch.undo()
    uncached = mfcc_features([short], cache=False)
    np.testing.assert_array_equal(uncached[0], feats[0])
    assert len(list(cache.rglob("*.npy"))) == 2


def test_compile_timnet_sets_its_authors_training_setup():
    import keras

    model = build_timnet((16, 39), 7, dilations=1)
    assert compile_timnet(model, 3e-4) is model
    opt = model.optimizer
    assert isinstance(opt, keras.optimizers.Adam) and not isinstance(opt, keras.optimizers.AdamW)
    assert float(opt.learning_rate) == pytest.approx(3e-4) and (opt.beta_1, opt.beta_2) == (0.93, 0.98)
    assert opt.built and len(opt.variables) > 2  # its slots are there before the first step
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    config = model.loss.get_config()
    assert config["from_logits"] is True and config["label_smoothing"] == pytest.approx(0.1)
    # the smoothed loss of perfect logits is not zero: the targets are 0.9 + 0.1 / 7 and 0.1 / 7
    onehot = np.eye(7, dtype="float32")[[0, 3]]
    smoothed = onehot * 0.9 + 0.1 / 7
    logits = np.log(smoothed)
    assert float(model.loss(onehot, logits)) == pytest.approx(float(-(smoothed * np.log(smoothed)).sum(axis=1).mean()), rel=1e-5)
    assert compile_timnet(build_timnet((16, 39), 7, dilations=1)).optimizer.learning_rate.numpy() == pytest.approx(1e-3)
