"""adcrnn_lib.config and adcrnn_lib.metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adcrnn_lib import metrics, profiles
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import ParameterError


@pytest.mark.parametrize(
    "field, value, allowed",
    [
        ("profile", "fast", "smoke, cpu, paper"),
        ("protocol", "random", "paper, loso"),
        ("augmentation", "mixup", "none, time_shift, pitch_shift"),
        ("loss", "lf9", "lf1, lf2, lf3, lf4"),
        ("attention", "yes", "True, False"),
        ("seed", -1, ">= 0"),
        ("seed", 1.5, ">= 0"),
    ],
)
def test_config_rejects_unknown_values(field, value, allowed):
    with pytest.raises(ParameterError, match=allowed):
        ExperimentConfig(**{field: value})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ExperimentConfig().loss = "lf2"


def test_config_key_is_stable_and_specific(monkeypatch):
    a = ExperimentConfig(profile="smoke")
    assert a.key() == ExperimentConfig(profile="smoke").key()
    assert len(a.key()) == 16 and int(a.key(), 16) >= 0
    assert a.key() == ExperimentConfig(profile="smoke", data_dir="/elsewhere").key()  # location is not content
    others = {ExperimentConfig(profile="smoke", **{f: v}).key() for f, v in [("loss", "lf2"), ("seed", 1), ("attention", False), ("protocol", "loso")]}
    assert a.key() not in others and len(others) == 4
    before = a.key()  # key() is computed on demand: keep it before changing the profile
    monkeypatch.setitem(profiles.PROFILES, "smoke", dataclasses.replace(profiles.PROFILES["smoke"], epochs=2))
    assert ExperimentConfig(profile="smoke").key() != before  # a profile number is part of the key


def test_pool_logits():
    logits = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]])
    np.testing.assert_allclose(metrics.pool_logits(logits, np.array([0, 0, 1]), 2), [[2.0, 1.0], [0.0, 5.0]])
    with pytest.raises(ParameterError, match="no segment"):
        metrics.pool_logits(logits, np.array([0, 0, 0]), 2)


def test_scores_reference():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    s = metrics.scores(y, p, 3)
    assert s["wa"] == pytest.approx(6 / 8)
    assert s["ua"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    assert metrics.confusion(y, p, 3).tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 2]]


def test_unweighted_accuracy_is_balanced_accuracy_without_its_warning(rng):
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    for n in (3, 30, 300):
        y = rng.integers(0, 4, n)  # classes 4-6 never true, but predicted: sklearn warns, UA ignores them
        p = np.where(rng.random(n) < 0.5, y, rng.integers(0, 7, n))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = balanced_accuracy_score(y, p)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert metrics.unweighted_accuracy(y, p) == pytest.approx(expected, abs=1e-12)
            assert metrics.scores(y, p, 7)["ua"] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ParameterError, match="as many predictions"):
        metrics.unweighted_accuracy(np.array([0, 1]), np.array([0]))


def test_paired_comparison(rng):
    y = rng.integers(0, 4, 400)
    a = np.where(rng.random(400) < 0.6, y, (y + 1) % 4)
    same = metrics.paired_comparison(y, a, a, {"wa": [0.6, 0.6], "ua": [0.6, 0.6]}, {"wa": [0.6, 0.6], "ua": [0.6, 0.6]}, n_boot=200)
    assert same["wa"]["diff"] == 0 and same["wa"]["ci_low"] == same["wa"]["ci_high"] == 0
    b = np.where(rng.random(400) < 0.5, y, a)  # B fixes about half of A's errors
    out = metrics.paired_comparison(y, a, b, {"wa": [0.60, 0.62, 0.58], "ua": [0.6, 0.6, 0.6]}, {"wa": [0.80, 0.81, 0.79], "ua": [0.8, 0.79, 0.8]}, n_boot=500)
    assert out["wa"]["ci_low"] > 0 and out["ua"]["ci_low"] > 0
    assert out["wa"]["diff"] == pytest.approx(0.2, abs=1e-9)
    assert out["wa"]["p"] < 0.01 and out["wa"]["folds"] == 3


@pytest.mark.parametrize("n, classes", [(535, 7), (1070, 7), (12, 7), (40, 3)])
def test_paired_comparison_bootstrap_is_the_resample_by_resample_one(rng, n, classes):
    """Scored all at once, the bootstrap keeps the draws and the sums of one resample at a time, to the
    last bit (the book's intervals do not move), including resamples that miss a class (tiny corpora)."""
    y = rng.integers(0, classes, n)
    a, b = (np.where(rng.random(n) < share, y, rng.integers(0, classes, n)) for share in (0.6, 0.7))
    gen = np.random.default_rng(3)
    draws = [gen.integers(0, n, n) for _ in range(300)]
    expected = {
        "wa": [np.mean(b[i] == y[i]) - np.mean(a[i] == y[i]) for i in draws],
        "ua": [metrics.unweighted_accuracy(y[i], b[i]) - metrics.unweighted_accuracy(y[i], a[i]) for i in draws],
    }
    out = metrics.paired_comparison(y, a, b, {"wa": [0.5, 0.6], "ua": [0.5, 0.6]}, {"wa": [0.6, 0.6], "ua": [0.6, 0.7]}, n_boot=300, seed=3)
    for m in ("wa", "ua"):
        assert [out[m]["ci_low"], out[m]["ci_high"]] == list(np.quantile(expected[m], [(1 - 0.95) / 2, (1 + 0.95) / 2]))


def test_macro_f1_counts_every_class():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    p = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    # F1 per class: 0: 2*3/(6+1+1) = 0.75; 1: 2/(2+1+1) = 0.5; 2: 1; 3 never occurs: 0, still in the mean
    assert metrics.scores(y, p, 4)["macro_f1"] == pytest.approx((0.75 + 0.5 + 1.0 + 0.0) / 4)
    assert metrics.scores(y, p, 3)["macro_f1"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)


def test_scores_of_a_single_class_fold():
    # a test fold holding one emotion only: UA is that class's recall, which is the accuracy
    s = metrics.scores(np.array([2, 2, 2]), np.array([2, 1, 2]), 7)
    assert s["wa"] == pytest.approx(2 / 3) and s["ua"] == pytest.approx(2 / 3)
    assert s["macro_f1"] == pytest.approx((2 * 2 / (4 + 0 + 1)) / 7)  # class 2: tp 2, fn 1; class 1: one false positive


def test_scores_match_a_hand_computation(rng):
    from .helpers.runs import hand_scores

    for n in (5, 40, 300):
        y, p = rng.integers(0, 7, n), rng.integers(0, 7, n)
        p[: n // 3] = y[: n // 3]
        expected = hand_scores(y, p)
        got = metrics.scores(y, p, 7)
        for metric in ("wa", "ua", "macro_f1"):
            assert got[metric] == pytest.approx(expected[metric], abs=1e-12)
        assert metrics.confusion(y, p, 7).tolist() == expected["confusion"]
