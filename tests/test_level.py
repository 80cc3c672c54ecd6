"""Recording level: measured in dBFS, gains as a recording chain applies them, the invariance check, and predict's report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from adcrnn_lib.level import CHECK_GAINS_DB, QUIET_MARGIN_DB, apply_gain, clipped_at_gain, level_invariance, level_warnings, measure_level

from .helpers.audio import tone


def test_a_full_scale_sine_is_minus_3_dbfs_rms_and_0_peak_and_a_gain_moves_it_by_its_decibels():
    t = np.arange(16000) / 16000
    y = np.sin(2 * np.pi * 100 * t).astype(np.float32)
    level = measure_level(0.5 * y)
    assert level.rms_dbfs == pytest.approx(-3.01 - 6.02, abs=0.01) and level.peak_dbfs == pytest.approx(-6.02, abs=0.01) and level.clipped_share == 0
    assert measure_level(apply_gain(0.5 * y, -12)).rms_dbfs == pytest.approx(level.rms_dbfs - 12, abs=0.01)
    loud = apply_gain(0.5 * y, 12)  # 4x: clipped at full scale, as a recording chain would
    assert loud.max() == 1.0 and measure_level(loud).clipped_share > 0.5


def test_warnings_name_clipping_and_a_level_far_under_the_training_range():
    assert level_warnings(measure_level(0.1 * tone(200, 1.0)), (-26.0, -12.0)) == []
    (clipped,) = level_warnings(measure_level(np.sign(tone(200, 1.0))))
    assert clipped.startswith("clipped:")
    quiet = apply_gain(0.1 * tone(200, 1.0), -40)
    (warning,) = level_warnings(measure_level(quiet), (measure_level(quiet).rms_dbfs + QUIET_MARGIN_DB + 1, -10.0))
    assert warning.startswith("quiet:") and f"more than {QUIET_MARGIN_DB:.0f} dB under" in warning
    assert level_warnings(measure_level(quiet)) == []  # without the model's training range, no quiet warning


def test_level_invariance_counts_changed_predictions_and_scores_each_gain():
    def by_loudness(y):  # a model that hears only the level: class 0 when loud, 1 when quiet
        probs = np.zeros(7)
        probs[0 if measure_level(y).rms_dbfs > -30 else 1] = 1
        return probs

    audios = [0.3 * tone(200, 0.5, seed=i) for i in range(4)]
    table = level_invariance(by_loudness, audios, [0, 0, 0, 0])
    assert list(table.index) == [0.0, *CHECK_GAINS_DB]
    assert table.loc[0.0, "changed"] == 0 and table.loc[-24.0, "changed"] == 1.0 and table.loc[6.0, "changed"] == 0
    assert table.loc[0.0, "wa"] == 1.0 and table.loc[-24.0, "wa"] == 0.0
    assert isinstance(level_invariance(by_loudness, audios), pd.DataFrame) and "wa" not in level_invariance(by_loudness, audios)


def test_a_gain_clips_a_recording_only_when_it_pushes_its_peaks_past_full_scale():
    loud = tone(200, 1.0) / np.abs(tone(200, 1.0)).max()  # peak at full scale, as EmoDB's files
    quiet = 0.3 * loud
    assert clipped_at_gain([quiet, loud], 6.0) == 0.5  # 0.3 -> 0.6: untouched; full scale -> clipped
    assert clipped_at_gain([quiet, loud], -12.0) == 0.0 and clipped_at_gain([loud], 0.0) == 0.0


def _untrained_predictor(level: str, tmp_path):
    """An untrained smoke ADCRNN behind a normalizer fitted on two tones, saved and loaded as adcrnn predict loads a model."""
    from adcrnn_lib.config import ExperimentConfig
    from adcrnn_lib.features import Normalizer, log_mel_3d
    from adcrnn_lib.models import build_adcrnn
    from adcrnn_lib.predict import Predictor, save_model

    config = ExperimentConfig(profile="smoke", overrides={"level_norm": level} if level != "none" else {})
    prof = config.settings()
    normalizer = Normalizer.fit([log_mel_3d(0.3 * tone(f, 1.5, seed=i)) for i, f in enumerate((150, 240))], level=prof.level_norm)
    model = build_adcrnn((prof.segment_frames, 40, 3), 7, profile=prof)
    path = save_model(model, normalizer, config, tmp_path / f"{level}.keras")
    return Predictor.load(path)


@pytest.mark.parametrize("level", ["utterance", "gain"])
def test_level_normalization_makes_predictions_independent_of_the_gain_and_travels_with_the_model(level, tmp_path):
    from adcrnn_lib.features import Normalizer

    y = 0.3 * tone(190, 2.0, seed=3)
    steady = _untrained_predictor(level, tmp_path)
    assert steady.normalizer.level == level  # read back from the model's metadata
    base = steady.predict_audio(y)
    for gain in CHECK_GAINS_DB:
        np.testing.assert_allclose(steady.predict_audio(apply_gain(y, gain)), base, atol=1e-4)
    plain = _untrained_predictor("none", tmp_path)  # without it, a gain moves every feature and the probabilities with them
    assert plain.normalizer.level == "none" and "level" not in plain.normalizer.to_dict()
    assert np.abs(plain.predict_audio(apply_gain(y, -24)) - plain.predict_audio(y)).max() > 1e-3
    with pytest.raises(Exception, match="level='loud'"):
        Normalizer.fit([np.zeros((5, 40, 3), np.float32)], level="loud")


def test_a_no_augmentation_fold_keeps_its_level_check(paper_run):
    """The shared smoke run (no augmentation): every fold record holds its test part predicted again at each gain."""
    from adcrnn_lib.metrics import unweighted_accuracy

    for record in paper_run.folds:
        check = record["level_check"]
        assert list(check) == ["+0", *(f"{g:+g}" for g in CHECK_GAINS_DB)] and check["+0"]["changed"] == 0.0
        truth = np.array([p["true"] for p in record["predictions"]])
        as_recorded = np.array([p["pred"] for p in record["predictions"]])
        np.testing.assert_array_equal(check["+0"]["predicted"], as_recorded)  # the same model and features as the fold's own scores
        for gain in CHECK_GAINS_DB:
            pred = np.array(check[f"{gain:+g}"]["predicted"])
            assert check[f"{gain:+g}"]["changed"] == pytest.approx(np.mean(pred != as_recorded))
            assert check[f"{gain:+g}"]["ua"] == pytest.approx(unweighted_accuracy(truth, pred))


def test_the_level_table_pools_the_folds_and_says_when_runs_predate_the_check(paper_run):
    import dataclasses

    from adcrnn_lib.chapters import level_table

    old_run = dataclasses.replace(paper_run, folds=[{k: v for k, v in r.items() if k != "level_check"} for r in paper_run.folds])  # a run from before the check
    table, facts = level_table({"random folds": paper_run, "speaker-normalized": old_run})  # the second holds no check
    assert list(table.index) == ["random folds"]
    assert list(table.columns) == [("as recorded", "UA (%)"), *((f"{g:+g} dB", what) for g in sorted(CHECK_GAINS_DB) for what in ("changed (%)", "UA (%)"))]
    resorted = dataclasses.replace(paper_run, folds=[{**r, "level_check": dict(sorted(r["level_check"].items()))} for r in paper_run.folds])  # as JSON keeps them
    assert level_table({"random folds": resorted})[0].equals(table)
    checks = [r["level_check"]["-24"] for r in paper_run.folds]
    n = [len(r["predictions"]) for r in paper_run.folds]
    assert table.loc["random folds", ("-24 dB", "changed (%)")] == f"{100 * sum(c['changed'] * k for c, k in zip(checks, n)) / sum(n):.0f}"
    assert table.loc["random folds", ("as recorded", "UA (%)")] == f"{100 * paper_run.summary()['ua']['mean']:.1f}"  # as the results tables give it
    assert facts["level_sentence"].startswith("The share of test predictions that change") and "random folds, at most" in facts["level_sentence"]
    assert facts["level_sentence"].endswith("Not shown, trained before the check was kept with each fold: speaker-normalized.")
    empty, said = level_table({"speaker-normalized": old_run})
    assert empty.empty and "before the level check" in said["level_sentence"]


def _with_level_check(records: list[dict], changed: float) -> list[dict]:
    """``records`` given a level check in which the first ``changed`` share of each fold's test
    predictions flips to the next class at -24 dB, and nothing changes at the other gains."""
    for r in records:
        pred = np.array([p["pred"] for p in r["predictions"]])
        flipped = pred.copy()
        flipped[: int(round(changed * len(pred)))] += 1
        flipped %= 7
        r["level_check"] = {g: {"predicted": (flipped if g == "-24" else pred).tolist()} for g in ("+0", "-24", "-12", "+6")}
    return records


def test_the_level_points_are_paired_with_the_profile_and_judged_against_the_goal(small_corpus, tmp_path, monkeypatch):
    """Constructed runs: the profile right on 60 % of each class with a quarter of its predictions
    moved by -24 dB, the level option right on 80 % with none moved; leaving one speaker out, only
    the profile is run."""
    from adcrnn_lib import data
    from adcrnn_lib.chapters import level_points
    from adcrnn_lib.experiments import grid
    from adcrnn_lib.experiments.results import run_dir

    from .helpers.runs import constructed_folds, constructed_records, write_records

    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(tmp_path / "no-reference"))
    table = data.load_emodb(small_corpus, verify=False)
    configs = grid.level_configs("smoke", str(small_corpus))
    point = next(iter(grid.LEVEL_POINTS))  # the other points are not run
    for protocol, by_name in configs.items():
        for name, accuracy, moved in ((grid.LEVEL_BASE, 0.6, 0.25), (point, 0.8, 0.0)):
            if (protocol, name) == ("loso", point):
                continue  # not run
            for c in by_name[name]:
                records = constructed_records(c, constructed_folds(table, protocol, accuracy, seed=c.seed))
                write_records(_with_level_check(records, moved), run_dir(c))
    found = level_points("smoke", str(small_corpus), verify=False)
    rows = found.table.index.tolist()
    assert rows == [f"{w}, {n}" for w in ("random folds", "leave one speaker out") for n in (grid.LEVEL_BASE, *grid.LEVEL_POINTS)]
    assert found.table.loc[f"leave one speaker out, {point}", "read from"] == "not run" and found.table.loc[f"random folds, {point}", "read from"] == "this build"
    paired = found.table.loc[f"random folds, {point}", "UA vs the profile (points)"]
    assert float(paired.split()[0]) > 0  # 80 % against 60 % of each class, paired over the same seeds x folds
    sentence = found.facts["level_points_sentence"]
    assert "0.0 % of its predictions change at -24 dB, 0.0 % of its predictions change at -12 dB, 0.0 % of its predictions change at +6 dB" in sentence  # in the gains' order and f"within the goal of at most {LEVEL_GOAL_CHANGED:.0f} %" in sentence
    assert found.facts["clipped_sentence"].startswith("At +6 dB, ")
    assert found.facts["level_short"] == f"{grid.LEVEL_BASE}: 25 % of the predictions change at -24 dB; {point}: 0 % of the predictions change at -24 dB"
    assert "leave one speaker out" not in sentence  # nothing to pair there
    assert all(f"{n[0].upper()}{n[1:]} has not been run" in sentence for n in list(grid.LEVEL_POINTS)[1:])
    level = found.extra["level"]
    assert set(level.index) == {f"random folds, {grid.LEVEL_BASE}", f"random folds, {point}", f"leave one speaker out, {grid.LEVEL_BASE}"}
    assert level.loc[f"random folds, {grid.LEVEL_BASE}", ("-24 dB", "changed (%)")] != "0" and level.loc[f"random folds, {point}", ("-24 dB", "changed (%)")] == "0"
    # nothing run: the sentence says how to run it
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path / "empty"))
    assert "has not been run for the smoke profile" in level_points("smoke", str(small_corpus), verify=False).facts["level_points_sentence"]


def test_gain_normalization_removes_one_number_and_keeps_the_spectrum_s_shape():
    """``level="gain"`` takes the static channel's mean over frames and bands out, so band
    differences (the long-term spectrum) stay; ``"utterance"`` takes each band's mean, so they go."""
    from adcrnn_lib.features import log_mel_3d, remove_level

    f = log_mel_3d(0.3 * tone(190, 1.5, seed=4))
    gain, per_band = remove_level(f, per_band=False), remove_level(f)
    np.testing.assert_allclose(gain[:, :, 0].mean(), 0.0, atol=1e-4)
    np.testing.assert_allclose(gain[:, :, 0] - f[:, :, 0], np.full(f.shape[:2], -f[:, :, 0].mean()), atol=1e-3)
    np.testing.assert_allclose(per_band[:, :, 0].mean(axis=0), 0.0, atol=1e-4)
    assert np.ptp(gain[:, :, 0].mean(axis=0)) > 1.0 and np.ptp(per_band[:, :, 0].mean(axis=0)) < 1e-3
    np.testing.assert_array_equal(gain[:, :, 1:], f[:, :, 1:])
    # the normalizer applies the option it was fitted with
    from adcrnn_lib.features import Normalizer

    for level, removed in (("gain", gain), ("utterance", per_band)):
        normalizer = Normalizer.fit([f], level=level)
        np.testing.assert_allclose(normalizer.transform(f), (removed - normalizer.mean) / normalizer.std, atol=1e-4)
