"""adcrnn_lib.chapters.report: the verdicts and paired cells the book prints, on results whose answer is known."""

from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pytest
from scipy import stats

from adcrnn_lib.chapters import report
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.experiments.cv import CVResult
from adcrnn_lib.experiments.results import RESULTS_ENV_VAR

from .helpers.runs import constructed_records

CONFIG = ExperimentConfig(profile="smoke")
N_FOLDS, N_TEST = 3, 140  # 20 test utterances of each emotion per fold


def _truth(k: int) -> tuple[list[str], np.ndarray]:
    return [f"f{k}u{i:03d}" for i in range(N_TEST)], np.arange(N_TEST) % 7


def _result(right) -> CVResult:
    """A result whose fold ``k`` is right exactly on the utterances where ``right(k, i)`` holds."""
    folds = []
    for k in range(N_FOLDS):
        ids, y = _truth(k)
        pred = np.array([t if right(k, i) else (t + 1) % 7 for i, t in enumerate(y)])
        folds.append((ids, y, pred))
    return CVResult(CONFIG, constructed_records(CONFIG, folds), None)


BASE = _result(lambda k, i: i % 2 == 0)  # WA = UA = 50 % in every fold
# below 14 m, every emotion has m odd utterances: fixing them adds m / 20 to every class's recall (WA = UA gain)
BETTER = _result(lambda k, i: i % 2 == 0 or i < 14 * (2 + k))  # fixes 14, 21, 28 of base's 70 errors
SWAPPED = _result(lambda k, i: (i % 2 == 0 and i >= 14) or (i % 2 == 1 and i < 14))  # 7 fixed, 7 broken: no net change


def test_verdicts_on_known_differences():
    assert report.verdict(BASE, BETTER) == "better"
    assert report.verdict(BETTER, BASE) == "worse"
    assert report.verdict(BASE, SWAPPED) == "no clear difference"
    assert report.verdict(BASE, BASE) == "no clear difference"


def test_verdict_follows_the_metric_asked_for():
    # "other" says the majority class every time: more utterances right, far fewer classes
    ids, y = [f"u{i:03d}" for i in range(300)], np.where(np.arange(300) < 210, 0, 1 + np.arange(300) % 6)
    base_pred = np.where((y == 0) & (np.arange(300) % 10 >= 3), 1, y)  # 30 % of class 0 right, every minority utterance right
    base = CVResult(CONFIG, constructed_records(CONFIG, [(ids, y, base_pred)] * 2), None)
    majority = CVResult(CONFIG, constructed_records(CONFIG, [(ids, y, np.zeros(300, int))] * 2), None)
    assert base.summary()["wa"]["mean"] < majority.summary()["wa"]["mean"] and base.summary()["ua"]["mean"] > majority.summary()["ua"]["mean"]
    assert report.verdict(base, majority, metric="wa") == "better"
    assert report.verdict(base, majority) == "worse"  # the book's verdicts are on UA


def test_paired_cells_state_the_known_difference():
    cells = report.paired_cells(BASE, BETTER, name="base")
    assert list(cells) == ["WA vs base (points)", "UA vs base (points)"]
    gains = [(2 + k) / 20 for k in range(N_FOLDS)]
    t = statistics.mean(gains) / (statistics.stdev(gains) / math.sqrt(N_FOLDS))
    p = 2 * stats.t.sf(t, N_FOLDS - 1)
    for cell in cells.values():  # WA and UA gain the same here
        diff, low, high, p_cell = (float(v) for v in re.fullmatch(r"([+-]\d+\.\d+) \[([+-]\d+\.\d+), ([+-]\d+\.\d+)\], p=(\d\.\d+)", cell).groups())
        assert diff == pytest.approx(100 * statistics.mean(gains), abs=0.051)
        assert 0 < low < diff < high
        assert p_cell == pytest.approx(p, abs=0.0006)
    back = report.paired_cells(BETTER, BASE, name="better")["WA vs better (points)"]
    assert back.startswith(f"{-100 * statistics.mean(gains):+.1f} [-")


def _seeded(right, seed: int) -> CVResult:
    """Like :func:`_result`, as the run of ``seed`` (its records say so)."""
    config = ExperimentConfig(profile="smoke", seed=seed)
    folds = []
    for k in range(N_FOLDS):
        ids, y = _truth(k)
        folds.append((ids, y, np.array([t if right(k, i) else (t + 1) % 7 for i, t in enumerate(y)])))
    return CVResult(config, constructed_records(config, folds), None)


def test_a_row_of_seeds_is_scored_over_seeds_x_folds_with_its_seed_spread():
    # seed 0: the base (50 %); seed 1 fixes 14 more errors per fold than seed 0 of the better row
    base = [_seeded(lambda k, i: i % 2 == 0, 0), _seeded(lambda k, i: i % 2 == 0, 1)]
    better = [_seeded(lambda k, i: i % 2 == 0 or i < 14 * (2 + k), 0), _seeded(lambda k, i: i % 2 == 0 or i < 14 * (3 + k), 1)]
    table = report.results_table([
        {"label": "base", "result": base, "base": base, "base_name": "base"},
        {"label": "better", "result": better, "base": base, "base_name": "base", "versus": base, "versus_name": "base"},
        {"label": "one run", "result": base[0]},
    ])
    folds = [0.5 + (2 + k) / 20 for k in range(N_FOLDS)] + [0.5 + (3 + k) / 20 for k in range(N_FOLDS)]  # UA of every (seed, fold)
    assert table.loc["better", "UA (%)"] == f"{100 * np.mean(folds):.1f} ± {100 * np.std(folds, ddof=1):.1f}"
    seed_means = [np.mean(folds[:N_FOLDS]), np.mean(folds[N_FOLDS:])]
    assert table.loc["better", "UA seed spread (points)"] == f"{100 * np.std(seed_means, ddof=1):.1f}" != "0.0"
    assert table.loc["base", "UA seed spread (points)"] == "0.0" and table.loc["one run", "UA seed spread (points)"] == "-"
    assert table.loc["better", "seeds"] == "2" and table.loc["one run", "seeds"] == "1"
    assert table.loc["better", "UA vs base (points)"].startswith(f"{100 * (np.mean(folds) - 0.5):+.1f} [")  # paired over seeds x folds
    assert table.loc["base", "UA vs base (points)"] == "" and table.loc["better", "vs base (UA)"] == "better"
    assert report.seed_spread(base[:1]) == "-"
    with pytest.raises(Exception, match="cannot pair"):
        report.results_table([{"label": "x", "result": better, "base": base[:1], "base_name": "base"}])


def test_run_provenance_names_the_keras_backend_where_the_folds_recorded_it():
    from adcrnn_lib.provenance import run_provenance

    def run(backend, key=None):
        records = constructed_records(CONFIG, [(["03a01Fa", "03a01Nc"], [0, 1], [0, 1])] * 2)
        for r in records:
            r["provenance"] = {"git_commit": "abc", "machine": {"cpu": "X", "cores": 2}, **({"keras_backend": backend} if backend else {})}
            r["wall_time_s"] = 1.5
            r["config_key"] = key or f"run-{backend}"  # four runs, not one
        return CVResult(CONFIG, records, None)

    bf16 = run("tensorflow", "run-bf16")
    for r in bf16.folds:
        r["provenance"]["backend_compute"] = {"precision": "mixed_bfloat16", "intra_op_threads": 1}
    adcrnn = run("tensorflow")
    shown = run_provenance({"ADCRNN": adcrnn, "TIM-Net": run("jax"), "older": run(None), "bf16": bf16, "ADCRNN again": adcrnn})  # the last: counted once
    assert shown["fold_machines"] == "X, 2 cores; X, 2 cores, Keras on jax; X, 2 cores, Keras on tensorflow; X, 2 cores, Keras on tensorflow (mixed_bfloat16, 1 thread)"
    assert shown["fold_commits"] == "abc" and shown["fold_wall_time_s"] == 12.0


def test_a_fold_record_says_how_the_backend_computed_it(paper_run):
    """The shared smoke run (trained in this process): its folds' provenance names its model's
    precision and TensorFlow's intra-op threads, which the last float digits of a fold depend on; a
    baseline's fold, made without Keras, names neither."""
    from adcrnn_lib.experiments.cv import fold_record
    from adcrnn_lib.provenance import provenance

    compute = paper_run.folds[0]["provenance"]["backend_compute"]
    assert compute["precision"] == "float32" and compute["intra_op_threads"] >= 1
    assert provenance(profile="smoke")["backend_compute"] == {k: v for k, v in compute.items() if k != "precision"}  # the same process
    sklearn = fold_record(CONFIG, 0, test_ids=["03a01Fa"], y_true=np.array([0]), probs=np.eye(7)[[0]], train_ids=[], val_ids=[], n_generated=0, n_train_segments=0,
                          best_epoch=0, val={}, history={}, started=0.0, profile="smoke", data_dir=None, keras_model=False)
    assert sklearn["provenance"]["keras_backend"] is None and "backend_compute" not in sklearn["provenance"]


def test_build_table_states_the_reference_cold_build_or_that_none_made_it(tmp_path, monkeypatch):
    import json

    from adcrnn_lib import chapters
    from adcrnn_lib.experiments import grid

    monkeypatch.setenv(RESULTS_ENV_VAR, str(tmp_path / "here"))  # no builds recorded here
    reference = tmp_path / "reference"
    (reference / "smoke").mkdir(parents=True)
    assert chapters.build_table("smoke", reference=reference).facts["ref_cold"] == "not recorded (the reference has no build record of this profile)"
    machine = {"cpu": "X", "cores": 2}
    cached = {"wall_time_s": 150.0, "chapters_s": 100.0, "render_s": 20.0, "git_commit": "abc", "machine": machine, "created": "t1", "grid": {"folds_trained": 0, "folds_cached": 10, "wall_time_s": 30.0}}
    (reference / "smoke" / grid.BUILD_RECORD).write_text(json.dumps(cached))
    facts = chapters.build_table("smoke", reference=reference).facts
    assert facts["ref_cold"] == "not recorded (no single build that trained every fold made the reference)" and facts["ref_cached"] == "2.5 minutes (within the 3-minute goal)"
    cold = {**cached, "wall_time_s": 9000.0, "created": "t0", "grid": {"folds_trained": 10, "folds_cached": 0, "wall_time_s": 8800.0}}
    (reference / "smoke" / grid.COLD_BUILD_RECORD).write_text(json.dumps(cold))
    table = chapters.build_table("smoke", reference=reference)
    assert table.facts["ref_cold"] == "2.50 hours (within the 3-hour goal) on 2 cores"
    assert table.table.loc["reference: cold build", "folds trained / cached"] == "10 / 0"
    assert table.facts["time_summary"] == (
        "The reference's cold build, every fold trained from nothing, took 2.50 hours (within the 3-hour goal) on 2 cores. "
        "Its rebuild with every fold cached took 2.5 minutes (within the 3-minute goal)."
    )


def test_build_table_says_what_is_known_and_nothing_else(tmp_path, monkeypatch):
    """No "not recorded" sentences: the reference's cold build measured in parts, records copied in
    with the reference's runs shown once, and how long this build has run so far."""
    import json
    import time

    from adcrnn_lib import chapters
    from adcrnn_lib.experiments import grid

    here, reference = tmp_path / "here", tmp_path / "reference"
    monkeypatch.setenv(RESULTS_ENV_VAR, str(here))
    monkeypatch.delenv(chapters.BUILD_STARTED_VAR, raising=False)
    measured = chapters.REFERENCE_COLD_BUILD
    cached = {"wall_time_s": 102.0, "chapters_s": 80.0, "render_s": 10.0, "git_commit": measured["rebuilt_at"] + "abcd", "machine": {"cpu": "X", "cores": 2}, "created": "2026-12-01T06:14:45", "grid": {"folds_trained": 0, "folds_cached": 140, "wall_time_s": 12.0}}
    for folder in (here, reference):  # the reader copied the reference's runs, and its records with them
        (folder / "cpu").mkdir(parents=True)
        (folder / "cpu" / grid.BUILD_RECORD).write_text(json.dumps(cached))
    found = chapters.build_table("cpu", reference=reference)
    assert found.facts["time_summary"] == (
        "The reference's cold build, every fold trained from nothing, took 2 h 59.4 min of compute (within the 3-hour goal) on 2 cores, "
        "in three parts of 2 h 7.9 min, 47.2 min and 4.4 min, measured from its logs. Its rebuild with every fold cached took 1.7 minutes (within the 3-minute goal)."
    )
    assert list(found.table.index) == ["reference: cold build, 3 parts", "reference: last build"]
    assert found.table.loc["reference: cold build, 3 parts", "wall time (min)"] == "179.4"
    monkeypatch.setenv(chapters.BUILD_STARTED_VAR, repr(time.time() - 90))
    (here / "cpu" / grid.GRID_RECORD).write_text(json.dumps({"wall_time_s": 30.0}))
    assert found.facts["time_summary"] in chapters.build_table("cpu", reference=reference).facts["time_summary"]
    assert chapters.build_table("cpu", reference=reference).facts["time_summary"].endswith("This build had run 1.5 min when this page was made, 0.5 of them in its grid pass.")
    (here / "cpu" / grid.BUILD_RECORD).write_text(json.dumps({**cached, "created": "2026-12-03T10:00:00", "wall_time_s": 150.0}))  # a rebuild here
    found = chapters.build_table("cpu", reference=reference)
    assert "The last build here before this one took 2.5 minutes (within the 3-minute goal)." in found.facts["time_summary"]
    assert list(found.table.index) == ["here: the last build", "reference: cold build, 3 parts", "reference: last build"]
    (reference / "cpu" / grid.BUILD_RECORD).write_text(json.dumps({**cached, "git_commit": "0123456789"}))  # another reference: the measured build does not describe it
    assert chapters.build_table("cpu", reference=reference).facts["ref_cold"] == "not recorded (no single build that trained every fold made the reference)"


def test_tables_for_a_page_keep_numbers_whole_and_split_off_the_differences():
    """Numbers never break over lines (non-breaking spaces), the header is one row, and the paired
    differences go to a second table of the rows that have them, so that each fits the page."""
    import pandas as pd

    from adcrnn_lib.chapters.report import NUMBER_CELL, for_page, split_differences

    table = pd.DataFrame(
        {
            "WA (%)": ["81.3 ± 4.0", "79.5 ± 3.9", "not run"],
            "UA vs none (points)": ["", "-1.8 [-4.4, +0.5], p=0.274", ""],
            "95% interval": ["[-0.4, +4.5]", "", ""],
            "vs best baseline (UA)": ["worse", "no clear difference", ""],
        },
        index=pd.Index(["1. no augmentation", "3. pitch shifting", "baseline"], name=""),
    )
    assert all(NUMBER_CELL.fullmatch(v) for v in ("66.0 ± 5.0", "+1.2 [-0.4, +2.9], p=0.210", "[-0.4, +4.5]"))
    shown = for_page(table)
    assert shown.loc["1. no augmentation", "WA (%)"] == "81.3\u00a0±\u00a04.0" and shown.loc["baseline", "WA (%)"] == "not run"
    assert shown.loc["1. no augmentation", "95% interval"] == "[-0.4,\u00a0+4.5]" and shown.loc["3. pitch shifting", "vs best baseline (UA)"] == "no clear difference"
    assert shown.index.name is None and shown.columns.name is None and "<th></th>\n      <th></th>" not in shown._repr_html_()
    assert for_page(table.rename_axis("run")).columns.name == "run"  # the index's name in the header's corner
    scores, differences = split_differences(table)
    assert list(scores.columns) == ["WA (%)", "95% interval", "vs best baseline (UA)"] and len(scores) == 3
    assert list(differences.index) == ["3. pitch shifting"] and differences.iloc[0, 0] == "-1.8\u00a0[-4.4,\u00a0+0.5],\u00a0p=0.274"
    assert len(split_differences(table.drop(columns="UA vs none (points)"))) == 1
    assert table.loc["1. no augmentation", "WA (%)"] == "81.3 ± 4.0"  # the table itself is left alone
