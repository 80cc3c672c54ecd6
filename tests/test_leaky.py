"""The leaky protocols (adcrnn_lib.experiments.leaky): each leak opens exactly the door it names, and nothing honest reads them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.data import load_emodb, make_folds, take_groups
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.experiments import leaky
from adcrnn_lib.experiments.cv import load_result
from adcrnn_lib.experiments.leaky import LeakyConfig, leaky_units, run_leaky
from adcrnn_lib.experiments.results import run_dir
from adcrnn_lib.features import segment

#: Short segments, so the synthetic utterances (0.5-1.2 s) have several; 3 epochs, so selection has a choice
#: (and the smoke profile's patience of 1 would stop a run whose test UA does not improve).
SMOKE = {"segment_frames": 40, "segment_hop": 20, "epochs": 3}


def test_config_validates_and_keys_apart_from_the_honest_run():
    for bad, match in (((), "non-empty"), ("takes", "non-empty"), (("takes", "peeking"), "unknown leak")):
        with pytest.raises(ParameterError, match=match):
            LeakyConfig(bad, profile="smoke")
    with pytest.raises(ParameterError, match="cannot override"):
        LeakyConfig(("takes",), profile="smoke", overrides={"n_splits": 3})
    a = LeakyConfig(("test_selection", "takes"), profile="smoke")
    assert a.leaks == ("takes", "test_selection") and a == LeakyConfig(("takes", "test_selection", "takes"), profile="smoke")
    assert len({a.key(), LeakyConfig(("takes",), profile="smoke").key(), a.experiment().key()}) == 3
    assert LeakyConfig(("augment_before_split",), profile="smoke").experiment().augmentation == "time_shift"
    assert a.experiment().augmentation == "none" and run_dir(a, "r").parts[-2] == "leaky"


def test_every_honest_twin_is_a_run_the_reference_keeps(small_corpus):
    """Every leaky point's twin is in the study's run list (what the reference copies and the chapter
    reads), and each is the run it claims to be: Table V's own rows for the profile's points, the
    study's starting recipe where the epoch is picked on the test part, and the recipe's variant
    with 3 s segments for the segments leak at 3 s."""
    from adcrnn_lib.experiments import grid

    runs = grid._study_runs("cpu", small_corpus)
    keys = {c.key() for c in runs}
    points = grid.leaky_configs("cpu", small_corpus)
    twins = [c.experiment() for configs in points.values() for c in configs]
    assert twins and all(t.key() in keys for t in twins) and len(keys) == len(runs)
    assert {t.augmentation for t in twins} == {"none", "time_shift"}
    table_v = {(a, s): c.key() for s in grid.LEAKY_SEEDS for a, c in grid.hda_configs("cpu", small_corpus, seed=s).items()}
    for name, configs in points.items():
        recipe = grid.LEAKY_POINTS[name][1]
        for c in configs:
            if recipe == "the profile":
                assert c.experiment().key() == table_v[(c.augmentation, c.seed)], name
    study = grid.study_configs("cpu", small_corpus, seeds=grid.LEAKY_SEEDS)
    start = [c.key() for c in study["starting recipe"]]
    assert [c.experiment().key() for c in points["epoch picked on the test part"]] == start
    assert [c.experiment().key() for c in points["the four no-augmentation leaks together"]] == start
    three = [c.key() for c in study["the recipe in 15 epochs"]]  # the cpu profile with 3 s segments
    assert [c.experiment().key() for c in points["segments split into folds (3 s)"]] == three
    assert all(c.experiment().settings().segment_frames == 300 for c in points["segments split into folds (3 s)"])


def test_the_combined_point_opens_exactly_the_four_no_augmentation_leaks(small_corpus):
    from adcrnn_lib.chapters import budget
    from adcrnn_lib.experiments import grid

    leaks, recipe = grid.LEAKY_POINTS["the four no-augmentation leaks together"]
    assert set(leaks) == budget.FOUR_LEAKS == {"takes", "segments", "corpus_norm", "test_selection"}
    (config, *_) = grid.leaky_configs("cpu", small_corpus)["the four no-augmentation leaks together"]
    assert config.augmentation == "none" and config.settings().selection == "best" and config.settings().lr_schedule == "constant"
    assert all(c.augmentation == "none" for n, configs in grid.leaky_configs("cpu", small_corpus).items() for c in configs if n != "time-shift copies made before the split")
    three, recipe = grid.LEAKY_POINTS["the three leaks the profile can have open together"]
    assert set(three) == budget.FOUR_LEAKS - {"test_selection"} and grid.LEAKY_RECIPES[recipe] == {}


def test_test_selection_needs_a_rule_that_picks_an_epoch():
    with pytest.raises(ParameterError, match="picks no epoch"):
        LeakyConfig(("test_selection",), profile="cpu")  # the profile keeps the mean of its last epochs
    with pytest.raises(ParameterError, match="picks no epoch"):
        LeakyConfig(("takes", "test_selection"), profile="smoke", overrides={"selection": "last"})
    assert LeakyConfig(("test_selection",), profile="cpu", overrides={"selection": "best"}).settings().selection == "best"


def test_units_are_the_segments_honest_runs_cut():
    df = pd.DataFrame({"utterance": ["u1", "u2"], "speaker": ["03", "08"], "sentence": ["a01", "a01"], "emotion": pd.Categorical(["anger", "fear"])})
    feats = [np.arange(350, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32), np.ones((120, 2, 3), np.float32)]
    units, unit_feats = leaky_units(df, feats, length=300, hop=300)
    assert units["utterance"].tolist() == ["u1#0", "u1#1", "u2#0"]
    assert units["sentence"].tolist() == units["utterance"].tolist()  # each segment its own group
    assert units["emotion"].astype(str).tolist() == ["anger", "anger", "fear"]
    assert [f.shape[0] for f in unit_feats] == [300, 300, 120]
    assert unit_feats[1][0, 0, 0] == 50 and unit_feats[1][-1, 0, 0] == 349  # the second segment ends at the utterance's end
    assert np.array_equal(np.stack(unit_feats[:2]), segment(feats[0], length=300, hop=300))  # what an honest run cuts
    units, unit_feats = leaky_units(df, feats, length=100, hop=50)
    assert np.array_equal(np.stack(unit_feats[: len(segment(feats[0], length=100, hop=50))]), segment(feats[0], length=100, hop=50))


@pytest.fixture(scope="module")
def all_leaks(small_corpus, tmp_path_factory):
    """One smoke run with every leak open, spying on what the normalizer and the augmenter were given."""
    from adcrnn_lib import augment, features

    seen = {"fit": [], "augment": []}
    real_fit, real_augment = features.Normalizer.fit.__func__, augment.augment_training_set

    def fit(cls, feats, **kw):
        seen["fit"].append(len(feats))
        return real_fit(cls, feats, **kw)

    def spy(method, train, **kw):
        clips = real_augment(method, train, **kw)
        seen["augment"].append((method, set(train["utterance"]), clips))
        return clips

    config = LeakyConfig(tuple(leaky.LEAKS), profile="smoke", data_dir=str(small_corpus), overrides=SMOKE)
    results = tmp_path_factory.mktemp("leaky")
    with pytest.MonkeyPatch.context() as mp:  # the spies watch this run only
        mp.setattr(features.Normalizer, "fit", classmethod(fit))
        mp.setattr(augment, "augment_training_set", spy)
        result = run_leaky(config, results_dir=results, verify=False)
    return config, result, seen, results


def test_every_leak_opens_its_door(all_leaks, small_corpus):
    config, result, seen, results = all_leaks
    df = load_emodb(str(small_corpus), verify=False)
    units = {p["utterance"] for f in result.folds for p in f["predictions"]}
    # segments: the test units are segments, and some utterance has segments on both sides of a fold
    assert all(leaky.SEGMENT_MARK in u for u in units) and len(units) > len(df)
    source = lambda u: u.split(leaky.SEGMENT_MARK)[0]  # noqa: E731
    split = [{source(p["utterance"]) for p in f["predictions"]} & {source(u) for u in f["train_utterances"]} for f in result.folds]
    assert any(split)
    # test_selection: the test part takes the validation part's place in selection, every epoch a
    # candidate; the validation part (the record's val_utterances) stays out of training, as in the
    # honest twin, and is scored after every epoch
    for f in result.folds:
        tested = {p["utterance"] for p in f["predictions"]}
        assert f["val_utterances"] and not set(f["val_utterances"]) & (set(f["train_utterances"]) | tested)
        assert len(f["train_utterances"]) + len(tested) + len(f["val_utterances"]) == len(units)
        assert f["val"]["ua"] == pytest.approx(f["ua"]) and f["val"]["wa"] == pytest.approx(f["wa"])
        assert len(f["history"]["val_ua"]) == len(f["history"]["watch_ua"]) == SMOKE["epochs"]  # no early stop
        assert f["best_epoch"] == int(np.argmax(f["history"]["val_ua"])) + 1 and f["ua"] == pytest.approx(max(f["history"]["val_ua"]))
    saved = json.loads((result.run_dir / "config.json").read_text())["profile"]
    assert saved["selection"] == "best" and saved["patience"] == SMOKE["epochs"]
    gains = leaky.same_run_gain(result)
    assert len(gains) == len(result.folds) and np.all(gains >= -1) and np.all(np.isfinite(gains))
    # augment_before_split: one balancing, from the whole corpus; some clips come from a fold's test utterances
    ((method, made_from, clips),) = seen["augment"]
    assert method == "time_shift" and made_from == set(df["utterance"]) and clips
    assert all(f["n_generated"] == len(clips) for f in result.folds)
    tested = [{source(p["utterance"]) for p in f["predictions"]} for f in result.folds]
    assert any(set(c.sources) & t for c in clips for t in tested)
    # corpus_norm: every fit saw every unit and every clip
    assert seen["fit"] and set(seen["fit"]) == {len(units) + len(clips)}
    # it reads back like any run, from its own folder, which no honest run shares
    again = load_result(config, results_dir=results)
    assert [f["predictions"] for f in again.folds] == [f["predictions"] for f in result.folds]
    assert result.run_dir.parent.name == "leaky"


def test_takes_alone_splits_repeated_takes_that_honest_folds_keep_together(small_corpus, tmp_path):
    from adcrnn_lib.chapters import budget
    from adcrnn_lib.experiments.cv import CVResult

    from .helpers.runs import constructed_folds, constructed_records

    df = load_emodb(str(small_corpus), verify=False)
    ids = df["utterance"].to_numpy()
    groups = dict(zip(ids, take_groups(df)))
    assert len(set(groups.values())) < len(df), "the synthetic corpus needs repeated takes"
    n_splits = LeakyConfig(("takes",), profile="smoke").n_splits

    def split_takes(folds) -> int:
        """Repeated takes with one take in a fold's test part and another in its training or validation part."""
        return sum(len({groups[u] for u in test} & {groups[u] for u in rest}) for test, rest in folds)

    def positions(folds):
        return [(ids[f.test], ids[np.concatenate([f.train, f.val])]) for f in folds]

    ungrouped = df.assign(sentence=df["utterance"])
    assert all(split_takes(positions(make_folds(df, n_splits=n_splits, seed=s))) == 0 for s in range(10))
    seed = next(s for s in range(10) if split_takes(positions(make_folds(ungrouped, n_splits=n_splits, seed=s))) > 0)
    config = LeakyConfig(("takes",), profile="smoke", seed=seed, data_dir=str(small_corpus))
    assert config.experiment() == ExperimentConfig(profile="smoke", seed=seed, data_dir=str(small_corpus))
    result = run_leaky(config, results_dir=tmp_path, verify=False)
    ran = [([p["utterance"] for p in f["predictions"]], f["train_utterances"] + f["val_utterances"]) for f in result.folds]
    assert split_takes(ran) > 0 and split_takes(ran) == split_takes(positions(make_folds(ungrouped, n_splits=n_splits, seed=seed)))
    assert sorted(u for test, _ in ran for u in test) == sorted(ids)  # whole utterances, each tested once
    # its folds differ from the honest twin's, yet both test every utterance once: the table pairs them over utterances
    twin = config.experiment()
    honest = CVResult(twin, constructed_records(twin, constructed_folds(df, "paper", 0.5, seed=seed)), None)
    point = {"runs": [result], "twins": [honest], "source": "this build", "leaks": config.leaks, "recipe": "the profile", "augmentation": "none"}
    shown = budget.leaky_table({"takes": point})
    right = lambda r: [p["pred"] == p["true"] for f in r.folds for p in f["predictions"]]  # noqa: E731
    diff = 100 * (np.mean(right(result)) - np.mean(right(honest)))
    assert shown.loc["LEAKY: takes", "WA vs twin (points)"].startswith(f"{diff:+.1f} [")


def test_a_leak_on_the_honest_folds_trains_on_the_honest_run_s_parts(small_corpus, tmp_path):
    """The premise of pairing a leaky run with its honest twin: same test, training and validation utterances per fold."""
    config = LeakyConfig(("corpus_norm",), profile="smoke", data_dir=str(small_corpus))
    result = run_leaky(config, results_dir=tmp_path, verify=False)
    df = load_emodb(str(small_corpus), verify=False)
    ids = df["utterance"].to_numpy()
    for f, honest in zip(result.folds, make_folds(df, n_splits=config.n_splits, seed=config.seed)):
        assert [p["utterance"] for p in f["predictions"]] == ids[honest.test].tolist()
        assert f["train_utterances"] == ids[honest.train].tolist() and f["val_utterances"] == ids[honest.val].tolist()


def test_the_book_reads_leaky_points_from_the_reference_labelled_and_apart(small_corpus, tmp_path, monkeypatch, capsys):
    """A finished leaky run is copied to the reference, read back from there, paired with its honest
    twin over utterances, set against the paper's row of its own augmentation, and every row it
    makes in the chapter's table says LEAKY."""
    from adcrnn_lib import cli
    from adcrnn_lib.chapters import budget
    from adcrnn_lib.chapters.paper import TABLE_V, paper_label
    from adcrnn_lib.experiments import grid

    from .helpers.runs import constructed_folds, constructed_records, write_records

    table = load_emodb(str(small_corpus), verify=False)
    configs = grid.leaky_configs("smoke", str(small_corpus))
    leaks = configs["normalization from the whole corpus"]  # the honest folds: the same utterances on both sides
    honest = [c.experiment() for c in leaks]
    assert honest == [ExperimentConfig(profile="smoke", seed=c.seed, data_dir=str(small_corpus)) for c in leaks]  # Table V's own row
    results, reference, empty = tmp_path / "results", tmp_path / "reference", tmp_path / "empty"
    for leak, twin in zip(leaks, honest):
        write_records(constructed_records(leak, constructed_folds(table, "paper", 0.9, seed=leak.seed)), run_dir(leak, results))
        write_records(constructed_records(twin, constructed_folds(table, "paper", 0.5, seed=twin.seed)), run_dir(twin, results))

    written = grid.save_reference("smoke", str(small_corpus), results_dir=results, reference_dir=reference)
    assert all(run_dir(c, reference) in written for c in leaks + honest)
    assert not run_dir(configs["the four no-augmentation leaks together"][0], reference).exists()  # not run, not copied

    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    found = budget.load_leaky("smoke", str(small_corpus), results_dir=empty)
    assert found["normalization from the whole corpus"]["source"] == "reference" and found["normalization from the whole corpus"]["twins"]
    assert found["the four no-augmentation leaks together"]["runs"] is None and found["the four no-augmentation leaks together"]["source"] == "not run"
    shown = budget.leaky_table(found)
    assert list(shown.index) == [f"LEAKY: {n}" for n in grid.LEAKY_POINTS]
    row = shown.loc["LEAKY: normalization from the whole corpus"]
    right = lambda r: np.mean([p["pred"] == p["true"] for f in r.folds for p in f["predictions"]])  # noqa: E731
    runs = [load_result(c, results_dir=reference) for c in leaks]
    twins = [load_result(c, results_dir=reference) for c in honest]
    diff = 100 * np.mean([right(a) - right(b) for a, b in zip(runs, twins)])
    assert diff > 20 and row["WA vs twin (points)"].startswith(f"{diff:+.1f} [")
    assert row["twin WA (%)"] == f"{100 * np.mean([right(b) for b in twins]):.1f}"
    assert row["paper's row (%)"].startswith(paper_label(*TABLE_V["none"])) and row["reaches it"] == "yes"
    assert row["WA as scored (%)"] == row["WA (%)"]  # scored on utterances: nothing to pool

    # copies made before the split: the paper's time-shift row, and their own twin, the time-shift row, once it is run
    copies = configs["time-shift copies made before the split"]
    for c in copies:
        write_records(constructed_records(c, constructed_folds(table, "paper", 0.9, seed=c.seed)), run_dir(c, reference))
    name = "LEAKY: time-shift copies made before the split"
    row = budget.leaky_table(budget.load_leaky("smoke", str(small_corpus), results_dir=empty)).loc[name]
    assert row["twin WA (%)"] == "not run" and row["WA vs twin (points)"] == "-"
    assert row["paper's row (%)"].startswith(paper_label(*TABLE_V["time_shift"]))
    for c in copies:
        twin = c.experiment()
        assert twin.augmentation == "time_shift" and twin.settings() == honest[0].settings()
        write_records(constructed_records(twin, constructed_folds(table, "paper", 0.8, seed=c.seed)), run_dir(twin, empty))
    row = budget.leaky_table(budget.load_leaky("smoke", str(small_corpus), results_dir=empty)).loc[name]
    assert row["WA vs twin (points)"].startswith("+") and row["twin WA (%)"] != "not run"

    assert cli.main(["study", "--list"]) == 0
    assert "the four no-augmentation leaks together (--leaky): takes, segments, corpus_norm, test_selection" in capsys.readouterr().out
    assert cli.main(["study", "--profile", "smoke", "--leaky", "--points", "no such leak"]) == 2
    assert "unknown leaky point" in capsys.readouterr().err


def _segment_run(config, utterances, labels, probs_of_segment) -> "CVResult":
    """A two-fold run of ``config`` scored on two segments per utterance (``u#0`` in fold 0, ``u#1`` in
    fold 1), each segment's probabilities given by ``probs_of_segment(j, i, label)`` for segment ``j``
    of utterance ``i``; no training."""
    import time
    from unittest import mock

    from adcrnn_lib.experiments import cv

    records = []
    with mock.patch.object(cv, "provenance", lambda **kw: {"stub": True, **kw}):
        for j in (0, 1):
            ids = [f"{u}{leaky.SEGMENT_MARK}{j}" for u in utterances]
            probs = np.array([probs_of_segment(j, i, y) for i, y in enumerate(labels)])
            records.append(cv.fold_record(
                config, j, test_ids=ids, y_true=np.asarray(labels), probs=probs, train_ids=[f"{u}{leaky.SEGMENT_MARK}{1 - j}" for u in utterances],
                val_ids=[], n_generated=0, n_train_segments=0, best_epoch=1, val={}, history={"loss": [], "val_wa": [], "val_ua": []},
                started=time.perf_counter(), profile="smoke", data_dir=None,
            ))
    return cv.CVResult(config, records, None)


def _probs(label: int, weights: dict[int, float]) -> list[float]:
    """Seven probabilities for an item of class ``label``: ``weights`` (class -> probability) and the rest shared evenly."""
    rest = (1 - sum(weights.values())) / (7 - len(weights))
    return [weights.get(c, rest) for c in range(7)]


def test_a_segment_scored_row_also_carries_its_utterance_score():
    """Segment 0 of every utterance is right (0.7), segment 1 says the next class (0.4 against 0.3 for
    the right one): half the segments are right, and every utterance, pooled, is right."""
    from adcrnn_lib.chapters import budget

    config = LeakyConfig(("segments",), profile="smoke")
    utterances, labels = [f"u{i}" for i in range(14)], [i % 7 for i in range(14)]
    run = _segment_run(config, utterances, labels, lambda j, i, y: _probs(y, {y: 0.7}) if j == 0 else _probs(y, {(y + 1) % 7: 0.4, y: 0.3}))
    pooled = leaky.utterance_predictions(run)
    assert list(pooled.index) == sorted(utterances) and (pooled["pred"] == pooled["true"]).all()
    assert leaky.utterance_scores([run]) == {"wa": 1.0, "ua": 1.0}
    twin = _segment_run(config, utterances, labels, lambda j, i, y: _probs(y, {(y + 1) % 7: 0.7}))  # every segment wrong
    point = {"runs": [run], "twins": [twin], "source": "this build", "leaks": config.leaks, "recipe": "the profile", "augmentation": "none"}
    row = budget.leaky_table({"segments": point}).loc["LEAKY: segments"]
    assert row["WA as scored (%)"] == "50.0 (segments)" and row["WA (%)"] == "100.0" and row["UA (%)"] == "100.0"
    assert row["twin WA (%)"] == "0.0" and row["WA vs twin (points)"].startswith("+100.0 [")
    # the comparison is directed: B less A
    c = leaky.compare_by_utterance([run], [twin])["wa"]
    assert c["diff"] == pytest.approx(-1.0) and c["ci_high"] == pytest.approx(-1.0)
    with pytest.raises(ParameterError, match="different utterances"):
        leaky.compare_by_utterance([run], [_segment_run(config, utterances[:7], labels[:7], lambda j, i, y: _probs(y, {y: 0.7}))])
    with pytest.raises(ParameterError, match="seed by seed"):
        leaky.compare_by_utterance([run, run], [twin])


def test_each_leaky_row_is_held_against_the_paper_row_of_its_own_augmentation():
    """A no-augmentation leak faces the paper's no-augmentation row, the copies made before the split
    its time-shift row: the same WA can reach one bar and miss the other."""
    from adcrnn_lib.chapters import budget
    from adcrnn_lib.chapters.paper import TABLE_V

    none_bar, shift_bar = (TABLE_V[a][0] - TABLE_V[a][1] for a in ("none", "time_shift"))
    assert budget.paper_bar("none") == pytest.approx(none_bar) == pytest.approx(budget.PAPER_BAR) and budget.paper_bar("time_shift") == pytest.approx(shift_bar)
    assert none_bar < shift_bar
    config = LeakyConfig(("segments",), profile="smoke")
    utterances, labels = [f"u{i:03d}" for i in range(1000)], [i % 7 for i in range(1000)]
    n_right = int(np.ceil((none_bar + shift_bar) / 2 * 10))  # out of 1000: between the two bars
    run = _segment_run(config, utterances, labels, lambda j, i, y: _probs(y, {y if i < n_right else (y + 1) % 7: 0.7}))
    point = {"runs": [run], "twins": None, "source": "reference", "leaks": ("segments",), "recipe": "the profile"}
    summary = budget.leaky_summary({"a": {**point, "augmentation": "none"}, "b": {**point, "leaks": ("augment_before_split",), "augmentation": "time_shift"}})
    assert summary["a"]["wa"] == pytest.approx(n_right / 10) and summary["a"]["paper"] == TABLE_V["none"] and summary["a"]["reaches"]
    assert summary["b"]["paper"] == TABLE_V["time_shift"] and not summary["b"]["reaches"]
    facts = budget.leaky_facts({"a": {**point, "augmentation": "none"}, "b": {**point, "leaks": ("augment_before_split",), "augmentation": "time_shift"}}, summary)
    assert facts["leaky_reach"] == f"a ({n_right / 10:.1f} %)" and facts["leaky_top"] == "a" and facts["leaky_shift_wa"] == f"{n_right / 10:.1f}"
    assert facts["leaky_four_wa"] == "(not run)" and facts["leaky_top_diff"] == "(its honest twin is not run)"


def test_leaks_reaching_the_paper_are_those_within_its_std_best_first():
    from adcrnn_lib.chapters import budget
    from adcrnn_lib.chapters.paper import TABLE_V

    mean, std = TABLE_V["none"]
    assert budget.PAPER_BAR == pytest.approx(mean - std)
    wa = {"a": mean - std - 0.01, "b": mean - std, "c": mean + 5}
    assert budget.leaks_reaching_the_paper(wa) == f"c ({mean + 5:.1f} %), b ({mean - std:.1f} %)"
    assert budget.leaks_reaching_the_paper({"a": 50.0}) == "none of them"


def test_the_validation_pick_replays_the_early_stop_and_the_gain_is_the_leak_alone():
    """validation_pick keeps the first best epoch and stops after ``patience`` epochs without a better
    one, as training does; same_run_gain is the test score at the kept epoch less the test score at
    the epoch that rule picks on the validation part, in the same run."""
    from adcrnn_lib.experiments.cv import CVResult

    assert leaky.validation_pick([0.2, 0.5, 0.5, 0.4, 0.9], patience=2) == 2  # stopped before 0.9
    assert leaky.validation_pick([0.2, 0.5, 0.5, 0.4, 0.9], patience=3) == 5
    assert leaky.validation_pick([0.3], patience=1) == 1
    with pytest.raises(ParameterError):
        leaky.validation_pick([], patience=1)
    config = LeakyConfig(("test_selection",), profile="smoke", overrides={"epochs": 4, "patience": 2})
    test_wa, val_ua = [0.3, 0.6, 0.5, 0.9], [0.4, 0.7, 0.6, 0.65]  # the validation part keeps epoch 2; the test part epoch 4
    fold = {"fold": 0, "wa": 0.9, "ua": 0.9, "history": {"val_wa": test_wa, "val_ua": test_wa, "watch_ua": val_ua, "watch_wa": val_ua}}
    assert leaky.same_run_gain(CVResult(config, [fold], None)) == pytest.approx([0.9 - 0.6])
    with pytest.raises(ParameterError, match="no validation scores"):
        leaky.same_run_gain(CVResult(config, [{**fold, "history": {"val_wa": test_wa, "val_ua": test_wa}}], None))
    with pytest.raises(ParameterError, match="does not pick"):
        leaky.same_run_gain(CVResult(LeakyConfig(("takes",), profile="smoke"), [fold], None))


def test_find_run_reads_a_reference_run_scored_on_segments_of_this_corpus(small_corpus, tmp_path, monkeypatch):
    """The corpus check of grid.find_run compares utterances, not segment ids (``u#0``): a segments
    leak's reference run of this corpus is read; one of another corpus is not."""
    from adcrnn_lib.experiments import grid

    from .helpers.audio import make_corpus
    from .helpers.runs import write_records

    reference = tmp_path / "reference"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    config = LeakyConfig(("segments",), profile="smoke", data_dir=str(small_corpus))
    table = load_emodb(small_corpus, verify=False)
    run = _segment_run(config, table["utterance"].tolist(), table["emotion"].cat.codes.tolist(), lambda j, i, y: _probs(y, {y: 0.7}))
    write_records(run.folds, run_dir(config, reference))
    found, where = grid.find_run(config, results_dir=tmp_path / "empty")
    assert where == "reference" and len(found.folds) == 2
    other = make_corpus(tmp_path / "other" / "wav", speakers=["10", "11", "12"])
    assert grid.find_run(LeakyConfig(("segments",), profile="smoke", data_dir=str(other)), results_dir=tmp_path / "empty") == (None, None)
