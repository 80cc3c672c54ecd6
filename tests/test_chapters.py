"""adcrnn_lib.chapters: every fact glued into chapters 3-7, from constructed runs whose answer is known.

Each run is a set of fold records written by hand (:func:`tests.helpers.runs.constructed_records`),
right on a chosen share of each class's test utterances, fold by fold, so every WA, UA, gap and
paired difference below is computed here from the predictions (:func:`tests.helpers.runs.hand_scores`),
independently of :mod:`adcrnn_lib.metrics`. The chapters read these runs as they read trained ones;
a fixture makes sure they train nothing. The differences are built with a known sign, so a chapter
that swapped the two sides of one fails.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from adcrnn_lib import chapters, data
from adcrnn_lib.chapters.paper import TABLE_IV, TABLE_V
from adcrnn_lib.experiments import cv, grid
from adcrnn_lib.experiments.results import results_root, run_dir

from .helpers.quality import write_quality_record
from .helpers.runs import constructed_folds, constructed_records, hand_scores, write_records

PROFILE, FEATURES = "smoke", "egemaps"


@pytest.fixture(scope="module")
def table(small_corpus):
    return data.load_emodb(small_corpus, verify=False)


@pytest.fixture(autouse=True)
def reads_only(monkeypatch):
    """The chapters may read runs but never train or extract features: every run they need is written here."""
    from adcrnn_lib.experiments import baselines

    monkeypatch.setattr(cv, "extract_features", lambda paths, **kw: [None] * len(paths))
    monkeypatch.setattr(cv, "run_fold", lambda *a, **kw: pytest.fail("a chapter trained an ADCRNN fold"))
    monkeypatch.setattr(baselines, "opensmile_features", lambda paths, **kw: np.zeros((len(paths), 1)))
    monkeypatch.setattr(baselines, "fit_fold", lambda *a, **kw: pytest.fail("a chapter fitted a baseline fold"))


def _write(config, table, accuracy, *, root=None, wall: float = 1.0, machine: dict | None = None) -> list[dict]:
    """Write a finished run of ``config`` under ``root`` (default: the results root) and return its records.

    ``accuracy``: the share of each class's test utterances predicted right, one for every fold or
    a list with one per fold; ``wall``: each fold's wall time; ``machine``: the provenance's machine.
    """
    n = len(constructed_folds(table, config.protocol, 0.5, seed=config.seed))
    shares = list(accuracy) if isinstance(accuracy, (list, tuple)) else [accuracy] * n
    assert len(shares) == n
    folds = [constructed_folds(table, config.protocol, share, seed=config.seed)[k] for k, share in enumerate(shares)]
    records = constructed_records(config, folds)
    for r in records:
        r["wall_time_s"] = wall
        if machine is not None:
            r["provenance"]["machine"] = machine
    write_records(records, run_dir(config, root))
    return records


def _scores(records, metric: str) -> list[float]:
    """Per fold, ``metric`` recomputed by hand from the fold's predictions."""
    return [hand_scores([p["true"] for p in r["predictions"]], [p["pred"] for p in r["predictions"]])[metric] for r in records]


def _mean(records, metric: str = "ua") -> float:
    """The mean over folds of ``metric`` in %, by hand."""
    return 100 * float(np.mean(_scores(records, metric)))


def _diff(a, b, metric: str = "ua") -> float:
    """``b - a`` in points, paired fold by fold, by hand."""
    return 100 * float(np.mean(np.subtract(_scores(b, metric), _scores(a, metric))))


def _shows(fact: str, value: float, *, signed: bool = False) -> None:
    """``fact`` is ``value`` written with one decimal (and its sign when ``signed``)."""
    assert re.fullmatch(r"[+-]\d+\.\d" if signed else r"-?\d+\.\d", fact), fact
    assert float(fact) == pytest.approx(value, abs=0.05 + 1e-9), (fact, value)


def _paired(cell: str, a, b, metric: str = "ua") -> float:
    """Check a paired cell ``"+1.2 [-0.4, +2.9], p=0.210"`` shows ``b - a`` and the interval of
    :func:`~adcrnn_lib.experiments.cv.compare`; return the difference."""
    diff = _diff(a, b, metric)
    head, interval = cell.split(" [", 1)
    _shows(head, diff, signed=True)
    run = lambda records: cv.CVResult(None, records, None)  # noqa: E731
    c = cv.compare(run(a), run(b))[metric]
    assert interval.startswith(f"{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]")
    return diff


# ------------------------------------------------------------------------------------------
# chapter 3: the baseline
# ------------------------------------------------------------------------------------------
def test_baseline_chapter_states_each_protocol_s_scores_and_normalization_gain(table, small_corpus):
    configs = grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE)
    shares = {("paper", False): [0.5, 0.6], ("paper", True): [0.8, 0.9], ("loso", False): [0.7, 0.6, 0.7], ("loso", True): [0.4, 0.5, 0.3]}
    runs = {key: _write(config, table, shares[key]) for key, config in configs.items()}
    found = chapters.baseline_chapter(PROFILE, str(small_corpus), seed=0, features=FEATURES, classifier="logreg", verify=False)
    facts = found.facts
    assert facts["baseline_name"] == "egemaps + logreg" and facts["paper_none"] == f"{TABLE_V['none'][0]:.2f}"
    for (protocol, norm), records in runs.items():
        tag = f"{protocol}{'_norm' if norm else ''}"
        _shows(facts[f"wa_{tag}"], _mean(records, "wa"))
        _shows(facts[f"ua_{tag}"], _mean(records, "ua"))
    # the gain is the normalized run minus the plain one: + under the paper's protocol, - across speakers here
    gain = {p: _diff(runs[(p, False)], runs[(p, True)], "wa") for p in ("paper", "loso")}
    assert gain["paper"] > 20 and gain["loso"] < -10
    for protocol in ("paper", "loso"):
        _shows(facts[f"norm_gain_{protocol}"], gain[protocol], signed=True)
        for metric in ("wa", "ua"):
            row = found.extra["normalization"].loc[(chapters.PROTOCOL_NAMES[protocol], metric.upper())]
            _shows(row["difference (points)"], _diff(runs[(protocol, False)], runs[(protocol, True)], metric), signed=True)
    assert found.table["folds"].tolist() == [2, 2, 3, 3, 5]  # the runs' folds, then the paper's row


# ------------------------------------------------------------------------------------------
# chapter 4: leave one speaker out
# ------------------------------------------------------------------------------------------
def test_loso_chapter_states_gaps_paired_differences_and_speakers(table, small_corpus):
    loso_cfg = grid.loso_configs(PROFILE, small_corpus, augmentation="time_shift")
    hda_cfg = grid.hda_configs(PROFILE, small_corpus)
    base_cfg = grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE)
    loso = {
        "none": _write(loso_cfg["none"], table, [0.0, 0.5, 1.0]),  # one speaker a fold: the per-speaker table differs by speaker
        "time_shift": _write(loso_cfg["time_shift"], table, [1.0, 1.0, 0.5]),
        chapters.NORMALIZED: _write(loso_cfg[chapters.NORMALIZED], table, [0.5, 0.0, 0.0]),
    }
    paper = {"none": _write(hda_cfg["none"], table, 0.9), "time_shift": _write(hda_cfg["time_shift"], table, 0.95)}
    bases = {key: _write(config, table, {("paper", False): 0.8, ("paper", True): 0.7, ("loso", False): 0.0, ("loso", True): 0.5}[key]) for key, config in base_cfg.items()}

    found = chapters.loso_chapter(PROFILE, str(small_corpus), augmentation="time_shift", seed=0, baseline_features=FEATURES, verify=False)
    facts = found.facts
    assert facts["aug_name"] == "time shifting" and found.extra["aug"] == "time_shift"
    _shows(facts["loso_ua_none"], _mean(loso["none"]))
    _shows(facts["loso_ua_aug"], _mean(loso["time_shift"]))
    _shows(facts["loso_ua_norm"], _mean(loso[chapters.NORMALIZED]))
    # the gaps: random folds minus leave-one-speaker-out, so positive here
    gap, base_gap = _mean(paper["none"]) - _mean(loso["none"]), _mean(bases[("paper", False)]) - _mean(bases[("loso", False)])
    assert gap > 20 and base_gap > 50
    _shows(facts["gap_none"], gap)
    _shows(facts["base_gap"], base_gap)
    # paired against leave-one-speaker-out without augmentation: augmentation gains, normalization loses
    assert _paired(facts["loso_aug_vs_none"], loso["none"], loso["time_shift"]) > 20
    assert _paired(facts["loso_norm_vs_none"], loso["none"], loso[chapters.NORMALIZED]) < -20
    assert facts["loso_vs_base"] == "better"  # ADCRNN (about 50 %) against the baseline across speakers (0 %)
    _shows(facts["norm_base_ua"], _mean(bases[("loso", True)]))
    # WA per speaker: each leave-one-speaker-out fold is one speaker
    per = found.extra["per_speaker"]
    assert sorted(per.index) == sorted(table["speaker"].astype(str).unique())
    for name, records in loso.items():
        for record, wa in zip(records, _scores(records, "wa")):
            (speaker,) = {p["utterance"][:2] for p in record["predictions"]}
            assert per.loc[speaker, f"WA (%), {name}"] == pytest.approx(round(100 * wa, 1))
    assert per["WA (%), none"].nunique() == 3


# ------------------------------------------------------------------------------------------
# chapter 5: Table IV and Table VI
# ------------------------------------------------------------------------------------------
#: Table IV's models, right on these shares of each class: the best model has no attention, and
#: among those with attention Lf4 is best, so attention loses and Lf4 gains against model 3.
ABLATION_SHARES = {(False, "lf1"): 0.95, (True, "lf2"): 0.5, (True, "lf1"): [0.6, 0.7], (True, "lf3"): 0.4, (True, "lf4"): [0.8, 0.9]}


def test_table_iv_names_the_best_model_and_loss_and_pairs_attention_and_lf4(table, small_corpus):
    runs = {key: _write(config, table, ABLATION_SHARES[key]) for key, config in grid.ablation_configs(PROFILE, small_corpus).items()}
    for norm, config in ((False, grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE)[("paper", False)]), (True, grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE)[("paper", True)])):
        _write(config, table, 0.6 if norm else 0.5)
    write_quality_record(PROFILE, shares={"wavegan": 0.25})
    found = chapters.table_iv(PROFILE, str(small_corpus), seed=0, baseline_features=FEATURES, verify=False)
    assert set(found.table[chapters.GAN_QUALITY_COLUMN].iloc[:5]) == {"25 (20 steps)"}  # every model trains on WaveGAN data
    facts = found.facts
    assert facts["best_model"] == chapters.MODEL_NAMES[(False, "lf1")]
    _shows(facts["best_model_ua"], _mean(runs[(False, "lf1")]))
    assert facts["best_loss"] == "Lf4"
    _shows(facts["best_loss_ua"], _mean(runs[(True, "lf4")]))
    assert _paired(facts["attention_gain"], runs[(False, "lf1")], runs[(True, "lf1")]) < -10  # model 3 - model 1
    assert _paired(facts["lf4_vs_lf1"], runs[(True, "lf1")], runs[(True, "lf4")]) > 10  # model 5 - model 3
    assert facts["paper_lf1"] == f"{TABLE_IV[(True, 'lf1')][0]:.2f}" and facts["paper_lf4"] == f"{TABLE_IV[(True, 'lf4')][0]:.2f}"
    row = found.table.loc[f"5. {chapters.MODEL_NAMES[(True, 'lf4')]}"]
    assert row["UA vs model 3 (points)"] == facts["lf4_vs_lf1"] and row["vs best baseline (UA)"] == "better"


def test_table_vi_counts_configurations_better_and_worse_than_the_best_baseline(table, small_corpus):
    """Against the best baseline (right on 60 %, the other on 20 %): four configurations clearly better, two clearly
    worse, three with the baseline's own predictions (no difference at all)."""
    hda_shares = {"none": 0.6, "time_shift": 0.95, "pitch_shift": 0.1, "wavegan": 0.9, "specgan": 0.6}
    abl_shares = {(False, "lf1"): 0.6, (True, "lf2"): 0.95, (True, "lf3"): 0.95, (True, "lf4"): 0.2}
    for aug, config in grid.hda_configs(PROFILE, small_corpus).items():
        _write(config, table, hda_shares[aug])
    for key, config in grid.ablation_configs(PROFILE, small_corpus).items():
        if key != (True, "lf1"):  # model 3 is Table V's WaveGAN row
            _write(config, table, abl_shares[key])
    baselines = {key: _write(config, table, 0.6 if key[1] else 0.2) for key, config in grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE).items() if key[0] == "paper"}
    found = chapters.table_vi(PROFILE, str(small_corpus), seed=0, baseline_features=FEATURES, verify=False)
    assert found.facts["n_configs"] == len(hda_shares) + len(abl_shares) == 9
    assert (found.facts["n_better"], found.facts["n_worse"]) == (4, 2)
    _shows(found.facts["baseline_ua"], _mean(baselines[("paper", True)]))
    verdicts = found.extra["versus"]["verdict (UA)"]
    assert verdicts[f"Lf1, {chapters.AUGMENTATION_NAMES['pitch_shift']}"] == "worse" and verdicts[f"WaveGAN, {chapters.MODEL_NAMES[(True, 'lf3')]}"] == "better"
    assert verdicts[f"Lf1, {chapters.AUGMENTATION_NAMES['none']}"] == "no clear difference"
    assert found.extra["best_baseline_name"] == "egemaps + logreg (speaker-normalized)"


# ------------------------------------------------------------------------------------------
# chapter 7: reproducibility
# ------------------------------------------------------------------------------------------
def _same_share(ours, ref) -> float:
    """% of test utterances both runs predict alike, by hand."""
    theirs = {p["utterance"]: p["pred"] for r in ref for p in r["predictions"]}
    pairs = [p["pred"] == theirs[p["utterance"]] for r in ours for p in r["predictions"]]
    return 100 * sum(pairs) / len(pairs)


def test_run_table_compares_this_build_with_the_reference_run_by_run(table, small_corpus, tmp_path):
    reference = tmp_path / "reference"
    hda = grid.hda_configs(PROFILE, small_corpus)
    ours = {aug: _write(config, table, {"none": 0.5, "time_shift": 0.6, "pitch_shift": 0.9, "wavegan": 0.4, "specgan": 0.3}[aug], wall=120.0) for aug, config in hda.items()}
    for key, config in grid.ablation_configs(PROFILE, small_corpus).items():
        if key != (True, "lf1"):
            _write(config, table, 0.5, wall=120.0)
    loso = grid.loso_configs(PROFILE, small_corpus)  # the best augmentation of Table V: pitch shifting
    assert list(loso) == ["none", "none, speaker-normalized", "pitch_shift"]
    for config in loso.values():
        _write(config, table, 0.5, wall=120.0)
    bases = grid.baseline_configs(small_corpus, features=FEATURES, profile=PROFILE)
    for key, config in bases.items():
        if key != ("loso", True):  # not run here
            _write(config, table, 0.7, wall=120.0)
    n_folds = 5 * 2 + 4 * 2 + 3 * 3 + 2 * 2 + 1 * 3
    # the reference: the same none run, another time-shift run, and the baseline this build lacks
    ref_none = _write(hda["none"], table, 0.5, root=reference)
    ref_shift = _write(hda["time_shift"], table, 0.9, root=reference)
    _write(bases[("loso", True)], table, 0.7, root=reference)

    found = chapters.run_table(PROFILE, str(small_corpus), seed=0, baseline_features=FEATURES, reference=reference)
    shown = found.table
    assert found.facts["n_runs"] == len(shown) == 5 + 4 + 3 + 4
    assert found.facts["n_ref"] == 2 and found.facts["fold_hours"] == f"{n_folds * 120 / 3600:.2f}"
    none, shift = shown.loc["Table V, no augmentation"], shown.loc["Table V, time shifting"]
    assert none["same prediction (%)"] == "100.0" and _same_share(ours["none"], ref_none) == 100
    share = _same_share(ours["time_shift"], ref_shift)
    assert 0 < share < 100
    _shows(shift["same prediction (%)"], share)
    wa = _scores(ours["time_shift"], "wa")
    assert shift["WA ours (%)"] == f"{100 * np.mean(wa):.1f} ± {100 * np.std(wa, ddof=1):.1f}"
    assert shift["UA reference (%)"].startswith(f"{_mean(ref_shift):.1f} ± ")
    assert shift["the paper's accuracy (%)"] == f"{TABLE_V['time_shift'][0]:.1f}" and shown.loc["Table V, WaveGAN", "UA reference (%)"] == "none"
    missing = shown.loc["baseline, leave one speaker out, speaker-norm"]
    assert missing["WA ours (%)"] == "not run" and missing["UA reference (%)"] != "none" and missing["same prediction (%)"] == ""
    assert "baseline, leave one speaker out, speaker-norm" not in found.results and len(found.results) == 15


def test_retrain_chapter_compares_the_retrained_fold_with_the_reference_s(table, small_corpus, tmp_path):
    reference = tmp_path / "reference"
    missing = chapters.retrain_chapter(PROFILE, str(small_corpus), seed=0, verify=False, reference=reference)
    assert missing.table.empty and len(set(missing.facts.values())) == 1 and "no such fold" in missing.facts["retrain_same"]

    config = grid.hda_configs(PROFILE, small_corpus)["none"]
    ref = _write(config, table, 0.5, root=reference, machine={"cpu": "AMD EPYC", "isa": ["avx2", "avx512f"]})
    retrained = _write(config, table, 0.8, root=results_root() / grid.RETRAIN_DIR, machine={"cpu": "Intel Xeon", "isa": ["avx2"]})
    found = chapters.retrain_chapter(PROFILE, str(small_corpus), seed=0, verify=False, reference=reference)
    share = _same_share(retrained[:1], ref[:1])
    assert 0 < share < 100
    _shows(found.facts["retrain_same"], share)
    assert found.facts["retrain_max_diff"] == "0.65"  # a constructed prediction puts 0.7 on its class, 0.05 elsewhere
    assert found.facts["retrain_machines"] == "different CPUs (model or instruction sets)"
    rows = found.table
    _shows(rows.loc["the reference's fold 0", "WA (%)"], 100 * _scores(ref[:1], "wa")[0])
    _shows(rows.loc["fold 0 trained again here", "UA (%)"], 100 * _scores(retrained[:1], "ua")[0])
    assert rows.loc["fold 0 trained again here", "CPU"] == "Intel Xeon" and rows.loc["the reference's fold 0", "instruction sets"] == "avx2, avx512f"


def test_gan_quality_report_is_shown_as_two_tables_with_readable_headers():
    """The report's 12 columns would not fit a page: scores and memorization in one table, the clips
    screened out in the other, under headers that wrap; every column shown once, rounded."""
    import pandas as pd

    columns = [*chapters.GAN_QUALITY_COLUMNS, *chapters.GAN_SCREENING_COLUMNS]
    index = pd.MultiIndex.from_product([["wavegan", "specgan"], ["boredom", "fear"]], names=["GAN", "emotion"])
    report = pd.DataFrame(np.arange(len(index) * len(columns), dtype=float).reshape(len(index), -1) / 7, index=index, columns=sorted(columns))
    quality, screening = chapters.gan_quality_tables(report)
    assert list(quality.columns) == list(chapters.GAN_QUALITY_COLUMNS.values()) and list(screening.columns) == list(chapters.GAN_SCREENING_COLUMNS.values())
    assert quality.loc[("specgan", "fear"), "intended share"] == round(report.loc[("specgan", "fear"), "intended_share"], 3)
    assert all("_" not in c for c in [*quality.columns, *screening.columns]) and quality.index.equals(index)
    assert list(chapters.gan_quality_tables(report.drop(columns="steps"))[1].columns)[0] == "drawn"


def test_corpus_chapter_counts_the_corpus_it_finds(small_corpus):
    from adcrnn_lib.data import EMOTIONS, load_emodb

    found = chapters.corpus_chapter(str(small_corpus), profile="smoke", verify=False)
    df = load_emodb(small_corpus, verify=False)
    assert found.facts["n_utterances"] == len(df) == found.table["utterances"].sum() and found.facts["n_speakers"] == 3
    assert list(found.table.index) == list(EMOTIONS) and found.facts["n_largest"] == found.table["utterances"].max()
    assert found.extra["sex"].loc["total", "total"] == len(df)
    assert len(found.extra["folds"]["loso"]) >= 3 and found.extra["happy"]["emotion"] == "happiness"
    assert found.extra["log_mel"].shape[-1] == 3  # static, delta, delta-delta


def test_augmentation_chapter_states_the_fold_s_balancing_and_the_classic_examples(small_corpus):
    import pandas as pd

    found = chapters.balancing_chapter(str(small_corpus), profile="smoke", seed=0, verify=False)
    counts = found.table
    assert found.facts["n_anger_fold"] == counts.loc["anger", "original"] and found.facts["n_train_fold"] == counts["original"].sum()
    assert found.facts["n_generated_time_shift"] == (counts["+ time_shift"] - counts["original"]).sum()
    facts, versions = chapters.classic_examples(found.extra["df"], pitch_steps=-1.5)
    assert facts["pitch_steps"] == "-1.5" and facts["tau_samples"] == 160 and len(versions) == 3
    (original, _), (shifted, _), _ = versions.values()
    assert len(shifted) == len(original) and sorted(shifted) == sorted(original)  # a roll keeps every sample
    report = pd.DataFrame({"intended_share": [0.2, 0.4], "inception_score": [1.0, 2.0], "ratio": [0.9, 1.1], "share_closer_than_train_p5": [0.6, 0.0]})
    assert chapters.gan_quality_facts(report) == {"gan_intended_mean": "30", "gan_inception_mean": "1.50", "gan_ratio_min": "0.90", "gan_flagged": 1, "gan_count": 2}


def test_a_page_checks_its_parameters_and_states_its_provenance():
    from adcrnn_lib.exceptions import ParameterError

    page = chapters.start_page("smoke", data_dir="", verify_checksums=False, seed=3)
    table = page.provenance(extra_fact="x")
    values = dict(zip(table.index, table.iloc[:, 0]))
    assert values["profile"] == "smoke" and values["seed"] == 3 and values["data_dir"] == "(searched)" and values["extra_fact"] == "x"
    assert "seed" not in set(chapters.start_page("smoke", data_dir="", verify_checksums=True).provenance().index)  # a page without one
    for bad in ({"profile": "nope"}, {"seed": -1}, {"verify_checksums": "yes"}, {"data_dir": 3}):
        kw = {"profile": "smoke", "data_dir": "", "verify_checksums": True, "seed": 0, **bad}
        with pytest.raises(ParameterError, match=next(iter(bad))):
            chapters.start_page(kw.pop("profile"), **kw)
    with pytest.raises(ParameterError, match="run_missing"):
        chapters.check_flag("run_missing", "no")
