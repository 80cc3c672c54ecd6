"""adcrnn_lib.experiments.cv: both protocols, fold JSON checked against its own predictions, resume, stale files,
load_result's contract, paired comparison on known differences, the leakage guard's wiring, NaN."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import statistics

import numpy as np
import pytest

from adcrnn_lib import data, profiles
from adcrnn_lib import train as train_module
from adcrnn_lib.augment import GeneratedClip
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import LeakageError, ParameterError, TrainingError
from adcrnn_lib.experiments import cv
from adcrnn_lib.experiments.results import results_root
from adcrnn_lib.train import SegmentData, train_model

from .helpers.runs import EMOTION_OF_CODE, hand_scores, run_folder

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


def check_schema(record: dict, *, backend: str | None = "tensorflow") -> None:
    """The layout of a fold file, and its scores recomputed by hand from its own predictions; ``backend``: the Keras backend its provenance must name (None: no Keras model)."""
    for key, kind in SCHEMA.items():
        assert isinstance(record[key], kind), (key, type(record[key]))
    assert record["complete"] is True and record["schema_version"] == cv.SCHEMA_VERSION
    assert record["classes"] == list(data.EMOTIONS)
    for p in record["predictions"]:
        assert set(p) == {"utterance", "true", "pred", "probs"}
        assert len(p["probs"]) == 7 and abs(sum(p["probs"]) - 1) < 1e-4
        assert p["pred"] == int(np.argmax(p["probs"]))
        assert data.EMOTIONS[p["true"]] == EMOTION_OF_CODE[p["utterance"][5]]  # the label of the file name
    expected = hand_scores([p["true"] for p in record["predictions"]], [p["pred"] for p in record["predictions"]])
    assert record["confusion"] == expected["confusion"]
    for metric in ("wa", "ua", "macro_f1"):
        assert record[metric] == pytest.approx(expected[metric], abs=1e-12), metric
    tested = {p["utterance"] for p in record["predictions"]}
    assert not tested & (set(record["train_utterances"]) | set(record["val_utterances"]))
    assert record["n_train_utterances"] == len(record["train_utterances"])
    assert set(record["history"]) == {"loss", "val_wa", "val_ua"}
    for key in ("git_commit", "machine", "packages", "wall_time_s", "profile"):
        assert key in record["provenance"]
    assert record["provenance"]["keras_backend"] == backend  # which backend trained it (tests/jax_checks.py: "jax" there)
    assert {"cpu", "cores"} <= set(record["provenance"]["machine"])


@pytest.fixture(scope="module")
def module_folders():
    """The cache and results folders a module-scoped fixture (a trained run, a model) would use."""
    from adcrnn_lib import features

    return features.default_cache_dir(), results_root()


def test_fixtures_never_touch_the_users_folders(module_folders, tmp_path_factory):
    base = run_folder(tmp_path_factory).resolve()
    for folder in module_folders:  # set up before any function-scoped fixture: isolated all the same
        assert folder.resolve().is_relative_to(base), folder


def test_paper_protocol_end_to_end(paper_run, small_corpus):
    assert len(paper_run.folds) == profiles.get_profile("smoke").n_splits
    files = sorted(paper_run.run_dir.glob("fold-*.json"))
    assert [f.name for f in files] == [f"fold-{k}.json" for k in range(len(paper_run.folds))]
    for f in files:
        check_schema(json.loads(f.read_text()))
    preds = paper_run.predictions()
    assert sorted(preds["utterance"]) == sorted(p.stem for p in small_corpus.glob("*.wav"))  # each once
    pooled = hand_scores(preds["true"], preds["pred"])["confusion"]
    assert paper_run.confusion().tolist() == pooled
    np.testing.assert_allclose(paper_run.confusion(normalize=True), np.asarray(pooled) / np.asarray(pooled).sum(axis=1, keepdims=True))
    wa = [r["wa"] for r in paper_run.folds]
    summary = paper_run.summary()
    assert summary["wa"]["mean"] == pytest.approx(statistics.mean(wa)) and summary["wa"]["std"] == pytest.approx(statistics.stdev(wa))
    assert json.loads((paper_run.run_dir / "config.json").read_text())["config_key"] == paper_run.config.key()


def test_rerun_reuses_every_fold(paper_run, monkeypatch):
    monkeypatch.setattr(cv, "run_fold", lambda *a, **k: pytest.fail("a completed fold was retrained"))
    again = cv.run_cv(paper_run.config, results_dir=paper_run.run_dir.parents[1], verify=False, progress=False)
    assert again.folds == paper_run.folds
    loaded = cv.load_result(paper_run.config, results_dir=paper_run.run_dir.parents[1])
    assert loaded.folds == paper_run.folds and loaded.table().equals(paper_run.table())


# --- paired comparison, on results whose difference is known ---------------------------------
def _with_predictions(record: dict, pred) -> dict:
    """``record`` with other predictions, its scores recomputed by hand."""
    out = json.loads(json.dumps(record))
    for p, new in zip(out["predictions"], pred):
        p["pred"] = int(new)
    scores = hand_scores([p["true"] for p in out["predictions"]], pred)
    out.update(wa=scores["wa"], ua=scores["ua"], macro_f1=scores["macro_f1"], confusion=scores["confusion"])
    return out


def test_compare_finds_known_differences(paper_run):
    base = paper_run
    assert all(r["wa"] < 1 for r in base.folds)  # the smoke model makes mistakes to fix
    # every mistake fixed: B - A in WA is exactly the error rate of A, in every resample positive
    fixed = cv.CVResult(base.config, [_with_predictions(r, [p["true"] for p in r["predictions"]]) for r in base.folds], base.run_dir)
    out = cv.compare(base, fixed, n_boot=300)
    errors = [1 - r["wa"] for r in base.folds]
    assert out["wa"]["diff"] == pytest.approx(statistics.mean(errors)) and out["wa"]["folds"] == len(errors)
    pooled_error = 1 - float((base.predictions()["true"] == base.predictions()["pred"]).mean())
    assert 0 < out["wa"]["ci_low"] < pooled_error < out["wa"]["ci_high"] <= 1
    assert out["ua"]["ci_low"] > 0
    if statistics.stdev(errors) > 0:  # the paired t over folds, by hand
        assert out["wa"]["t"] == pytest.approx(statistics.mean(errors) / (statistics.stdev(errors) / math.sqrt(len(errors))))
    back = cv.compare(fixed, base, n_boot=300)
    assert back["wa"]["diff"] == pytest.approx(-out["wa"]["diff"]) and back["wa"]["ci_high"] < 0
    same = cv.compare(base, base, n_boot=50)
    assert same["wa"]["diff"] == 0 and same["wa"]["ci_low"] == same["wa"]["ci_high"] == 0
    fewer = cv.CVResult(base.config, base.folds[:-1], base.run_dir)
    with pytest.raises(ParameterError, match="cannot pair"):
        cv.compare(base, fewer)
    shuffled = json.loads(json.dumps(base.folds))
    shuffled[0]["predictions"] = shuffled[0]["predictions"][::-1]
    with pytest.raises(ParameterError, match="fold 0 tests different utterances"):
        cv.compare(base, cv.CVResult(base.config, shuffled, base.run_dir))


# --- leave one speaker out, time shifting, per-speaker normalization: one run ----------------
def test_loso_protocol(loso_run, small_corpus):
    result, _ = loso_run
    assert len(result.folds) == 3
    ids = sorted(p.stem for p in small_corpus.glob("*.wav"))
    for record in result.folds:
        check_schema(record)
        speakers = {p["utterance"][:2] for p in record["predictions"]}
        train_speakers = {u[:2] for u in record["train_utterances"] + record["val_utterances"]}
        assert len(speakers) == 1 and not speakers & train_speakers
        assert sorted(record["train_utterances"] + record["val_utterances"] + [p["utterance"] for p in record["predictions"]]) == ids
    assert sorted(result.predictions()["utterance"]) == ids


def test_augmentation_hook_gets_the_training_rows_only(loso_run, small_corpus):
    result, seen = loso_run
    assert [k for k, _ in seen["hook"]] == [0, 1, 2]
    table = data.load_emodb(small_corpus, verify=False)
    for (k, given), record in zip(seen["hook"], result.folds):
        assert given == sorted(record["train_utterances"])  # exactly the fold's training rows: no validation, no test
        assert not set(given) & ({p["utterance"] for p in record["predictions"]} | set(record["val_utterances"]))
        train = table[table["utterance"].isin(record["train_utterances"])]
        counts = train["emotion"].astype(str).value_counts()
        assert record["n_generated"] == sum(counts.max() - counts.get(e, 0) for e in ("boredom", "disgust", "fear", "happiness", "neutral", "sadness")) > 0
        assert record["n_train_segments"] == record["n_train_utterances"] + record["n_generated"]  # all clips < 3 s


def test_speaker_norm_statistics_use_speakers_only(loso_run, small_corpus):
    result, seen = loso_run
    assert all(f["config"]["speaker_norm"] is True for f in result.folds)
    df = data.load_emodb(small_corpus, verify=False)
    assert seen["speakers"] == [df["speaker"].astype(str).tolist()] * 3  # speakers only, no labels


def test_each_fold_normalizes_with_its_training_part_and_selects_on_its_validation_part(loso_run, small_corpus):
    """The honest path's own doors, per fold: the normalizer is fitted on exactly the fold's training
    features and its generated clips; model selection sees exactly the fold's validation
    utterances; the test utterances are scored with that normalizer and the kept model; and the
    record's utterance lists are what was used."""
    from adcrnn_lib.features import Normalizer, extract_features, log_mel_3d
    from adcrnn_lib.metrics import softmax
    from adcrnn_lib.train import make_segment_data, predict_utterances, speaker_normalize

    result, seen = loso_run
    df = data.load_emodb(small_corpus, verify=False)
    ids, labels = df["utterance"].to_numpy(), df["emotion"].cat.codes.to_numpy()
    normed, norms = speaker_normalize(df, extract_features(df["path"].tolist(), progress=False))  # the run's speaker_norm
    speaker_of = dict(zip(df["utterance"], df["speaker"].astype(str)))
    settings = result.config.settings()
    cut = {"length": settings.segment_frames, "hop": settings.segment_hop}
    folds = data.make_folds(df, protocol="loso")
    assert len(seen["fit"]) == len(seen["train"]) == len(seen["clips"]) == len(folds) == len(result.folds)
    for fold, record, (fitted_on, normalizer), (train_data, val_data, trained), clips in zip(folds, result.folds, seen["fit"], seen["train"], seen["clips"]):
        assert record["train_utterances"] == ids[fold.train].tolist() and record["val_utterances"] == ids[fold.val].tolist()
        assert [p["utterance"] for p in record["predictions"]] == ids[fold.test].tolist()
        # the normalizer: the training utterances, then the clips made from them, nothing else
        clip_feats = [norms[speaker_of[c.sources[0]]].transform(log_mel_3d(c.audio)) for c in clips]
        expected = [normed[i] for i in fold.train] + clip_feats
        assert clips and record["n_generated"] == len(clips) and len(fitted_on) == len(expected) == len(fold.train) + len(clips)
        assert all(np.array_equal(a, b) for a, b in zip(fitted_on, expected))
        reference = Normalizer.fit(expected)
        assert np.array_equal(normalizer.mean, reference.mean) and np.array_equal(normalizer.std, reference.std)
        # training: those features and labels, normalized so
        train_labels = np.concatenate([labels[fold.train], [data.EMOTIONS.index(c.emotion) for c in clips]])
        want = make_segment_data(expected, train_labels, normalizer, **cut)
        assert np.array_equal(train_data.x, want.x) and np.array_equal(train_data.labels, want.labels)
        # model selection: exactly the validation utterances (not the test ones), normalized with the training statistics
        want = make_segment_data([normed[i] for i in fold.val], labels[fold.val], normalizer, **cut)
        assert np.array_equal(val_data.x, want.x) and np.array_equal(val_data.labels, want.labels)
        assert record["best_epoch"] == trained.best_epoch and record["val"] == pytest.approx(trained.best_val)
        # the test part: the kept model on the test utterances, normalized with the same statistics
        test = make_segment_data([normed[i] for i in fold.test], labels[fold.test], normalizer, **cut)
        np.testing.assert_allclose([p["probs"] for p in record["predictions"]], softmax(predict_utterances(trained.model, test)), atol=2e-6)


def test_killed_run_resumes_and_retrains_exactly_the_unusable_folds(loso_run, tmp_path, monkeypatch):
    result, _ = loso_run
    folder = tmp_path / "smoke" / result.config.key()
    shutil.copytree(result.run_dir, folder)  # the run's folds, as a killed run would have left them:
    original = {k: (folder / f"fold-{k}.json").read_bytes() for k in range(3)}
    (folder / "fold-2.json").unlink()  # killed during fold 2 ...
    (folder / "fold-1.json").write_text('{"schema_version": 1, "complete": tr')  # ... and fold 1's file damaged since
    real = cv.run_fold
    trained = []

    def dies_at_fold_2(config, df, fold, features, **kw):
        trained.append(fold.k)
        if fold.k == 2:
            raise KeyboardInterrupt("killed during fold 2")
        return real(config, df, fold, features, **kw)

    monkeypatch.setattr(cv, "run_fold", dies_at_fold_2)
    with pytest.raises(KeyboardInterrupt):
        cv.run_cv(result.config, results_dir=tmp_path, verify=False, progress=False)
    assert trained == [1, 2]  # fold 0 reused, the damaged fold 1 retrained, then killed in fold 2
    assert sorted(p.name for p in folder.glob("fold-*.json")) == ["fold-0.json", "fold-1.json"]  # the kill wrote nothing
    assert (folder / "fold-0.json").read_bytes() == original[0]
    # the retrained fold 1 is the original one: the same seed gives the same results
    a, b = json.loads(original[1]), json.loads((folder / "fold-1.json").read_text())
    assert (a["wa"], a["ua"], a["best_epoch"]) == (b["wa"], b["ua"], b["best_epoch"])
    assert [p["pred"] for p in a["predictions"]] == [p["pred"] for p in b["predictions"]]
    np.testing.assert_allclose([p["probs"] for p in a["predictions"]], [p["probs"] for p in b["predictions"]], atol=1e-6)

    kept = {k: (folder / f"fold-{k}.json").read_bytes() for k in (0, 1)}
    trained.clear()
    monkeypatch.setattr(cv, "run_fold", lambda c, d, fold, f, **kw: trained.append(fold.k) or real(c, d, fold, f, **kw))
    again = cv.run_cv(result.config, results_dir=tmp_path, verify=False, progress=False)
    assert trained == [2]
    assert {k: (folder / f"fold-{k}.json").read_bytes() for k in (0, 1)} == kept
    assert len(again.folds) == 3
    for record in again.folds:
        check_schema(record)


# --- stale fold files and load_result's contract -----------------------------------------------
def _other_test_ids(record: dict, folder) -> None:
    record["predictions"][0]["utterance"] = json.loads((folder / "fold-0.json").read_text())["predictions"][0]["utterance"]


STALE = {
    "another configuration": (lambda r, f: r.update(config_key="0123456789abcdef"), r"written for configuration '0123456789abcdef'"),
    "another schema version": (lambda r, f: r.update(schema_version=cv.SCHEMA_VERSION + 1), f"schema_version {cv.SCHEMA_VERSION + 1}, expected {cv.SCHEMA_VERSION}"),
    "another fold number": (lambda r, f: r.update(fold=0), r"holds fold 0, not fold 1"),
    "marked incomplete": (lambda r, f: r.update(complete=False), r"marked incomplete"),
    "other test utterances": (_other_test_ids, r"do not cover|other utterances"),
}


@pytest.fixture
def loso_copy(loso_run, tmp_path):
    """A copy of the leave-one-speaker-out run under ``tmp_path``: (config, its folder)."""
    result, _ = loso_run
    folder = tmp_path / "smoke" / result.config.key()
    shutil.copytree(result.run_dir, folder)
    return result.config, folder


@pytest.mark.parametrize("case", list(STALE))
def test_stale_fold_files_are_never_used(loso_copy, tmp_path, small_corpus, case, caplog):
    config, folder = loso_copy
    change, message = STALE[case]
    path = folder / "fold-1.json"
    record = json.loads(path.read_text())
    change(record, folder)
    path.write_text(json.dumps(record))
    # load_result refuses the run, naming the file (or the folder) and what is wrong
    with pytest.raises(ParameterError, match=message) as info:
        cv.load_result(config, results_dir=tmp_path)
    assert str(folder) in str(info.value)
    # run_cv recomputes that fold: its reader rejects the file, saying why
    df = data.load_emodb(small_corpus, verify=False)
    fold = data.make_folds(df, protocol="loso")[1]
    with caplog.at_level(logging.WARNING, logger="adcrnn_lib.experiments.cv"):
        assert cv._load_fold(path, config=config, fold=fold, test_ids=df["utterance"].to_numpy()[fold.test].tolist()) is None
    assert str(path) in caplog.text and "recomputed" in caplog.text
    # the grid counts it as still to train (it cannot see a changed corpus: run_cv can)
    if case != "other test utterances":
        assert cv.missing_folds(config, tmp_path, 3) == [1]
    assert cv.missing_folds(config, tmp_path / "nowhere", 3) == [0, 1, 2]


@pytest.mark.parametrize(
    "gone, message",
    [([1], r"2 of 3 folds done, fold\(s\) \[1\] missing"), ([2], r"2 of 3 folds done, fold\(s\) \[2\] missing"), ([1, 2], r"1 of 3 folds done"), ([0, 1, 2], "no results")],
)
def test_load_result_refuses_a_half_finished_run(loso_copy, tmp_path, gone, message):
    config, folder = loso_copy
    assert cv.load_result(config, results_dir=tmp_path).folds == [json.loads((folder / f"fold-{k}.json").read_text()) for k in range(3)]
    assert cv.missing_folds(config, tmp_path, 3) == []
    for k in gone:
        (folder / f"fold-{k}.json").unlink()
    with pytest.raises(ParameterError, match=message):
        cv.load_result(config, results_dir=tmp_path)
    assert cv.missing_folds(config, tmp_path, 3) == gone


def test_load_result_names_an_unreadable_fold_file(loso_copy, tmp_path):
    from adcrnn_lib.exceptions import DataError

    config, folder = loso_copy
    (folder / "fold-2.json").write_text('{"schema_version": 1, "compl')
    with pytest.raises(DataError, match=r"fold-2\.json: unreadable fold file"):
        cv.load_result(config, results_dir=tmp_path)
    assert cv.missing_folds(config, tmp_path, 3) == [2]


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
    # a profile that trains on its validation part may augment it too, never the test part
    cv.check_leakage(table, fold, [val_clip], val_trained=True)
    with pytest.raises(LeakageError, match="made from test utterance"):
        cv.check_leakage(table, fold, [clip], val_trained=True)


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


def test_run_cv_stops_an_augmenter_that_uses_test_audio(small_corpus, tmp_path, monkeypatch):
    """The guard is wired into every fold: a leaky augmenter stops the run before any training."""
    from adcrnn_lib import augment

    df = data.load_emodb(small_corpus, verify=False)
    folds = data.make_folds(df, protocol="paper", n_splits=profiles.get_profile("smoke").n_splits, seed=0)
    calls = []

    def leaky(method, train, *, fold, **kw):  # a clip made from the fold's first test utterance
        calls.append(fold)
        source = df.iloc[folds[fold].test[0]]
        return [GeneratedClip(data.load_audio(source["path"]), str(source["emotion"]), (str(source["utterance"]),), "time_shift", {"tau": 160})]

    monkeypatch.setattr(augment, "augment_training_set", leaky)
    monkeypatch.setattr(train_module, "train_model", lambda *a, **k: pytest.fail("trained with a clip made from test audio"))
    config = ExperimentConfig(profile="smoke", augmentation="time_shift", data_dir=str(small_corpus))
    with pytest.raises(LeakageError, match=rf"fold 0: a generated time_shift clip was made from test utterance\(s\) \['{df['utterance'].iloc[folds[0].test[0]]}'\]"):
        cv.run_cv(config, results_dir=tmp_path, verify=False, progress=False)
    assert calls == [0] and not list(tmp_path.rglob("fold-*.json"))


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


def test_a_final_model_refuses_speaker_norm(small_corpus, tmp_path):
    from adcrnn_lib.predict import train_final

    with pytest.raises(ParameterError, match="speaker_norm"):
        train_final(ExperimentConfig(profile="smoke", speaker_norm=True, data_dir=str(small_corpus)), tmp_path / "m.keras", verify=False)
