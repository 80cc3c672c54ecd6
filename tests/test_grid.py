"""adcrnn_lib.experiments.grid: which folds are still to train, the best augmentation, the reference copy, the time estimate.

The runs here are constructed fold records (no training), so every answer is known in advance.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from adcrnn_lib import data, profiles
from adcrnn_lib.exceptions import DataError, ParameterError
from adcrnn_lib.experiments import cv, grid
from adcrnn_lib.experiments.results import run_dir

from .helpers.quality import write_quality_record
from .helpers.runs import constructed_folds, constructed_records, constructed_run, hand_scores, write_records

N_SPLITS = profiles.get_profile("smoke").n_splits


@pytest.fixture(scope="module")
def table(small_corpus):
    return data.load_emodb(small_corpus, verify=False)


def test_best_augmentation_is_the_highest_mean_ua_without_none(table, small_corpus, tmp_path):
    configs = grid.hda_configs("smoke", small_corpus)
    accuracy = {"none": 0.9, "time_shift": 0.5, "pitch_shift": 0.7, "wavegan": 0.6, "specgan": 0.3}
    ua = {}
    for aug, config in configs.items():
        records = constructed_run(config, table, tmp_path, accuracy[aug])
        ua[aug] = np.mean([hand_scores([p["true"] for p in r["predictions"]], [p["pred"] for p in r["predictions"]])["ua"] for r in records])
    assert max(ua, key=ua.get) == "none" and max((a for a in ua if a != "none"), key=ua.get) == "pitch_shift"
    assert grid.best_augmentation("smoke", small_corpus, results_dir=tmp_path) == "pitch_shift"
    loso = grid.loso_configs("smoke", small_corpus, results_dir=tmp_path)
    assert list(loso) == ["none", "none, speaker-normalized", "pitch_shift"] and loso["pitch_shift"].protocol == "loso"
    # a Table V run with a fold missing is not ranked on its other folds: no best augmentation yet
    (run_dir(configs["pitch_shift"], tmp_path) / "fold-1.json").unlink()
    with pytest.raises(ParameterError, match=r"incomplete run .*fold\(s\) \[1\] missing"):
        grid.best_augmentation("smoke", small_corpus, results_dir=tmp_path)


def test_missing_folds_counts_only_usable_fold_files(table, small_corpus, tmp_path):
    config = grid.hda_configs("smoke", small_corpus)["none"]
    folder = run_dir(config, tmp_path)
    assert cv.missing_folds(config, tmp_path, 3) == list(range(N_SPLITS))
    constructed_run(config, table, tmp_path, 0.5)
    assert cv.missing_folds(config, tmp_path, 3) == []
    (folder / "fold-0.json").write_text('{"schema_version": 1, "comp')  # half-written
    record = json.loads((folder / "fold-1.json").read_text())
    (folder / "fold-1.json").write_text(json.dumps({**record, "complete": False}))
    assert cv.missing_folds(config, tmp_path, 3) == [0, 1]
    loso = grid.loso_configs("smoke", small_corpus, augmentation="none")["none"]
    assert cv.missing_folds(loso, tmp_path, 3) == [0, 1, 2]  # one fold per speaker


def test_save_reference_copies_whole_runs_only(table, small_corpus, tmp_path):
    results, reference = tmp_path / "results", tmp_path / "reference"
    hda = grid.hda_configs("smoke", small_corpus)
    loso = grid.loso_configs("smoke", small_corpus, augmentation="none")
    baseline = grid.baseline_configs(small_corpus, profile="smoke")
    whole = [hda["none"], loso["none"], baseline[("paper", False)]]
    for config in whole:
        constructed_run(config, table, results, 0.6)
    constructed_run(hda["pitch_shift"], table, results, 0.7, drop=(1,))  # Table V unfinished: no best augmentation
    constructed_run(loso["none, speaker-normalized"], table, results, 0.6, drop=(2,))
    (results / "smoke").mkdir(parents=True, exist_ok=True)
    (results / "smoke" / grid.GRID_RECORD).write_text('{"runs": 3}')
    (reference / "smoke").mkdir(parents=True)
    (reference / "smoke" / grid.COLD_BUILD_RECORD).write_text('{"an older build": true}')  # this build has no cold record
    ladder = results / "gan-ladder" / "smoke" / "fold0-seed0"
    ladder.mkdir(parents=True)
    for name in ("wavegan-fear.json", "ceiling.json", "judge.keras.json", "judge.keras"):
        (ladder / name).write_text("[]")
    written = grid.save_reference("smoke", small_corpus, results_dir=results, reference_dir=reference)
    kept = reference / "gan-ladder" / "smoke" / "fold0-seed0"
    assert sorted(p.name for p in kept.iterdir()) == ["ceiling.json", "wavegan-fear.json"]  # the records, not the judge model or its metadata
    written.remove(kept)
    assert sorted(written) == sorted(run_dir(c, reference) for c in whole)  # the fallback still finds leave-one-speaker-out
    for config in whole:
        assert sorted(p.name for p in run_dir(config, reference).iterdir()) == sorted(p.name for p in run_dir(config, results).iterdir())
        assert cv.load_result(config, results_dir=reference).folds == cv.load_result(config, results_dir=results).folds
    assert not run_dir(hda["pitch_shift"], reference).exists() and not run_dir(loso["none, speaker-normalized"], reference).exists()
    assert json.loads((reference / "smoke" / grid.GRID_RECORD).read_text()) == {"runs": 3}
    assert not (reference / "smoke" / grid.COLD_BUILD_RECORD).exists()  # the older build's times left with it


def test_time_estimate_scales_reference_fold_times(table, small_corpus, tmp_path, monkeypatch):
    reference, results = tmp_path / "reference", tmp_path / "results"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    hda = grid.hda_configs("smoke", small_corpus)
    a, b = hda["none"], hda["time_shift"]
    for record, seconds in zip(constructed_records(a, constructed_folds(table, "paper", 0.5)), (10.0, 20.0)):
        write_records([{**record, "wall_time_s": seconds}], run_dir(a, reference))
    constructed_run(b, table, results, 0.5, drop=(1,))  # b: fold 0 done, fold 1 to train, no reference time
    guess = grid._FOLD_SECONDS_GUESS["smoke"]
    assert grid._estimate([a, b], results, "smoke", None, 3) == pytest.approx(10 + 20 + guess)
    assert grid._estimate([a, b], results, "smoke", 2.0, 3) == pytest.approx(2 * (10 + 20 + guess))  # this machine is half as fast
    assert grid._estimate([b], results, "smoke", 0.5, 3) == pytest.approx(0.5 * guess)
    constructed_run(a, table, results, 0.5)
    assert grid._estimate([a], results, "smoke", 2.0, 3) == 0.0  # nothing left to train


def test_distributed_grid_checks_the_workers_files_are_visible_here(small_corpus, tmp_path, monkeypatch):
    """Workers that report success but wrote where this process cannot read (no shared storage)
    stop the grid with a message saying so, before any chapter is built."""
    from adcrnn_lib.experiments import distributed
    from adcrnn_lib.experiments.distributed import GridError

    class FakeClient:
        def scheduler_info(self):
            return {"workers": {"tcp://elsewhere:1": {}}}

    ran = []
    monkeypatch.setattr(distributed, "run_tasks", lambda tasks, **kw: ran.append(len(tasks)) or [])
    with pytest.raises(GridError, match="storage the client and every worker share"):
        grid.run_grid("smoke", small_corpus, verify=False, results_dir=tmp_path, baseline_features="egemaps", client=FakeClient())
    assert ran and ran[0] > 0  # the first wave was sent to the workers


def test_table_v_rows_run_every_seed_of_the_profile_and_pair_over_them(table, small_corpus, tmp_path, monkeypatch):
    from adcrnn_lib import chapters
    from adcrnn_lib.config import ExperimentConfig

    assert grid.table_v_seeds("cpu", 3) == (3, 4) and grid.table_v_seeds("smoke") == (0,)
    cpu = grid._grid_configs("cpu", None, seed=0, baseline_features="compare")
    later = [c for c in cpu if c.seed == 1]  # Table V's rows and the paper-protocol baselines, nothing else
    assert sorted(c.augmentation for c in later if isinstance(c, ExperimentConfig)) == sorted(grid.HDA_AUGMENTATIONS)
    assert len(later) == len(grid.HDA_AUGMENTATIONS) + 2 and all(c.protocol == "paper" for c in later)
    assert len(cpu) == len(set(cpu)) and all(c.seed in (0, 1) for c in cpu)
    assert all(c.seed == 0 for c in grid._grid_configs("smoke", None, seed=0, baseline_features="compare"))

    monkeypatch.setitem(grid.TABLE_V_SEEDS, "smoke", 2)
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path))
    accuracy = {"none": 0.5, "time_shift": 0.6, "pitch_shift": 0.4, "wavegan": 0.5, "specgan": 0.3}
    for s in (0, 1):
        for aug, config in grid.hda_configs("smoke", small_corpus, seed=s).items():
            write_records(constructed_records(config, constructed_folds(table, "paper", accuracy[aug] + 0.3 * s, seed=s)), run_dir(config, tmp_path))
        for (protocol, norm), config in grid.baseline_configs(small_corpus, seed=s, features="egemaps", profile="smoke").items():
            if protocol == "paper":
                write_records(constructed_records(config, constructed_folds(table, "paper", 0.6 if norm else 0.7, seed=s)), run_dir(config, tmp_path))
    with pytest.raises(DataError, match="no quality record of the smoke profile's wavegan GANs"):  # a GAN row says how its GANs learned, or the table is refused
        chapters.table_v("smoke", str(small_corpus), seed=0, baseline_features="egemaps", verify=False)
    write_quality_record("smoke", shares={"wavegan": 0.5, "specgan": 0.0})
    found = chapters.table_v("smoke", str(small_corpus), seed=0, baseline_features="egemaps", verify=False)
    assert found.table.loc[f"4. {chapters.AUGMENTATION_NAMES['wavegan']}", chapters.GAN_QUALITY_COLUMN] == "50 (20 steps)"
    assert found.table.loc[f"5. {chapters.AUGMENTATION_NAMES['specgan']}", chapters.GAN_QUALITY_COLUMN] == "0 (20 steps)"
    assert found.table.loc[f"1. {chapters.AUGMENTATION_NAMES['none']}", chapters.GAN_QUALITY_COLUMN] == ""
    runs = {a: [cv.load_result(grid.hda_configs("smoke", small_corpus, seed=s)[a]) for s in (0, 1)] for a in grid.HDA_AUGMENTATIONS}
    pooled = {a: cv.pool_seeds(r) for a, r in runs.items()}
    assert found.facts["n_seeds"] == 2 and len(found.results["no augmentation"].folds) == 2 * N_SPLITS
    assert found.facts["none_ua"] == f"{100 * pooled['none'].summary()['ua']['mean']:.1f}"
    assert found.facts["best_aug"] == chapters.AUGMENTATION_NAMES["time_shift"]
    spread = 100 * np.std([r.summary()["ua"]["mean"] for r in runs["none"]], ddof=1)
    assert found.facts["none_seed_spread"] == f"{spread:.1f}" and spread > 5  # seed 1 is 30 points more right
    row = found.table.loc[f"2. {chapters.AUGMENTATION_NAMES['time_shift']}"]
    c = cv.compare(runs["none"], runs["time_shift"])["ua"]
    assert row["seeds"] == "2" and row["UA vs none (points)"].startswith(f"{100 * c['diff']:+.1f} [{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]")
    page = chapters.hda_page("pitch_shift", "smoke", str(small_corpus), seed=0, baseline_features="egemaps", verify=False)
    assert page.facts["ua"] == f"{100 * pooled['pitch_shift'].summary()['ua']['mean']:.1f}" and page.facts["n_seeds"] == 2
    assert page.extra["folds"].index.names == ["seed", "fold"] and len(page.extra["folds"]) == 2 * N_SPLITS
    for key, config in grid.ablation_configs("smoke", small_corpus).items():
        if not run_dir(config, tmp_path).exists():  # model 3 is Table V's WaveGAN row
            write_records(constructed_records(config, constructed_folds(table, "paper", 0.45)), run_dir(config, tmp_path))
    vi = chapters.table_vi("smoke", str(small_corpus), seed=0, baseline_features="egemaps", verify=False)
    assert vi.extra["versus"]["seeds"].to_dict() == {**{f"Lf1, {chapters.AUGMENTATION_NAMES[a]}": 2 for a in grid.HDA_AUGMENTATIONS}, **{f"WaveGAN, {chapters.MODEL_NAMES[k]}": 1 for k in grid.ABLATION_MODELS if k != (True, "lf1")}}


# --- find_run: which copy of a run a chapter reads -----------------------------------------------
def _was(run, records) -> bool:
    """Whether ``run`` holds exactly the folds ``records`` (its predictions, fold by fold)."""
    return run is not None and [f["predictions"] for f in run.folds] == [r["predictions"] for r in records]


def test_find_run_prefers_this_build_and_falls_back_to_the_reference_for_an_unusable_local_run(table, small_corpus, tmp_path, monkeypatch):
    """This build beats the reference when both hold the run; a local run with a fold missing or a
    fold file :func:`~adcrnn_lib.experiments.cv.record_problem` rejects is passed over for the reference (which
    the chapter then names as its source); neither whole gives nothing."""
    results, reference = tmp_path / "results", tmp_path / "reference"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    config = grid.hda_configs("smoke", small_corpus)["none"]
    assert grid.find_run(config, results_dir=results) == (None, None)
    ref = constructed_run(config, table, reference, 0.8)
    run, where = grid.find_run(config, results_dir=results)
    assert where == "reference" and _was(run, ref)
    local = constructed_run(config, table, results, 0.4)
    assert [r["predictions"] for r in local] != [r["predictions"] for r in ref]  # the two copies differ
    run, where = grid.find_run(config, results_dir=results)
    assert where == "this build" and _was(run, local) and run.run_dir == run_dir(config, results)
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(results))  # results_dir=None: the results root
    assert grid.find_run(config)[1] == "this build"

    folder = run_dir(config, results)
    (folder / "fold-1.json").unlink()  # a half-finished local run
    run, where = grid.find_run(config, results_dir=results)
    assert where == "reference" and _was(run, ref)
    write_records([{**local[1], "complete": False}], folder)  # a fold the cross-validation would recompute
    assert grid.find_run(config, results_dir=results)[1] == "reference"
    write_records([{**local[1], "config_key": "0123456789abcdef"}], folder)  # another configuration's file
    assert grid.find_run(config, results_dir=results)[1] == "reference"
    write_records([local[1]], folder)
    assert grid.find_run(config, results_dir=results)[1] == "this build"

    (run_dir(config, reference) / "fold-0.json").unlink()
    (folder / "fold-0.json").unlink()
    assert grid.find_run(config, results_dir=results) == (None, None)  # neither whole: not run


def test_find_run_stops_at_an_unreadable_local_fold_file_naming_it(table, small_corpus, tmp_path, monkeypatch):
    """What the code does today: a local fold file that is not JSON is not passed over for the
    reference (as a missing or stale one is) but raises, naming the file to delete."""
    from adcrnn_lib.exceptions import DataError

    results, reference = tmp_path / "results", tmp_path / "reference"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    config = grid.hda_configs("smoke", small_corpus)["none"]
    constructed_run(config, table, reference, 0.8)
    constructed_run(config, table, results, 0.4)
    path = run_dir(config, results) / "fold-1.json"
    path.write_text('{"schema_version": 1, "comp')
    with pytest.raises(DataError, match=rf"{path}: unreadable fold file"):
        grid.find_run(config, results_dir=results)


@pytest.fixture
def other_corpus_run(table, small_corpus, tmp_path, monkeypatch):
    """``(config, reference records, local records)``: Table V's no-augmentation run of this corpus
    in this build, and a reference copy of the same configuration made on another corpus (other
    speakers, so other utterance ids; the corpus is not part of the key)."""
    from .helpers.audio import make_corpus

    other = data.load_emodb(make_corpus(tmp_path / "other" / "wav", speakers=["10", "11", "12"]), verify=False)
    assert not set(other["utterance"]) & set(table["utterance"])
    reference = tmp_path / "reference"
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(reference))
    config = grid.hda_configs("smoke", small_corpus)["none"]
    assert grid.hda_configs("smoke", tmp_path / "other" / "wav")["none"].key() == config.key()
    return config, constructed_run(config, other, reference, 0.8), constructed_run(config, table, tmp_path / "results", 0.4)


def test_a_reference_run_of_another_corpus_fails_every_check_that_knows_the_corpus(other_corpus_run, table, tmp_path):
    config, ref, _ = other_corpus_run
    folds = data.make_folds(table, protocol="paper", n_splits=N_SPLITS, seed=config.seed)
    ids = table["utterance"].to_numpy()
    for record, fold in zip(ref, folds):
        assert cv.record_problem(record, config_key=config.key(), fold=record["fold"]) is None  # whole and current by itself
        assert "another corpus or fold split" in cv.record_problem(record, config_key=config.key(), fold=fold.k, test_ids=ids[fold.test].tolist())
    here = cv.load_result(config, results_dir=tmp_path / "results")
    with pytest.raises(ParameterError, match="tests different utterances"):
        cv.compare(here, cv.load_result(config, results_dir=tmp_path / "reference"))


def test_find_run_does_not_take_a_reference_run_of_another_corpus(other_corpus_run, table, tmp_path, caplog):
    config, _, local = other_corpus_run
    assert grid.find_run(config, results_dir=tmp_path / "empty") == (None, None)
    assert "a reference run of another corpus" in caplog.text
    run, where = grid.find_run(config, results_dir=tmp_path / "results")  # this build's own run is read as before
    assert where == "this build" and [f["predictions"] for f in run.folds] == [r["predictions"] for r in local]
