"""adcrnn_lib.cv: smoke runs of both protocols, fold JSON schema, resume, determinism, leakage, NaN."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from adcrnn_lib import cv, data, profiles
from adcrnn_lib.augment import GeneratedClip
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import LeakageError, ParameterError, TrainingError
from adcrnn_lib.train import SegmentData, train_model

# The keys every fold file has, with their types.
SCHEMA = {
    "schema_version": int,
    "complete": bool,
    "config": dict,
    "config_key": str,
    "fold": int,
    "classes": list,
    "n_train_utterances": int,
    "n_generated": int,
    "n_train_segments": int,
    "train_utterances": list,
    "val_utterances": list,
    "predictions": list,
    "confusion": list,
    "wa": float,
    "ua": float,
    "macro_f1": float,
    "best_epoch": int,
    "val": dict,
    "history": dict,
    "wall_time_s": float,
    "provenance": dict,
}


def check_schema(record: dict) -> None:
    for key, kind in SCHEMA.items():
        assert isinstance(record[key], kind), (key, type(record[key]))
    assert record["complete"] is True and record["schema_version"] == cv.SCHEMA_VERSION
    assert record["classes"] == list(data.EMOTIONS)
    n = len(record["predictions"])
    for p in record["predictions"]:
        assert set(p) == {"utterance", "true", "pred", "probs"}
        assert len(p["probs"]) == 7 and abs(sum(p["probs"]) - 1) < 1e-4
        assert p["pred"] == int(np.argmax(p["probs"]))
    assert np.asarray(record["confusion"]).sum() == n
    assert 0 <= record["wa"] <= 1 and 0 <= record["ua"] <= 1
    assert set(record["history"]) == {"loss", "val_wa", "val_ua"}
    for key in ("git_commit", "machine", "packages", "wall_time_s", "profile"):
        assert key in record["provenance"]
    assert {"cpu", "cores"} <= set(record["provenance"]["machine"])


@pytest.fixture(scope="module")
def paper_run(small_corpus, tmp_path_factory):
    config = ExperimentConfig(profile="smoke", protocol="paper", data_dir=str(small_corpus))
    return cv.run_cv(config, results_dir=tmp_path_factory.mktemp("runs"), verify=False, progress=False)


def test_paper_protocol_end_to_end(paper_run, small_corpus):
    assert len(paper_run.folds) == profiles.get_profile("smoke").n_splits
    files = sorted(paper_run.run_dir.glob("fold-*.json"))
    assert [f.name for f in files] == [f"fold-{k}.json" for k in range(len(paper_run.folds))]
    for f in files:
        check_schema(json.loads(f.read_text()))
    preds = paper_run.predictions()
    assert sorted(preds["utterance"]) == sorted(p.stem for p in small_corpus.glob("*.wav"))  # each once
    assert paper_run.confusion().sum() == len(preds)
    np.testing.assert_allclose(paper_run.confusion(normalize=True).sum(axis=1), 1.0)
    summary = paper_run.summary()
    assert summary["wa"]["mean"] == pytest.approx(paper_run.table()["wa"].mean())
    assert summary["ua"]["std"] == pytest.approx(paper_run.table()["ua"].std(ddof=1))
    assert json.loads((paper_run.run_dir / "config.json").read_text())["config_key"] == paper_run.config.key()


def test_rerun_reuses_every_fold(paper_run, monkeypatch):
    monkeypatch.setattr(cv, "run_fold", lambda *a, **k: pytest.fail("a completed fold was retrained"))
    again = cv.run_cv(paper_run.config, results_dir=paper_run.run_dir.parents[1], verify=False, progress=False)
    assert again.folds == paper_run.folds
    loaded = cv.load_result(paper_run.config, results_dir=paper_run.run_dir.parents[1])
    assert loaded.table().equals(paper_run.table())


def test_same_seed_same_results(paper_run, tmp_path):
    """Tolerance: on CPU with op determinism a rerun reproduces every prediction and WA/UA exactly."""
    again = cv.run_cv(paper_run.config, results_dir=tmp_path, verify=False, progress=False)
    for a, b in zip(paper_run.folds, again.folds):
        assert a["wa"] == b["wa"] and a["ua"] == b["ua"]
        assert [p["pred"] for p in a["predictions"]] == [p["pred"] for p in b["predictions"]]
        np.testing.assert_allclose([p["probs"] for p in a["predictions"]], [p["probs"] for p in b["predictions"]], atol=1e-6)


def test_compare_pairs_two_runs(paper_run, small_corpus, tmp_path):
    other = cv.run_cv(
        ExperimentConfig(profile="smoke", protocol="paper", loss="lf2", data_dir=str(small_corpus)),
        results_dir=tmp_path,
        verify=False,
        progress=False,
    )
    out = cv.compare(paper_run, other, n_boot=200)
    assert set(out) == {"wa", "ua"} and out["wa"]["folds"] == profiles.get_profile("smoke").n_splits
    assert out["wa"]["diff"] == pytest.approx(other.summary()["wa"]["mean"] - paper_run.summary()["wa"]["mean"])
    assert out["wa"]["ci_low"] <= out["wa"]["ci_high"]
    fewer = cv.CVResult(paper_run.config, paper_run.folds[:-1], paper_run.run_dir)
    with pytest.raises(ParameterError, match="cannot pair"):
        cv.compare(paper_run, fewer)


def test_loso_protocol(small_corpus, tmp_path):
    config = ExperimentConfig(profile="smoke", protocol="loso", data_dir=str(small_corpus))
    result = cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    assert len(result.folds) == 4
    for record in result.folds:
        check_schema(record)
        speakers = {u[:2] for u in (p["utterance"] for p in record["predictions"])}
        train_speakers = {u[:2] for u in record["train_utterances"] + record["val_utterances"]}
        assert len(speakers) == 1 and not speakers & train_speakers


def test_killed_run_resumes_at_first_missing_fold(small_corpus, tmp_path, monkeypatch):
    config = ExperimentConfig(profile="smoke", protocol="loso", loss="lf3", data_dir=str(small_corpus))  # 4 folds
    real = cv.run_fold

    def dies_at_fold_2(config, df, fold, features, **kw):
        if fold.k == 2:
            raise KeyboardInterrupt("killed during fold 2")
        return real(config, df, fold, features, **kw)

    monkeypatch.setattr(cv, "run_fold", dies_at_fold_2)
    with pytest.raises(KeyboardInterrupt):
        cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    run_dir = tmp_path / "smoke" / config.key()
    assert sorted(p.name for p in run_dir.glob("fold-*.json")) == ["fold-0.json", "fold-1.json"]
    before = {k: (run_dir / f"fold-{k}.json").read_bytes() for k in (0, 1)}
    (run_dir / "fold-3.json").write_text('{"schema_version": 1, "complete": tr')  # half-written file

    trained = []
    monkeypatch.setattr(cv, "run_fold", lambda c, d, fold, f, **kw: trained.append(fold.k) or real(c, d, fold, f, **kw))
    result = cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    assert trained == [2, 3]  # folds 0 and 1 reused, the half-written fold 3 recomputed
    assert {k: (run_dir / f"fold-{k}.json").read_bytes() for k in (0, 1)} == before
    assert len(result.folds) == 4
    check_schema(json.loads((run_dir / "fold-3.json").read_text()))


# ------------------------------------------------------------------------------------------
# leakage guard
# ------------------------------------------------------------------------------------------
@pytest.fixture
def table(small_corpus):
    return data.load_emodb(small_corpus, verify=False)


def test_leakage_guard_accepts_real_folds(table):
    for protocol in ("paper", "loso"):
        for fold in data.make_folds(table, protocol=protocol):
            clip = GeneratedClip(np.zeros(10, np.float32), "anger", (table["utterance"].iloc[fold.train[0]],), "test")
            cv.check_leakage(table, fold, [clip], protocol=protocol)


def test_leakage_guard_catches_a_test_utterance_in_training(table):
    fold = data.make_folds(table)[0]
    leaky = data.Fold(0, np.append(fold.train, fold.test[0]), fold.val, fold.test)
    with pytest.raises(LeakageError, match="test utterances also in training"):
        cv.check_leakage(table, leaky, [])


def test_leakage_guard_catches_clips_made_from_test_audio(table):
    fold = data.make_folds(table)[0]
    source = table["utterance"].iloc[fold.test[0]]
    clip = GeneratedClip(np.zeros(10, np.float32), "anger", (source,), "wavegan")
    with pytest.raises(LeakageError, match="made from test utterance"):
        cv.check_leakage(table, fold, [clip])
    val_clip = GeneratedClip(np.zeros(10, np.float32), "anger", (table["utterance"].iloc[fold.val[0]],), "time_shift")
    with pytest.raises(LeakageError, match="validation"):
        cv.check_leakage(table, fold, [val_clip])


def test_leakage_guard_catches_split_takes_and_speakers(table):
    groups = (table["speaker"] + table["sentence"] + table["emotion"].astype(str)).to_numpy()
    dup = next(g for g in groups if (groups == g).sum() > 1)
    a, b = np.flatnonzero(groups == dup)[:2]
    rest = np.setdiff1d(np.arange(len(table)), [a, b])
    split = data.Fold(0, np.append(rest[:-10], b), rest[-10:], np.array([a]))
    with pytest.raises(LeakageError, match="repeated takes"):
        cv.check_leakage(table, split, [])
    fold = data.make_folds(table, protocol="loso")[0]
    spk = table["speaker"].to_numpy()
    same_speaker = np.flatnonzero(spk == spk[fold.test[0]])
    moved = data.Fold(0, np.append(fold.train, same_speaker[-1]), fold.val, np.setdiff1d(fold.test, same_speaker[-1:]))
    with pytest.raises(LeakageError, match="test speaker|repeated takes"):
        cv.check_leakage(table, moved, [], protocol="loso")


# ------------------------------------------------------------------------------------------
# NaN
# ------------------------------------------------------------------------------------------
def test_nan_loss_stops_with_a_clear_error(rng):
    x = rng.normal(size=(32, 40, 40, 3)).astype("float32")
    x[5] = np.nan  # a whole segment: max-pooling would drop a lone NaN value
    y = np.arange(32) % 7
    bad = SegmentData(x, y, np.arange(32), y)
    with pytest.raises(TrainingError, match="loss became nan"):
        train_model(bad, bad, profile="smoke", progress=False)


def test_nan_fold_writes_no_result(small_corpus, tmp_path, monkeypatch):
    # an infinite learning rate turns the weights into inf/NaN after the first step
    monkeypatch.setitem(profiles.PROFILES, "smoke", dataclasses.replace(profiles.PROFILES["smoke"], learning_rate=float("inf")))
    config = ExperimentConfig(profile="smoke", data_dir=str(small_corpus))
    with pytest.raises(TrainingError, match="loss became nan"):
        cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    assert not list(tmp_path.rglob("fold-*.json"))


def test_augmented_run_generates_from_training_folds_only(small_corpus, tmp_path):
    config = ExperimentConfig(profile="smoke", protocol="loso", augmentation="time_shift", data_dir=str(small_corpus))
    result = cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    table = data.load_emodb(small_corpus, verify=False)
    for record in result.folds:
        check_schema(record)
        train = table[table["utterance"].isin(record["train_utterances"])]
        counts = train["emotion"].astype(str).value_counts()
        assert record["n_generated"] == sum(counts.max() - counts.get(e, 0) for e in ("boredom", "disgust", "fear", "happiness", "neutral", "sadness"))
        assert record["n_train_segments"] == record["n_train_utterances"] + record["n_generated"]  # all clips < 3 s


# --- per-speaker normalization (beyond the paper) ---------------------------------------------
def test_speaker_normalizers_standardize_each_speaker_without_labels(rng):
    from adcrnn_lib.features import speaker_normalizers

    feats = [rng.normal(3.0 if i % 2 else -2.0, 1.0 + i % 2, size=(50 + i, 4, 3)).astype(np.float32) for i in range(6)]
    speakers = ["03" if i % 2 else "08" for i in range(6)]
    norms = speaker_normalizers(feats, speakers)
    for spk in ("03", "08"):
        frames = np.concatenate([norms[spk].transform(f) for f, s in zip(feats, speakers) if s == spk])
        np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-3)
    with pytest.raises(ParameterError, match="6 feature arrays but 5 speakers"):
        speaker_normalizers(feats, speakers[:5])


def test_speaker_norm_option_is_validated_and_keyed():
    assert ExperimentConfig(speaker_norm=True).key() != ExperimentConfig().key()
    with pytest.raises(ParameterError, match="speaker_norm"):
        ExperimentConfig(speaker_norm="yes")
    with pytest.raises(ParameterError, match="many source speakers"):
        ExperimentConfig(speaker_norm=True, augmentation="wavegan")


def test_speaker_norm_runs_under_loso_with_augmentation(small_corpus, tmp_path, monkeypatch):
    from adcrnn_lib import features

    seen = []
    real = features.speaker_normalizers

    def spy(feats, speakers):  # records what the statistics are computed from
        seen.append(list(speakers))
        return real(feats, speakers)

    monkeypatch.setattr(features, "speaker_normalizers", spy)
    config = ExperimentConfig(profile="smoke", protocol="loso", augmentation="time_shift", speaker_norm=True, data_dir=str(small_corpus))
    result = cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    assert len(result.folds) == 4 and all(f["n_generated"] > 0 for f in result.folds)
    assert result.folds[0]["config"]["speaker_norm"] is True
    df = data.load_emodb(small_corpus, verify=False)
    assert len(seen) == 4 and all(s == df["speaker"].astype(str).tolist() for s in seen)  # speakers only, no labels


def test_a_final_model_refuses_speaker_norm(small_corpus, tmp_path):
    from adcrnn_lib.predict import train_final

    with pytest.raises(ParameterError, match="speaker_norm"):
        train_final(ExperimentConfig(profile="smoke", speaker_norm=True, data_dir=str(small_corpus)), tmp_path / "m.keras", verify=False)
