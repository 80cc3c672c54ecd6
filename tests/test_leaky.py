"""The leaky protocols (adcrnn_lib.leaky): each leak opens exactly the door it names, and nothing honest reads them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib import leaky
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.cv import load_result, run_dir
from adcrnn_lib.data import load_emodb, make_folds, take_groups
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.features import segment
from adcrnn_lib.leaky import LeakyConfig, leaky_units, run_leaky

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
    """The time-shift point's twin is no study point, so the study's run list (what the reference
    copies and the chapter reads) names it; the no-augmentation twins are the recipe's own runs."""
    from adcrnn_lib import grid

    runs = grid._study_runs("cpu", small_corpus)
    keys = {c.key() for c in runs}
    twins = [c.experiment() for configs in grid.leaky_configs("cpu", small_corpus).values() for c in configs]
    assert twins and all(t.key() in keys for t in twins)
    assert {t.augmentation for t in twins} == {"none", "time_shift"} and len(keys) == len(runs)
    recipe = {c.key() for c in grid.study_configs("cpu", small_corpus, levers={"r": grid.CPU_RECIPE})["r"]}
    assert {t.key() for t in twins if t.augmentation == "none"} <= recipe


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
    # test_selection: no validation part, the kept epoch is the best on the test part, and its score is the test score
    for f in result.folds:
        assert f["val_utterances"] == [] and f["val"]["ua"] == pytest.approx(f["ua"]) and f["val"]["wa"] == pytest.approx(f["wa"])
        assert len(f["history"]["val_ua"]) == SMOKE["epochs"] and f["best_epoch"] == int(np.argmax(f["history"]["val_ua"])) + 1
        assert f["ua"] == pytest.approx(max(f["history"]["val_ua"]))
    saved = json.loads((result.run_dir / "config.json").read_text())["profile"]
    assert saved["selection"] == "best" and saved["patience"] == SMOKE["epochs"]  # whatever the profile's rule: no early stop
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
    from adcrnn_lib import study
    from adcrnn_lib.cv import CVResult

    from .conftest import constructed_folds, constructed_records

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
    # its folds differ from the honest twin's, so the chapter's table does not pair them
    twin = config.experiment()
    honest = CVResult(twin, constructed_records(twin, constructed_folds(df, "paper", 0.5, seed=seed)), None)
    shown = study.leaky_table({"takes": {"runs": [result], "source": "this build", "leaks": config.leaks}}, [honest])
    assert shown.loc["LEAKY: takes", "WA vs its honest twin (points)"].endswith("(not paired: other folds)")


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
    twin, and every row it makes in the chapter's table says LEAKY."""
    from adcrnn_lib import cli, grid, study

    from .conftest import constructed_folds, constructed_records, write_records

    table = load_emodb(str(small_corpus), verify=False)
    configs = grid.leaky_configs("smoke", str(small_corpus))
    leak = configs["normalization from the whole corpus"][0]  # the honest folds: pairs with an honest run
    honest = grid.study_configs("smoke", str(small_corpus), seeds=(0,), levers={"x": grid.CPU_RECIPE})["x"][0]
    assert leak.experiment() == honest
    results, reference = tmp_path / "results", tmp_path / "reference"
    write_records(constructed_records(leak, constructed_folds(table, "paper", 0.9)), run_dir(leak, results))
    write_records(constructed_records(honest, constructed_folds(table, "paper", 0.5)), run_dir(honest, results))

    written = grid.save_reference("smoke", str(small_corpus), results_dir=results, reference_dir=reference)
    assert run_dir(leak, reference) in written and run_dir(honest, reference) in written
    assert not run_dir(configs["all leaks together"][0], reference).exists()  # not run, not copied

    monkeypatch.setattr(grid, "reference_root", lambda: reference)
    found = study.load_leaky("smoke", str(small_corpus), results_dir=tmp_path / "empty")
    assert found["normalization from the whole corpus"]["source"] == "reference"
    assert found["all leaks together"]["runs"] is None and found["all leaks together"]["source"] == "not run"
    shown = study.leaky_table(found, [load_result(honest, results_dir=reference)])
    leaky_rows = [i for i in shown.index if i.startswith("LEAKY")]
    assert len(leaky_rows) == len(grid.LEAKY_POINTS) and shown.index[0].startswith("honest") and shown.index[-1] == "the paper, no augmentation"
    row = shown.loc["LEAKY: normalization from the whole corpus"]
    diff = load_result(leak, results_dir=reference).summary()["wa"]["mean"] - load_result(honest, results_dir=reference).summary()["wa"]["mean"]
    assert diff > 0.2 and row["WA vs its honest twin (points)"].startswith(f"{100 * diff:+.1f} [") and row["honest twin"] == "no augmentation"
    assert "(paper)" in shown.loc["the paper, no augmentation", "WA (%)"]
    # copies made before the split are compared with their own twin, the time-shift row, once it is run
    copies = configs["time-shift copies made before the split"][0]
    write_records(constructed_records(copies, constructed_folds(table, "paper", 0.9)), run_dir(copies, reference))
    found = study.load_leaky("smoke", str(small_corpus), results_dir=tmp_path / "empty")
    name = "LEAKY: time-shift copies made before the split"
    fallback = study.leaky_table(found, [load_result(honest, results_dir=reference)]).loc[name]
    assert fallback["honest twin"] == "no augmentation (time shift not run)" and fallback["WA vs its honest twin (points)"].startswith("+")
    assert study.leaky_table(found, []).loc[name, "WA vs its honest twin (points)"] == "its honest twin is not run"
    twin = copies.experiment()
    assert twin.augmentation == "time_shift" and twin.settings() == honest.settings()
    write_records(constructed_records(twin, constructed_folds(table, "paper", 0.8)), run_dir(twin, tmp_path / "empty"))
    row = study.leaky_table(found, [load_result(honest, results_dir=reference)], results_dir=tmp_path / "empty").loc[name]
    assert row["honest twin"] == "time shift" and row["WA vs its honest twin (points)"].startswith("+")

    assert cli.main(["study", "--list"]) == 0
    assert "all leaks together (--leaky)" in capsys.readouterr().out
    assert cli.main(["study", "--profile", "smoke", "--leaky", "--points", "no such leak"]) == 2
    assert "unknown leaky point" in capsys.readouterr().err


def test_leaks_reaching_the_paper_are_those_within_its_std_best_first():
    from adcrnn_lib import study
    from adcrnn_lib.paper import TABLE_V

    mean, std = TABLE_V["none"]
    assert study.PAPER_BAR == pytest.approx(mean - std)
    wa = {"a": mean - std - 0.01, "b": mean - std, "c": mean + 5}
    assert study.leaks_reaching_the_paper(wa) == f"c ({mean + 5:.1f} %), b ({mean - std:.1f} %)"
    assert study.leaks_reaching_the_paper({"a": 50.0}) == "none of them"
