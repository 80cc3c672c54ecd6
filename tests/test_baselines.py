"""adcrnn_lib.experiments.baselines: openSMILE functionals + logistic regression / SVM in the same folds as ADCRNN."""

from __future__ import annotations

import builtins
import json
import re
import warnings

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from adcrnn_lib import cli, data
from adcrnn_lib.exceptions import AdcrnnError, ParameterError
from adcrnn_lib.experiments import baselines
from adcrnn_lib.experiments.baselines import BaselineConfig, run_baseline

from .test_cv import check_schema


@pytest.fixture(scope="module")
def egemaps(small_corpus):
    df = data.load_emodb(small_corpus, verify=False)
    return df, baselines.opensmile_features(df["path"].tolist(), feature_set="egemaps", progress=False)


def test_opensmile_features(egemaps, small_corpus, tmp_path):
    df, X = egemaps
    assert X.shape == (len(df), 88) and np.all(np.isfinite(X))
    assert np.std(X, axis=0).max() > 0


class RecordingScaler(StandardScaler):
    """A StandardScaler that remembers every row it was fitted on (by its first column)."""

    seen: list[set] = []

    def fit(self, X, y=None, sample_weight=None):
        RecordingScaler.seen.append(set(np.asarray(X)[:, 0].tolist()))
        return super().fit(X, y, sample_weight)


@pytest.mark.parametrize("protocol", ["paper", "loso"])
def test_fitting_never_sees_the_test_fold(egemaps, protocol, monkeypatch):
    df, X = egemaps
    X = X.copy()
    X[:, 0] = np.arange(len(df))  # column 0 tags every row with its position
    monkeypatch.setattr(baselines, "StandardScaler", RecordingScaler)
    y = df["emotion"].cat.codes.to_numpy()
    groups = df["speaker"].to_numpy() if protocol == "loso" else data.take_groups(df)
    for fold in data.make_folds(df, protocol=protocol)[:2]:
        RecordingScaler.seen = []
        train = np.concatenate([fold.train, fold.val])
        search = baselines.fit_fold(X, y, groups, train, classifier="logreg", protocol=protocol, n_jobs=1)  # in-process, so the probe sees every fit
        assert len(RecordingScaler.seen) > len(baselines.CLASSIFIERS["logreg"])  # inner fits + refit
        for rows in RecordingScaler.seen:  # every scaler fit (inner folds and refit) on training rows only
            assert rows <= set(train.tolist()) and not rows & set(fold.test.tolist())
        assert search.best_params_["clf__C"] in baselines.CLASSIFIERS["logreg"]
        if protocol == "loso":  # inner folds leave one training speaker out
            spk = df["speaker"].to_numpy()
            assert search.n_splits_ == len(set(spk[train]))


@pytest.mark.parametrize("classifier", ["logreg", "svm"])
def test_run_baseline_writes_run_cv_fold_json(egemaps, small_corpus, tmp_path, classifier, monkeypatch, capsys):
    _, X = egemaps
    config = BaselineConfig(features="egemaps", classifier=classifier, protocol="paper", data_dir=str(small_corpus))
    result = run_baseline(config, results_dir=tmp_path, verify=False, progress=False, features=X)
    assert len(result.folds) == 5
    for path in sorted(result.run_dir.glob("fold-*.json")):
        check_schema(json.loads(path.read_text()), backend=None)  # scikit-learn, though this process has imported Keras
    assert result.summary()["wa"]["mean"] > 1 / 7  # the synthetic emotions differ in pitch: well above chance
    again = run_baseline(config, results_dir=tmp_path, verify=False, progress=False, features=X)
    assert again.folds == result.folds  # completed folds reused
    # adcrnn baseline with the same options names the same run: it finds every fold and fits nothing
    monkeypatch.setattr(baselines, "fit_fold", lambda *a, **k: pytest.fail("adcrnn baseline built another configuration"))
    args = ["baseline", "--features", "egemaps", "--classifier", classifier, "--data-dir", str(small_corpus), "--no-verify", "--results-dir", str(tmp_path)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"results: {result.run_dir}" in out
    wa = float(re.search(r"^wa\s+(\d+\.\d+) \+- ", out, flags=re.M)[1])
    assert wa == pytest.approx(100 * result.summary()["wa"]["mean"], abs=0.006)


def test_baseline_pairs_with_adcrnn_folds(egemaps, small_corpus, tmp_path):
    from adcrnn_lib.experiments.cv import compare

    _, X = egemaps
    a = run_baseline(BaselineConfig(features="egemaps", data_dir=str(small_corpus)), results_dir=tmp_path, verify=False, progress=False, features=X)
    b = run_baseline(BaselineConfig(features="egemaps", speaker_norm=True, data_dir=str(small_corpus)), results_dir=tmp_path, verify=False, progress=False, features=X)
    assert a.run_dir != b.run_dir
    out = compare(a, b, n_boot=100)
    assert out["wa"]["folds"] == 5
    # the baseline tests exactly the utterances of the ADCRNN folds with the same protocol and seed
    folds = data.make_folds(data.load_emodb(small_corpus, verify=False), protocol="paper", seed=0)
    ids = data.load_emodb(small_corpus, verify=False)["utterance"].to_numpy()
    assert [[p["utterance"] for p in r["predictions"]] for r in a.folds] == [ids[f.test].tolist() for f in folds]


def test_speaker_normalization_uses_no_labels(rng):
    X = rng.normal(3.0, 2.0, size=(60, 5))
    speakers = np.repeat(["03", "08", "09"], 20)
    X[speakers == "08"] += 10.0
    Z = baselines.speaker_normalize(X, speakers)
    for s in np.unique(speakers):
        np.testing.assert_allclose(Z[speakers == s].mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[speakers == s].std(axis=0), 1, atol=1e-12)
    import inspect

    assert list(inspect.signature(baselines.speaker_normalize).parameters) == ["features", "speakers"]


def test_missing_opensmile_gives_a_clear_message(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_opensmile(name, *args, **kwargs):
        if name == "opensmile":
            raise ImportError("No module named 'opensmile'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opensmile)
    with pytest.raises(AdcrnnError, match="pip install opensmile"):
        baselines.opensmile_features([tmp_path / "x.wav"], feature_set="egemaps")


@pytest.mark.parametrize("field, value", [("features", "mfcc"), ("classifier", "forest"), ("protocol", "random"), ("speaker_norm", "yes"), ("seed", -2)])
def test_baseline_config_rejects(field, value):
    with pytest.raises(ParameterError):
        BaselineConfig(**{field: value})


def test_inner_selection_scores_ua_without_warnings():
    # leave-one-speaker-out inside a training fold: speaker 0 has no class 2, which noise features
    # still predict for some of its rows; the inner UA ignores that class instead of warning in every fit
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.integers(0, 2, 40), rng.integers(0, 3, 40), rng.integers(0, 3, 40)])
    groups = np.repeat([0, 1, 2], 40)
    X = rng.normal(size=(120, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search = baselines.fit_fold(X, y, groups, np.arange(120), classifier="logreg", protocol="loso", n_jobs=1)
    assert search.n_splits_ == 3 and search.best_params_["clf__C"] in baselines.CLASSIFIERS["logreg"]


@pytest.mark.parametrize("protocol, speaker_norm", [("paper", False), ("loso", True)])  # the two switches are independent lines
@pytest.mark.filterwarnings("ignore:The least populated class in y:UserWarning")  # 3 speakers, half the corpus in training
def test_run_baseline_groups_its_inner_folds_and_normalizes_speakers_as_configured(small_corpus, tmp_path, monkeypatch, rng, protocol, speaker_norm):
    """As run_baseline wires them: the inner cross-validation keeps repeated takes together under
    the paper's protocol and leaves one training speaker out under LOSO; with speaker
    normalization every row (the test speaker's too) is standardized with its speaker's own
    statistics before fitting and predicting, and without it the features are used as given."""
    df = data.load_emodb(small_corpus, verify=False)
    speakers, takes = df["speaker"].astype(str).to_numpy(), data.take_groups(df)
    offset = {s: 10.0 * i for i, s in enumerate(sorted(set(speakers)))}
    X = rng.normal(size=(len(df), 6)) + np.array([offset[s] for s in speakers])[:, None]  # speakers far apart
    seen = []
    real = baselines.fit_fold

    def spy(X_, y, groups, train, **kw):
        search = real(X_, y, groups, train, **{**kw, "n_jobs": 1})
        seen.append((X_, y, groups, train, kw, search))
        return search

    monkeypatch.setattr(baselines, "fit_fold", spy)
    config = BaselineConfig(features="egemaps", protocol=protocol, speaker_norm=speaker_norm, n_splits=2, data_dir=str(small_corpus))
    result = run_baseline(config, results_dir=tmp_path, verify=False, progress=False, features=X)
    folds = data.make_folds(df, protocol=protocol, n_splits=2 if protocol == "paper" else None)
    assert len(seen) == len(folds) == len(result.folds)
    for (X_, y, groups, train, kw, search), fold, record in zip(seen, folds, result.folds):
        assert kw["protocol"] == protocol and np.array_equal(train, np.concatenate([fold.train, fold.val]))
        assert np.array_equal(groups, speakers if protocol == "loso" else takes)
        inner = list(search.cv.split(X_[train], y[train], groups[train]))  # the splits the search scored
        assert len(inner) == (len(set(speakers[train])) if protocol == "loso" else 4)
        for fit_rows, score_rows in inner:
            if protocol == "loso":  # one whole training speaker out
                assert len(set(speakers[train][score_rows])) == 1 and not set(speakers[train][score_rows]) & set(speakers[train][fit_rows])
            assert not set(takes[train][score_rows]) & set(takes[train][fit_rows])  # repeated takes never split
        if speaker_norm:
            for s in set(speakers):
                np.testing.assert_allclose(X_[speakers == s].mean(axis=0), 0, atol=1e-9)
                np.testing.assert_allclose(X_[speakers == s].std(axis=0), 1, atol=1e-9)
        else:
            assert np.array_equal(X_, X)
        np.testing.assert_allclose([p["probs"] for p in record["predictions"]], search.best_estimator_.predict_proba(X_[fold.test]), atol=1e-6)
