"""adcrnn_lib.augment: time shift with roll, pitch shift, class balancing inside a training fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib import data
from adcrnn_lib.augment import augment_training_set
from adcrnn_lib.augment import balance as bal
from adcrnn_lib.augment.classic import pitch_shift, time_shift
from adcrnn_lib.exceptions import ParameterError


# ------------------------------------------------------------------------------------------
# time shift
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("direction, sign", [("forward", 1), ("backward", -1)])
@pytest.mark.parametrize("tau", [None, 1, 480])
def test_time_shift_rolls_by_exactly_tau(rng, direction, sign, tau):
    y = rng.normal(size=4000).astype(np.float32)
    original = y.copy()
    out = time_shift(y, tau=tau, direction=direction)
    shift = 160 if tau is None else tau  # the paper's tau = sr / 100
    np.testing.assert_array_equal(out, np.roll(y, sign * shift))
    if direction == "forward":
        np.testing.assert_array_equal(out[shift:], y[:-shift])  # chi[t] = omega[t - tau]
    assert np.sum(out.astype(np.float64) ** 2) == pytest.approx(np.sum(y.astype(np.float64) ** 2))  # energy kept
    np.testing.assert_array_equal(y, original)  # the input is untouched


def test_time_shift_without_roll_fills_zeros(rng):
    y = rng.normal(size=1000).astype(np.float32)
    fwd = time_shift(y, tau=100, direction="forward", roll=False)
    np.testing.assert_array_equal(fwd[:100], 0)
    np.testing.assert_array_equal(fwd[100:], y[:900])
    back = time_shift(y, tau=100, direction="backward", roll=False)
    np.testing.assert_array_equal(back[-100:], 0)
    np.testing.assert_array_equal(back[:900], y[100:])


@pytest.mark.parametrize("kwargs", [{"tau": -1}, {"direction": "sideways"}])
def test_time_shift_rejects(kwargs):
    with pytest.raises(ParameterError):
        time_shift(np.ones(100, np.float32), **kwargs)


# ------------------------------------------------------------------------------------------
# pitch shift
# ------------------------------------------------------------------------------------------
def _peak_hz(y: np.ndarray, sr: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size), n=8 * y.size))
    k = int(np.argmax(spectrum))
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)  # parabolic interpolation of the peak
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * sr / (8 * y.size)


@pytest.mark.parametrize("n_steps", [-4, -1, 2, 3])
def test_pitch_shift_moves_the_peak_by_the_ratio(n_steps):
    sr, f0 = 16000, 440.0
    t = np.arange(sr) / sr
    y = (0.5 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)
    original = y.copy()
    out = pitch_shift(y, sr=sr, n_steps=n_steps)
    assert out.shape == y.shape and out.dtype == np.float32
    expected = f0 * 2 ** (n_steps / 12)
    assert _peak_hz(out[2000:-2000]) == pytest.approx(expected, rel=0.01)
    np.testing.assert_array_equal(y, original)


# ------------------------------------------------------------------------------------------
# balancing
# ------------------------------------------------------------------------------------------
@pytest.fixture
def fold_train(synthetic_corpus):
    df = data.load_emodb(synthetic_corpus, verify=False)
    fold = data.make_folds(df)[0]
    # make the classes unequal, as in EmoDB: drop most of the disgust and some of the fear rows
    train = df.iloc[fold.train]
    keep = ~((train["emotion"] == "disgust") & (np.arange(len(train)) % 3 != 0)) & ~((train["emotion"] == "fear") & (np.arange(len(train)) % 2 == 0))
    return df, fold, train[keep.to_numpy()]


@pytest.mark.parametrize("method", ["time_shift", "pitch_shift"])
def test_balance_fills_each_minority_emotion_to_the_largest(fold_train, method, tmp_path):
    _, _, train = fold_train
    clips = bal.balance(train, method=method, seed=3, cache=tmp_path)
    before = train["emotion"].astype(str).value_counts()
    after = before.add(pd.Series([c.emotion for c in clips]).value_counts(), fill_value=0)
    largest = before.max()
    for emotion in bal.AUGMENTED_EMOTIONS:
        assert after[emotion] == max(largest, before.get(emotion, 0))
    assert after["anger"] == before["anger"] and all(c.emotion != "anger" for c in clips)
    sources = set(train["utterance"])
    by_id = train.set_index("utterance")["emotion"].astype(str)
    for c in clips:  # provenance: one training source of the same emotion, the method, its parameters
        assert len(c.sources) == 1 and c.sources[0] in sources and by_id[c.sources[0]] == c.emotion
        assert c.method == method and c.params in bal.PARAMETER_CYCLES[method]
        assert c.audio.dtype == np.float32 and c.audio.size == data.load_audio(train.set_index("utterance").loc[c.sources[0], "path"]).size
    pairs = [(c.sources[0], tuple(sorted(c.params.items()))) for c in clips]
    assert len(pairs) == len(set(pairs))  # no source with the same parameters twice


def test_balance_is_deterministic_and_cached(fold_train, tmp_path, monkeypatch):
    _, _, train = fold_train
    a = bal.balance(train, method="pitch_shift", seed=5, cache=tmp_path)
    b = bal.balance(train, method="pitch_shift", seed=5, cache=tmp_path / "other")
    assert [(c.sources, c.params) for c in a] == [(c.sources, c.params) for c in b]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.audio, y.audio)
    c = bal.balance(train, method="pitch_shift", seed=6, cache=tmp_path)
    assert [(x.sources, x.params) for x in a] != [(x.sources, x.params) for x in c]
    monkeypatch.setitem(bal.METHODS, "pitch_shift", lambda y, p: pytest.fail("cached clip regenerated"))
    again = bal.balance(train, method="pitch_shift", seed=5, cache=tmp_path)
    for x, y in zip(a, again):
        np.testing.assert_array_equal(x.audio, y.audio)


def test_hook_reads_the_audio_of_its_training_rows_only(fold_train, tmp_path, monkeypatch):
    df, fold, _ = fold_train
    train = df.iloc[fold.train]
    monkeypatch.setenv("ADCRNN_CACHE_DIR", str(tmp_path))  # an empty cache: every clip is made from audio read now
    read = []
    real = bal.load_audio
    monkeypatch.setattr(bal, "load_audio", lambda path, **kw: read.append(str(path)) or real(path, **kw))
    clips = augment_training_set("time_shift", train, seed=0, fold=fold.k)
    assert clips and len(read) == len(clips)
    path_of = dict(zip(df["utterance"], df["path"].astype(str)))
    assert sorted(read) == sorted(path_of[c.sources[0]] for c in clips)  # each clip made from the source it names
    assert set(read) <= set(train["path"].astype(str))  # nothing but training audio was read
    assert not set(read) & set(df["path"].iloc[np.concatenate([fold.val, fold.test])].astype(str))
    with pytest.raises(ParameterError, match="none, time_shift, pitch_shift"):
        augment_training_set("mixup", train, seed=0, fold=0)


@pytest.mark.parametrize("target, expected", [("max", 10), (7, 7), (0.5, 5), (1.0, 10)])
def test_target_count(target, expected):
    counts = pd.Series({"anger": 10, "disgust": 3})
    assert bal.target_count(counts, target) == expected


@pytest.mark.parametrize("target", [0, -3, 1.5, "min", True])
def test_target_count_rejects(target):
    with pytest.raises(ParameterError, match="target"):
        bal.target_count(pd.Series({"anger": 10}), target)


def test_balance_with_a_smaller_target(fold_train, tmp_path):
    _, _, train = fold_train
    clips = bal.balance(train, method="time_shift", target=4, cache=tmp_path)
    before = train["emotion"].astype(str).value_counts()
    for emotion in bal.AUGMENTED_EMOTIONS:
        made = sum(c.emotion == emotion for c in clips)
        assert made == max(0, 4 - before.get(emotion, 0))
