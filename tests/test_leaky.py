"""The leaky protocols (adcrnn_lib.leaky): each leak opens exactly the door it names, and nothing honest reads them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib import leaky
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.cv import load_result, run_dir
from adcrnn_lib.data import load_emodb, make_folds, take_groups
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.leaky import LeakyConfig, leaky_units, run_leaky

#: Short segments, so the synthetic utterances (0.5-1.2 s) have several; 2 epochs, so selection has a choice.
SMOKE = {"segment_frames": 40, "segment_hop": 20, "epochs": 2}


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


def test_units_are_the_segments_honest_runs_cut():
    df = pd.DataFrame({"utterance": ["u1", "u2"], "speaker": ["03", "08"], "sentence": ["a01", "a01"], "emotion": pd.Categorical(["anger", "fear"])})
    feats = [np.arange(350, dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32), np.ones((120, 2, 3), np.float32)]
    units, unit_feats = leaky_units(df, feats, length=300, hop=300)
    assert units["utterance"].tolist() == ["u1#0", "u1#1", "u2#0"]
    assert units["sentence"].tolist() == units["utterance"].tolist()  # each segment its own group
    assert units["emotion"].astype(str).tolist() == ["anger", "anger", "fear"]
    assert [f.shape[0] for f in unit_feats] == [300, 300, 120]
    assert unit_feats[1][0, 0, 0] == 50 and unit_feats[1][-1, 0, 0] == 349  # the second segment ends at the utterance's end


@pytest.fixture(scope="module")
def all_leaks(small_corpus, tmp_path_factory, monkeypatch_module):
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

    monkeypatch_module.setattr(features.Normalizer, "fit", classmethod(fit))
    monkeypatch_module.setattr(augment, "augment_training_set", spy)
    config = LeakyConfig(tuple(leaky.LEAKS), profile="smoke", data_dir=str(small_corpus), overrides=SMOKE)
    results = tmp_path_factory.mktemp("leaky")
    return config, run_leaky(config, results_dir=results, verify=False), seen, results


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_every_leak_opens_its_door(all_leaks, small_corpus):
    config, result, seen, results = all_leaks
    df = load_emodb(str(small_corpus), verify=False)
    units = {p["utterance"] for f in result.folds for p in f["predictions"]}
    # segments: the test units are segments, and some utterance has segments on both sides of a fold
    assert all(leaky.SEGMENT_MARK in u for u in units) and len(units) > len(df)
    source = lambda u: u.split(leaky.SEGMENT_MARK)[0]  # noqa: E731
    split = [{source(p["utterance"]) for p in f["predictions"]} & {source(u) for u in f["train_utterances"]} for f in result.folds]
    assert any(split)
    # test_selection: no validation part, and the kept epoch's selection score is the test score itself
    for f in result.folds:
        assert f["val_utterances"] == [] and f["val"]["ua"] == pytest.approx(f["ua"]) and f["val"]["wa"] == pytest.approx(f["wa"])
        assert len(f["history"]["val_ua"]) == SMOKE["epochs"]  # no early stop: the best of all epochs
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
    df = load_emodb(str(small_corpus), verify=False)
    ids = df["utterance"].to_numpy()
    groups = dict(zip(ids, take_groups(df)))
    assert len(set(groups.values())) < len(df), "the synthetic corpus needs repeated takes"

    def split_takes(folds) -> int:
        """Repeated takes with one take in a fold's test part and another in its training or validation part."""
        return sum(len({groups[u] for u in test} & {groups[u] for u in rest}) for test, rest in folds)

    def positions(folds):
        return [(ids[f.test], ids[np.concatenate([f.train, f.val])]) for f in folds]

    ungrouped = df.assign(sentence=df["utterance"])
    assert all(split_takes(positions(make_folds(df, n_splits=2, seed=s))) == 0 for s in range(4))
    assert max(split_takes(positions(make_folds(ungrouped, n_splits=2, seed=s))) for s in range(4)) > 0

    config = LeakyConfig(("takes",), profile="smoke", seed=0, data_dir=str(small_corpus))
    assert config.experiment() == ExperimentConfig(profile="smoke", data_dir=str(small_corpus))
    result = run_leaky(config, results_dir=tmp_path, verify=False)
    ran = [([p["utterance"] for p in f["predictions"]], f["train_utterances"] + f["val_utterances"]) for f in result.folds]
    assert split_takes(ran) == split_takes(positions(make_folds(ungrouped, n_splits=2, seed=0)))
    assert sorted(u for test, _ in ran for u in test) == sorted(ids)  # whole utterances, each tested once


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
    assert diff > 0.2 and row["WA vs honest (points)"].startswith(f"{100 * diff:+.1f} [")
    assert "(paper)" in shown.loc["the paper, no augmentation", "WA (%)"]

    assert cli.main(["study", "--list"]) == 0
    assert "all leaks together (--leaky)" in capsys.readouterr().out
    assert cli.main(["study", "--profile", "smoke", "--leaky", "--points", "no such leak"]) == 2
    assert "unknown leaky point" in capsys.readouterr().err
