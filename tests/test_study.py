"""The training-budget study: study points as overridden runs, the calibration model, the chapter's table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from adcrnn_lib.chapters import budget
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.experiments import grid
from adcrnn_lib.experiments.cv import CVResult, compare, load_result, load_run_folder, run_cv
from adcrnn_lib.experiments.results import reference_root
from adcrnn_lib.experiments.timnet import TimNetConfig, build_timnet, run_timnet

from .helpers.runs import constructed_folds, constructed_records, constructed_run

LEVERS = {"starting recipe": {}, "1 s segments": {"segment_frames": 100, "segment_hop": 50}}


def _constructed_run(config, corpus, results, accuracy: float = 0.5):
    """A finished run of ``config`` written from constructed predictions (:func:`~tests.helpers.runs.constructed_run`), read like a trained one."""
    from adcrnn_lib import data

    constructed_run(config, data.load_emodb(corpus, verify=False), results, accuracy)
    return load_result(config, results_dir=results)


@pytest.fixture(scope="module")
def smoke_study(small_corpus, paper_run, tmp_path_factory):
    """Two study points of the smoke profile, two seeds, on the small synthetic corpus.

    The profile's own point at seed 0 is the session's sequential paper run (copied in, so it is
    read, not trained again); its seed 1 and the 1 s point's seed 0 are trained; the 1 s point's
    seed 1 is constructed (:func:`_constructed_run`): the tests that read it check how seeds and
    folds pair and how the table summarizes them, which needs its folds, not its training."""
    import shutil

    from adcrnn_lib.experiments.results import run_dir

    results = tmp_path_factory.mktemp("study-results")
    configs = grid.study_configs("smoke", str(small_corpus), seeds=(0, 1), levers=LEVERS)
    assert configs["starting recipe"][0] == paper_run.config
    shutil.copytree(paper_run.run_dir, run_dir(paper_run.config, results))
    runs = {
        name: [
            _constructed_run(c, small_corpus, results) if (name, c.seed) == ("1 s segments", 1) else run_cv(c, results_dir=results, verify=False, progress=False)
            for c in cs
        ]
        for name, cs in configs.items()
    }
    return results, configs, runs


def test_a_study_point_trains_with_its_overrides(smoke_study):
    _, configs, runs = smoke_study
    base, short = runs["starting recipe"][0], runs["1 s segments"][0]
    assert configs["1 s segments"][0].key() != configs["starting recipe"][0].key()
    # the same utterances, cut into more segments: 100-frame segments with starts at most 50 apart
    for fb, fs in zip(base.folds, short.folds):
        assert fs["n_train_utterances"] == fb["n_train_utterances"]
        assert fs["n_train_segments"] > fb["n_train_segments"]
        assert fs["config"]["overrides"] == {"segment_frames": 100, "segment_hop": 50}


def test_seeds_draw_their_own_folds_and_compare_pairs_seeds_by_folds(smoke_study):
    _, _, runs = smoke_study
    a, b = runs["starting recipe"], runs["1 s segments"]
    assert [p["utterance"] for p in a[0].folds[0]["predictions"]] != [p["utterance"] for p in a[1].folds[0]["predictions"]]
    pooled = compare(a, b)
    folds_a = [f["ua"] for r in a for f in r.folds]
    folds_b = [f["ua"] for r in b for f in r.folds]
    assert pooled["ua"]["diff"] == pytest.approx(np.mean(np.subtract(folds_b, folds_a)))
    with pytest.raises(ParameterError, match="different utterances"):
        compare([a[0], a[1]], [b[1], b[0]])  # seeds out of order do not pair


def test_study_table_reads_runs_and_marks_missing_points(smoke_study, monkeypatch, tmp_path):
    results, _, runs = smoke_study
    monkeypatch.setattr(grid, "STUDY_LEVERS", {**LEVERS, "never run": {"epochs": 2}})
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(tmp_path / "no-reference"))
    found = budget.load_study("smoke", None, seeds=(0, 1), results_dir=results, timnet=False)
    assert found["never run"]["runs"] is None and found["never run"]["source"] == "not run"
    assert found["starting recipe"]["source"] == "this build"
    table = budget.study_table(found)
    assert table.loc["never run", "read from"] == "not run"
    ua = [f["ua"] for r in runs["1 s segments"] for f in r.folds]
    assert table.loc["1 s segments", "UA (%)"] == f"{100 * np.mean(ua):.1f} ± {100 * np.std(ua, ddof=1):.1f}"
    seed_means = [np.mean([f["ua"] for f in r.folds]) for r in runs["1 s segments"]]
    assert table.loc["1 s segments", "UA seed spread"] == f"{100 * np.std(seed_means, ddof=1):.1f}"
    assert table.loc["1 s segments", "UA vs starting recipe (points)"].startswith(f"{100 * (np.mean(ua) - np.mean([f['ua'] for r in runs['starting recipe'] for f in r.folds])):+.1f}")


def test_loso_tradeoff_pairs_the_profile_with_the_recipe_speaker_by_speaker(small_corpus, tmp_path):
    """Constructed leave-one-speaker-out runs: the recipe right on half of each class, the profile on 80 %."""
    from adcrnn_lib import data

    runs = {
        name: _constructed_run(ExperimentConfig(profile="smoke", protocol="loso", data_dir=str(small_corpus), overrides=overrides), small_corpus, tmp_path, accuracy)
        for name, accuracy, overrides in (("recipe", 0.5, {"epochs": 2}), ("profile", 0.8, {}))
    }
    ua = {name: [f["ua"] for f in r.folds] for name, r in runs.items()}
    assert len(ua["profile"]) == data.load_emodb(small_corpus, verify=False)["speaker"].nunique() and np.mean(ua["profile"]) > np.mean(ua["recipe"])
    facts = budget._loso_tradeoff(runs["profile"], runs["recipe"])
    assert facts["loso_profile_ua"] == f"{100 * np.mean(ua['profile']):.1f}" and facts["loso_chosen_ua"] == f"{100 * np.mean(ua['recipe']):.1f}"
    assert facts["loso_diff"] == f"{100 * np.mean(np.subtract(ua['profile'], ua['recipe'])):+.1f}" and facts["loso_diff"].startswith("+")
    low, high = (float(x) for x in facts["loso_ci"].strip("[]").split(","))
    assert 0 < low <= high
    assert set(budget._loso_tradeoff(None, runs["recipe"]).values()) == {"(not run)"} == set(budget._loso_tradeoff(runs["profile"], None).values())


def test_run_study_refuses_unknown_points():
    with pytest.raises(ParameterError, match="unknown study point"):
        grid.run_study("smoke", names=["no such lever"])


def test_timnet_network_shapes():
    model = build_timnet((60, 39), 7, dilations=2)
    assert model.output_shape == (None, 7)
    x = np.random.default_rng(0).standard_normal((2, 60, 39)).astype("float32")
    # the backward path reads the sequence reversed, so the output depends on the order of frames
    assert not np.allclose(model.predict_on_batch(x), model.predict_on_batch(x[:, ::-1]))


def test_timnet_runs_in_our_folds_and_resumes(small_corpus, tmp_path):
    config = TimNetConfig(epochs=2, n_splits=2, dilations=2, data_dir=str(small_corpus))
    result = run_timnet(config, results_dir=tmp_path, verify=False, progress=False)
    assert len(result.folds) == 2
    assert result.run_dir.parent.name == "timnet"
    for f in result.folds:
        assert f["best_epoch"] == 2 and len(f["history"]["val_ua"]) == 2  # "last": every epoch, the last kept
        assert f["config_key"] == config.key()
    again = load_result(config, results_dir=tmp_path)
    assert [f["predictions"] for f in again.folds] == [f["predictions"] for f in result.folds]
    # the chapter's sentence about the calibration row: our numbers when it ran, else that it has none
    assert "no result" in budget._timnet_status({0: None, 1: None}) and "500 epochs" in budget._timnet_status({})
    other_seed = CVResult(dataclasses.replace(config, seed=5), result.folds, None)
    said = budget._timnet_status({0: result, 1: None}, {"itself": [result], "a run of another seed": [other_seed]})
    assert f"{100 * np.mean([f['wa'] for f in result.folds]):.1f} % WA" in said and "over 1 seed (0) x 2 folds" in said
    assert "90.28 % WA" in said  # the authors' number, labelled as theirs
    assert "+0.0 UA points against itself [+0.0, +0.0]" in said and "another seed" not in said  # paired by seed only
    assert said.endswith("Seed 1 not trained yet: one seed is an anecdote.")
    both = budget._timnet_status({0: result, 5: other_seed})
    seed_ua = f"{100 * np.mean([f['ua'] for f in result.folds]):.1f}"
    assert f"over 2 seeds (0, 5; seed means {seed_ua} and {seed_ua} % UA) x 2 folds" in both and "not trained" not in both
    assert budget._timnet_status({0: result}).endswith("x 2 folds (its authors report 90.28 % WA and 89.19 % UA on EmoDB in random 10-fold).")
    with pytest.raises(ParameterError, match="selection='median'"):
        TimNetConfig(selection="median")
    with pytest.raises(ParameterError, match="run_timnet needs a TimNetConfig"):
        run_timnet(ExperimentConfig(profile="smoke"))


def test_retrain_check_trains_the_fold_again_and_reproduces_it_on_this_machine(smoke_study, small_corpus, tmp_path, monkeypatch):
    results, _, _ = smoke_study
    # the smoke study's seed-0 "starting recipe" point is Table V's none run of the smoke profile: use it as the reference
    config = grid.hda_configs("smoke", str(small_corpus))["none"]
    assert (results / "smoke" / config.key() / "fold-0.json").is_file()
    calls = []
    from adcrnn_lib.experiments import cv

    original = cv.run_fold
    monkeypatch.setattr(cv, "run_fold", lambda *a, **k: calls.append(1) or original(*a, **k))
    check = grid.retrain_check("smoke", str(small_corpus), results_dir=tmp_path, reference_dir=results, verify=False)
    assert calls == [1]  # trained, not read from the reference's cache
    assert (tmp_path / grid.RETRAIN_DIR / "smoke" / config.key() / "fold-0.json").is_file()
    assert check["same_predictions"] == 1.0 and check["max_prob_diff"] < 1e-5
    assert check["ua_retrain"] == check["ua_reference"] and check["cpu_retrain"] == check["cpu_reference"]
    again = grid.retrain_check("smoke", str(small_corpus), results_dir=tmp_path, reference_dir=results, verify=False)
    assert calls == [1] and again == check  # the retrained fold is kept, not trained at every build
    assert grid.retrain_check("smoke", str(small_corpus), results_dir=tmp_path, reference_dir=tmp_path / "empty", verify=False) is None


def test_cli_study_list_and_cv_set(capsys):
    from adcrnn_lib import cli

    assert cli.main(["study", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in grid.STUDY_LEVERS)
    assert cli._overrides(["epochs=30", "selection=last", "bn_momentum=0.9"]) == {"epochs": 30, "selection": "last", "bn_momentum": 0.9}
    assert cli.main(["cv", "--profile", "smoke", "--set", "epochs=abc"]) == 2
    assert "epochs='abc'; must be an integer >= 1" in capsys.readouterr().err
    assert cli.main(["cv", "--profile", "smoke", "--set", "warmup"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err
    assert cli.main(["study", "--profile", "smoke", "--points", "no such lever"]) == 2
    assert "unknown study point" in capsys.readouterr().err


def test_save_reference_keeps_finished_study_runs(smoke_study, small_corpus, tmp_path, monkeypatch):
    results, configs, _ = smoke_study
    monkeypatch.setattr(grid, "STUDY_LEVERS", LEVERS)  # the study these runs are the points of
    written = grid.save_reference("smoke", str(small_corpus), results_dir=results, reference_dir=tmp_path)
    from adcrnn_lib.experiments.results import run_dir

    for cs in configs.values():
        for c in cs:
            assert run_dir(c, tmp_path) in written
            assert sorted(p.name for p in run_dir(c, tmp_path).glob("fold-*.json")) == ["fold-0.json", "fold-1.json"]
    never = grid.study_configs("smoke", str(small_corpus), levers={"w": {"weight_decay": 0.05}})["w"][0]
    assert not run_dir(never, tmp_path).exists()  # not run, so not copied


def test_variants_of_the_recipe_pair_with_the_recipe_not_the_starting_point(small_corpus):
    from adcrnn_lib.data import load_emodb
    from adcrnn_lib.experiments.cv import CVResult

    table = load_emodb(str(small_corpus), verify=False)

    def runs(overrides, accuracy):
        out = []
        for s in (0, 1):
            config = ExperimentConfig(profile="smoke", seed=s, data_dir=str(small_corpus), overrides=overrides)
            out.append(CVResult(config, constructed_records(config, constructed_folds(table, "paper", accuracy, seed=s)), None))
        return out

    variant = "the recipe in 15 epochs"
    found = {
        budget.BASE_POINT: {"runs": runs(grid.STUDY_START, 0.2), "source": "reference", "overrides": dict(grid.STUDY_START)},
        budget.CHOSEN_POINT: {"runs": runs(grid.CPU_RECIPE, 0.5), "source": "reference", "overrides": dict(grid.CPU_RECIPE)},
        variant: {"runs": runs(grid.RECIPE_VARIANTS[variant], 0.8), "source": "this build", "overrides": grid.RECIPE_VARIANTS[variant]},
        budget.PROFILE_POINT: {"runs": None, "source": "not run", "overrides": grid.RECIPE_VARIANTS[budget.PROFILE_POINT]},
    }
    assert budget.is_variant(variant) and not budget.is_variant(budget.CHOSEN_POINT) and not budget.is_variant("mean of last 5 epochs")
    shown = budget.variants_table(found)
    assert list(shown.index) == [variant, budget.PROFILE_POINT]
    assert shown.loc[variant, "changes from the recipe"] == "epochs=15"
    c = compare(found[budget.CHOSEN_POINT]["runs"], found[variant]["runs"])["wa"]
    assert c["diff"] > 0.2 and shown.loc[variant, "WA vs the recipe (points)"].startswith(f"{100 * c['diff']:+.1f} [")
    assert shown.loc[budget.PROFILE_POINT, "read from"] == "not run"


def test_frontier_groups_the_points_and_names_the_ones_that_matter(small_corpus, tmp_path):
    """The cpu study's 21 points in a legend of one entry per kind of point (and the baseline), at
    most 8; the points that matter named beside their bars; time on a log scale."""
    import matplotlib.pyplot as plt

    run = _constructed_run(ExperimentConfig(profile="smoke", seed=0, data_dir=str(small_corpus)), small_corpus, tmp_path)
    names = [budget.BASE_POINT, *(f"lever {i}" for i in range(12)), budget.CHOSEN_POINT, budget.PROFILE_POINT, budget.TIMNET_POINT, budget.BUGGY_POINT]
    points = {n: {"runs": [run]} for n in names} | {"not run": {"runs": None}}
    fig = budget.plot_frontier(points, baseline=run, baseline_label="baseline")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert len(labels) <= 8 and set(labels) == {*budget.FRONTIER_GROUPS, "baseline"}
    named = budget.frontier_labels(points)
    assert set(named) == {budget.BASE_POINT, budget.CHOSEN_POINT, budget.PROFILE_POINT, budget.TIMNET_POINT, "lever 0", "lever 1"}
    assert {t.get_text() for t in ax.texts} == set(named.values()) and ax.get_xscale() == "log"
    plt.close(fig)
    from adcrnn_lib.chapters.plots import plot_training_curves

    fig = plot_training_curves({f"point {i}": run for i in range(21)})
    lines = fig.axes[1].get_lines()
    assert len(lines) == 21 and len({(ln.get_color(), ln.get_linestyle()) for ln in lines}) == 21
    plt.close(fig)


# ------------------------------------------------------------------------------------------
# the chapter's facts from constructed runs with known answers (no training)
# ------------------------------------------------------------------------------------------
#: Accuracy of the constructed runs: name -> share right of each class's test utterances.
ACCURACY = {  # far apart: a fold holds only a few utterances of each class
    budget.BASE_POINT: 0.2,
    "cosine schedule": 0.35,
    "last epoch": 0.6,
    budget.CHOSEN_POINT: 1.0,
    budget.PROFILE_POINT: 0.5,
}


@pytest.fixture(scope="module")
def constructed_study(small_corpus, tmp_path_factory):
    """Constructed runs (both seeds) of a few study points, the paper-protocol baseline, and three
    leaky points with their twins, in a results folder; the reference is an empty folder."""
    from adcrnn_lib.experiments.grid import baseline_configs

    results = tmp_path_factory.mktemp("constructed-study")
    corpus = str(small_corpus)
    runs = {name: [_constructed_run(c, corpus, results, ACCURACY[name]) for c in grid.study_configs("smoke", corpus, levers={name: grid.STUDY_LEVERS[name]})[name]] for name in ACCURACY}
    baseline = [_constructed_run(baseline_configs(corpus, seed=s, profile="smoke")[("paper", False)], corpus, results, 0.75) for s in grid.STUDY_SEEDS]
    leaky_accuracy = {"repeated takes split across folds": 0.95, "the four no-augmentation leaks together": 0.9, "time-shift copies made before the split": 0.6}
    configs = grid.leaky_configs("smoke", corpus)
    leaky = {name: [_constructed_run(c, corpus, results, acc) for c in configs[name]] for name, acc in leaky_accuracy.items()}
    twins = [_constructed_run(c.experiment(), corpus, results, 0.55) for c in configs["time-shift copies made before the split"]]
    honest = [_constructed_run(c.experiment(), corpus, results, 0.7) for c in configs["repeated takes split across folds"]]  # the profile's own row
    return results, runs, baseline, leaky, twins, honest


def test_the_chapter_states_what_the_runs_say(constructed_study, small_corpus, monkeypatch, tmp_path):
    """Every difference the chapter glues equals a comparison made by hand, with its direction."""
    results, runs, baseline, leaky, twins, honest = constructed_study
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(tmp_path / "no-reference"))
    found = budget.study_chapter("smoke", str(small_corpus), verify=False, results_dir=results)
    facts = found.facts
    pooled = lambda rs, m: 100 * np.mean([f[m] for r in rs for f in r.folds])  # noqa: E731
    cell = lambda c: f"{100 * c['diff']:+.1f}"  # noqa: E731
    base, chosen, profile = runs[budget.BASE_POINT], runs[budget.CHOSEN_POINT], runs[budget.PROFILE_POINT]
    assert facts["base_wa"] == f"{pooled(base, 'wa'):.1f}" and facts["base_ua"] == f"{pooled(base, 'ua'):.1f}"
    assert facts["chosen_diff"] == cell(compare(base, chosen)["ua"]) and facts["chosen_diff"].startswith("+")
    assert facts["chosen_diff"] != cell(compare(chosen, base)["ua"])  # the other direction is another number
    c = compare(baseline[0], chosen[0])["ua"]
    assert facts["chosen_vs_baseline"] == cell(c) and facts["chosen_vs_baseline_ci"] == budget._interval(c)
    assert facts["baseline_ua"] == f"{100 * baseline[0].summary()['ua']['mean']:.1f}"
    assert facts["profile_wa"] == f"{pooled(profile, 'wa'):.1f}" and facts["honest_wa"] == f"{pooled(honest, 'wa'):.1f}"
    assert facts["profile_vs_recipe"].startswith(cell(compare(chosen, profile)["wa"])) and facts["profile_vs_recipe"].startswith("-")
    c = compare(baseline[0], profile[0])["ua"]
    assert facts["profile_vs_baseline"] == cell(c)
    # the best single lever: the highest UA among the levers, not the recipe, the profile or the base
    assert facts["best_point"] == "last epoch" and facts["best_diff"] == cell(compare(base, runs["last epoch"])["ua"])
    # points whose settings are those of a constructed run are that run (under smoke, batch 16 and BN momentum 0.99 are the start)
    keys = {r.config.key() for rs in runs.values() for r in rs}
    same = {n for n, o in grid.STUDY_LEVERS.items() if grid.study_configs("smoke", str(small_corpus), levers={n: o})[n][0].key() in keys}
    assert set(found.results) == same >= set(ACCURACY) and facts["study_points"] == len(same) and facts["from_reference"] == 0
    assert facts["timnet_status"].startswith("The calibration row has no result")
    # the leaky facts: per utterance, each against its own twin and the paper's row of its augmentation
    from adcrnn_lib.experiments.leaky import compare_by_utterance, utterance_scores

    top = leaky["repeated takes split across folds"]
    assert facts["leaky_top"] == "repeated takes split across folds" and facts["leaky_top_wa"] == f"{100 * utterance_scores(top)['wa']:.1f}"
    c = compare_by_utterance(honest, top)["wa"]
    assert facts["leaky_top_diff"] == f"{100 * c['diff']:+.1f} {budget._interval(c)}" and c["diff"] > 0
    assert facts["leaky_reach"] == f"repeated takes split across folds ({100 * utterance_scores(top)['wa']:.1f} %)"
    four = leaky["the four no-augmentation leaks together"]
    assert facts["leaky_four_wa"] == f"{100 * utterance_scores(four)['wa']:.1f}" and facts["leaky_four_twin_wa"] == f"{100 * utterance_scores(base)['wa']:.1f}"
    assert facts["leaky_four_reaches"] == ("reaches" if 100 * utterance_scores(four)["wa"] >= budget.PAPER_BAR else "does not reach")
    c = compare_by_utterance(twins, leaky["time-shift copies made before the split"])["wa"]
    assert facts["leaky_shift_diff"] == f"{100 * c['diff']:+.1f} {budget._interval(c)}"
    assert facts["leaky_three_wa"] == "(not run)" and facts["leaky_points"] == 3
    table = found.extra["leaky_table"]
    assert table.loc["LEAKY: time-shift copies made before the split", "paper's row (%)"].startswith("86.84")
    assert table.loc["LEAKY: repeated takes split across folds", "paper's row (%)"].startswith("85.66")


def test_the_keys_the_chapter_names_are_runs_of_the_reference():
    """The chapter reads two runs by key and calls a study point Table V's row: if the profile or the
    hashing moves, these fail instead of the page printing "(not run)"."""
    for key in (budget.BUGGY_KEY, budget.LOSO_CHOSEN_KEY):
        assert load_run_folder(reference_root() / "cpu" / key) is not None, key
    import json

    loso = load_run_folder(reference_root() / "cpu" / budget.LOSO_CHOSEN_KEY)
    trained_with = json.loads((loso.run_dir / "config.json").read_text())["profile"]  # the settings it trained with, as its folder records them
    assert loso.config.protocol == "loso" and {k: trained_with[k] for k in grid.CPU_RECIPE} == grid.CPU_RECIPE
    profile_point = grid.study_configs("cpu", None, levers={budget.PROFILE_POINT: grid.STUDY_LEVERS[budget.PROFILE_POINT]})[budget.PROFILE_POINT]
    for config in profile_point:
        assert config.key() == grid.hda_configs("cpu", None, seed=config.seed)["none"].key()
        assert (reference_root() / "cpu" / config.key()).is_dir()


def test_train_missing_trains_only_what_neither_this_build_nor_the_reference_holds(small_corpus, tmp_path, monkeypatch):
    """Recorded runners: a run in the reference or in this build is read, the others are trained in
    queue order, each by the runner of its kind (study points, TIM-Net and leaky points, and the
    leaky points' twins that are not study points)."""
    from adcrnn_lib.experiments import cv, timnet
    from adcrnn_lib.experiments import leaky as leaky_module

    corpus = str(small_corpus)
    reference, results = tmp_path / "reference", tmp_path / "results"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    trained = []
    for module, name in ((cv, "run_cv"), (leaky_module, "run_leaky"), (timnet, "run_timnet")):
        monkeypatch.setattr(module, name, lambda config, _name=name, **kw: trained.append((_name, config.key())))
    study_points = grid.study_configs("smoke", corpus, levers={n: grid.STUDY_LEVERS[n] for n in ("starting recipe", "cosine schedule")})
    in_reference, in_results = study_points["starting recipe"][0], study_points["cosine schedule"][1]
    _constructed_run(in_reference, corpus, reference)
    _constructed_run(in_results, corpus, results)
    summary = grid.run_study("smoke", corpus, names=["starting recipe", "cosine schedule"], timnet=True, results_dir=results)
    expected = [("run_cv", study_points["starting recipe"][1].key()), ("run_cv", study_points["cosine schedule"][0].key())]
    expected += [("run_timnet", c.key()) for c in grid.timnet_configs("smoke", corpus)]
    assert trained == expected
    assert summary["runs"] == 6 and summary["runs_trained"] == 4 and summary["runs_cached"] == 2
    trained.clear()
    leaky_points = grid.leaky_configs("smoke", corpus)
    done = leaky_points["time-shift copies made before the split"][0]
    _constructed_run(done, corpus, reference)
    summary = grid.run_leaky_points("smoke", corpus, names=["time-shift copies made before the split", "epoch picked on the test part"], results_dir=results)
    twins = [c.experiment() for c in leaky_points["time-shift copies made before the split"] + leaky_points["epoch picked on the test part"]]
    expected = [("run_leaky", c.key()) for c in (leaky_points["time-shift copies made before the split"][1], *leaky_points["epoch picked on the test part"])]
    expected += [("run_cv", t.key()) for t in twins if t.key() != in_reference.key()]  # the starting recipe's seed 0 is in the reference
    assert trained == expected
    assert summary["runs_cached"] == 2 and summary["runs_trained"] == len(expected)


def test_the_validation_part_is_judged_against_the_profile_over_the_seeds_both_hold(small_corpus, tmp_path):
    """Constructed runs: the profile right on half of each class, the profile trained on its
    validation part too right on 80 %; paired over two seeds x folds, the sentence says +30 points."""
    cfg = {name: [ExperimentConfig(profile="smoke", seed=s, data_dir=str(small_corpus), overrides=o) for s in (0, 1)]
           for name, o in (("profile", {}), ("validation", {"selection": "last", "validation": "trained"}))}
    profile = [_constructed_run(c, small_corpus, tmp_path, 0.5) for c in cfg["profile"]]
    trained = [_constructed_run(c, small_corpus, tmp_path, 0.8) for c in cfg["validation"]]
    said = budget._validation_sentence(profile, trained)
    ua = [np.mean([f["ua"] for r in runs for f in r.folds]) for runs in (profile, trained)]
    assert f"{100 * (ua[1] - ua[0]):+.1f} [" in said and "paired over 2 seeds x 2 folds" in said
    assert "has not been run yet" in budget._validation_sentence(profile, None)
