"""Chapters 3 to 5: Table V (each augmentation against none and the baseline), one page per
augmentation, Table IV (the models) and Table VI (the losses).
"""

from __future__ import annotations

import pandas as pd

from .augmentation import GAN_QUALITY_COLUMN, gan_learning_fact, gan_quality_cell
from .baseline import baseline_name, baselines_of, paper_baselines
from .common import AUGMENTATION_NAMES, MODEL_NAMES, Findings, fold_scores, paired_ua_cell, ua_cell, wa_cell

__all__ = ["hda_runs", "table_v", "hda_page", "table_iv", "table_vi"]


# --------------------------------------------------------------------------------------------
# Table V and its pages
# --------------------------------------------------------------------------------------------
def hda_runs(profile: str, data_dir, *, seed: int, verify: bool, only=None) -> dict[str, list]:
    """Table V's runs (the augmentations in ``only``, default all): augmentation -> one run per
    seed of :func:`~adcrnn_lib.experiments.grid.table_v_seeds` (``seed``'s first)."""
    from ..experiments.cv import run_cv
    from ..experiments.grid import hda_configs, table_v_seeds

    by_seed = [hda_configs(profile, data_dir, seed=s) for s in table_v_seeds(profile, seed)]
    return {aug: [run_cv(configs[aug], verify=verify, progress=False) for configs in by_seed] for aug in by_seed[0] if only is None or aug in only}


def table_v(profile: str, data_dir: str, *, seed: int, baseline_features: str, verify: bool) -> Findings:
    """Table V: each augmentation's WA and UA, the paper's number, the paired difference against none,
    and the verdict against the best baseline (paper protocol) on the same test utterances.

    Every row is run with each seed of :func:`~adcrnn_lib.experiments.grid.table_v_seeds` (each seed draws its
    own folds); scores are over seeds x folds, paired over them, with the between-seed spread beside.

    ``facts``: ``profile_name``; ``n_seeds``; ``none_wa``, ``none_ua``, ``none_seed_spread`` (UA
    points); ``best_aug`` (name), ``best_aug_ua``, ``best_aug_vs_none`` (paired UA cell);
    ``best_baseline`` (name), ``best_baseline_ua``; ``n_beat`` (rows better than the best
    baseline); the paper's ``paper_none``, ``paper_best_aug`` (name) and ``paper_best_aug_acc``;
    ``gan_learning`` (a sentence: how well the GANs behind rows 4 and 5 learned, from fold 0's
    quality report, :func:`~adcrnn_lib.experiments.quality.gan_learning_sentence`).
    ``extra``: ``best_baseline`` (its runs pooled over the seeds) and ``recall`` (per-emotion recall per row).
    """
    from ..experiments.cv import pool_seeds
    from . import report
    from .paper import TABLE_V
    from .plots import class_labels

    runs = hda_runs(profile, data_dir, seed=seed, verify=verify)
    results = {aug: pool_seeds(r) for aug, r in runs.items()}
    baselines = paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)
    best_key = report.best_of({k: pool_seeds(v) for k, v in baselines.items()})
    best, best_pooled = baselines[best_key], pool_seeds(baselines[best_key])
    rows = [
        {"label": f"{i}. {AUGMENTATION_NAMES[aug]}", "result": r, "paper": TABLE_V[aug], "base": runs["none"], "base_name": "none", "versus": best, "versus_name": "best baseline"}
        | ({"extra": {GAN_QUALITY_COLUMN: gan_quality_cell(profile, seed=seed, kind=aug)}} if aug in ("wavegan", "specgan") else {})
        for i, (aug, r) in enumerate(runs.items(), 1)
    ]
    rows += [{"label": f"baseline: {baseline_name(baseline_features, 'logreg', norm)}", "result": b} for (_, norm), b in baselines.items()]
    top = report.best_of({a: r for a, r in results.items() if a != "none"})
    paper_top = max((a for a in TABLE_V if a != "none"), key=lambda a: TABLE_V[a][0])
    facts = {
        "profile_name": profile,
        "n_seeds": len(runs["none"]),
        "none_wa": wa_cell(results["none"]),
        "none_ua": ua_cell(results["none"]),
        "none_seed_spread": report.seed_spread(runs["none"]),
        "best_aug": AUGMENTATION_NAMES[top],
        "best_aug_ua": ua_cell(results[top]),
        "best_aug_vs_none": paired_ua_cell(results["none"], results[top]),
        "best_baseline": baseline_name(baseline_features, "logreg", best_key[1]),
        "best_baseline_ua": ua_cell(best_pooled),
        "n_beat": sum(report.verdict(best_pooled, r) == "better" for r in results.values()),
        "paper_none": f"{TABLE_V['none'][0]:.2f}",
        "paper_best_aug": AUGMENTATION_NAMES[paper_top],
        "paper_best_aug_acc": f"{TABLE_V[paper_top][0]:.2f}",
        "gan_learning": gan_learning_fact(profile, seed=seed),
    }
    recall = pd.DataFrame({AUGMENTATION_NAMES[a]: 100 * r.confusion().diagonal() / r.confusion().sum(axis=1) for a, r in results.items()}, index=class_labels()).round(1)
    named = {AUGMENTATION_NAMES[a]: r for a, r in results.items()}
    return Findings(named, report.results_table(rows), facts, {"best_baseline": best_pooled, "recall": recall})


def hda_page(augmentation: str, profile: str, data_dir: str, *, seed: int, baseline_features: str, verify: bool) -> Findings:
    """One Table V row: this augmentation against none and the baseline (paper protocol, no
    normalization), over the seeds of :func:`~adcrnn_lib.experiments.grid.table_v_seeds`.

    ``facts``: ``aug`` (name), ``wa``, ``ua``, ``n_seeds``, ``paper_acc``, ``vs_baseline`` (verdict).
    ``extra``: ``result`` (this row's runs pooled over seeds), ``recall`` (a one-row table) and
    ``folds`` (scores per seed and fold, in %).
    """
    from ..exceptions import ParameterError
    from ..experiments.cv import pool_seeds
    from ..experiments.grid import hda_configs
    from . import report
    from .paper import TABLE_V
    from .plots import class_labels

    configs = hda_configs(profile, data_dir, seed=seed)  # validates profile and seed
    if augmentation not in configs:
        raise ParameterError(f"augmentation={augmentation!r}; allowed: {', '.join(configs)}")
    runs = hda_runs(profile, data_dir, seed=seed, verify=verify, only=(augmentation, "none"))
    mine, none = runs[augmentation], runs["none"]
    baseline = paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)[("paper", False)]
    result = pool_seeds(mine)
    name = AUGMENTATION_NAMES[augmentation]
    rows = [{"label": f"ADCRNN + Lf1, {name}", "result": mine, "paper": TABLE_V[augmentation], "base": none, "base_name": "none", "versus": baseline, "versus_name": "baseline"}]
    if augmentation != "none":
        rows.append({"label": "ADCRNN + Lf1, no augmentation", "result": none, "paper": TABLE_V["none"], "versus": baseline, "versus_name": "baseline"})
    rows.append({"label": f"baseline: openSMILE {baseline_features} + logistic regression", "result": baseline})
    facts = {"aug": name, "wa": wa_cell(result), "ua": ua_cell(result), "n_seeds": len(mine), "paper_acc": f"{TABLE_V[augmentation][0]:.2f}", "vs_baseline": report.verdict(pool_seeds(baseline), result)}
    matrix = result.confusion()
    recall = pd.DataFrame({"recall (%)": (100 * matrix.diagonal() / matrix.sum(axis=1)).round(1)}, index=class_labels()).T
    return Findings({name: result, "no augmentation": pool_seeds(none), "baseline": pool_seeds(baseline)}, report.results_table(rows), facts, {"result": result, "recall": recall, "folds": fold_scores(result)})


# --------------------------------------------------------------------------------------------
# Table IV and Table VI
# --------------------------------------------------------------------------------------------
def _ablation(profile: str, data_dir, *, seed: int, verify: bool) -> dict:
    from ..experiments.cv import run_cv
    from ..experiments.grid import ablation_configs

    return {k: run_cv(c, verify=verify, progress=False) for k, c in ablation_configs(profile, data_dir, seed=seed).items()}


def table_iv(profile: str, data_dir: str, *, seed: int, baseline_features: str, verify: bool) -> Findings:
    """Table IV: attention and the four losses on WaveGAN data, against model 3 and the best baseline.

    ``facts``: ``best_model`` (name), ``best_model_ua``; ``best_loss`` (the loss of the best model
    with attention), ``best_loss_ua``; ``attention_gain`` (model 3 - model 1) and ``lf4_vs_lf1``
    (model 5 - model 3), paired UA cells; the paper's ``paper_lf1``, ``paper_lf4``;
    ``gan_learning`` (how well the WaveGANs behind every row learned, as in :func:`table_v`).
    ``extra["curves"]``: model name -> run, for the training curves.
    """
    from . import report
    from .paper import TABLE_IV

    results = _ablation(profile, data_dir, seed=seed, verify=verify)
    baselines = baselines_of(profile, data_dir, seed=seed, features=baseline_features, verify=verify, protocol="paper")
    best = baselines[report.best_of(baselines)]
    ref = results[(True, "lf1")]
    gans = gan_quality_cell(profile, seed=seed, kind="wavegan")  # every model trains on WaveGAN data
    rows = [
        {"label": f"{i}. {MODEL_NAMES[k]}", "result": r, "paper": TABLE_IV[k], "base": ref, "base_name": "model 3", "versus": best, "versus_name": "best baseline",
         "extra": {GAN_QUALITY_COLUMN: gans}}
        for i, (k, r) in enumerate(results.items(), 1)
    ]
    rows += [{"label": f"baseline: {baseline_name(baseline_features, 'logreg', norm)}", "result": b} for (_, norm), b in baselines.items()]
    top = report.best_of(results)
    top_loss = report.best_of({k: r for k, r in results.items() if k[0]})
    facts = {
        "best_model": MODEL_NAMES[top],
        "best_model_ua": ua_cell(results[top]),
        "best_loss": top_loss[1].upper().replace("LF", "Lf"),
        "best_loss_ua": ua_cell(results[top_loss]),
        "attention_gain": paired_ua_cell(results[(False, "lf1")], ref),
        "lf4_vs_lf1": paired_ua_cell(ref, results[(True, "lf4")]),
        "paper_lf1": f"{TABLE_IV[(True, 'lf1')][0]:.2f}",
        "paper_lf4": f"{TABLE_IV[(True, 'lf4')][0]:.2f}",
        "gan_learning": gan_learning_fact(profile, seed=seed),
    }
    curves = {MODEL_NAMES[k]: r for k, r in results.items()}
    return Findings(curves, report.results_table(rows), facts, {"curves": curves})


def table_vi(profile: str, data_dir: str, *, seed: int, baseline_features: str, verify: bool) -> Findings:
    """Table VI as the paper prints it (cited numbers) beside ours, every configuration against the
    best baseline, and the summary figure's rows.

    ``facts``: ``n_configs``, ``n_better``, ``n_worse`` (verdicts against the best baseline) and
    ``baseline_ua`` (the best baseline over Table V's seeds, what Table V's rows are judged against;
    Table IV's rows, of the book's seed only, are judged against that seed's run).
    ``extra``: ``versus`` (the table of every configuration against the best baseline),
    ``summary_groups``, ``best_baseline`` and ``best_baseline_name`` (for
    :func:`~adcrnn_lib.chapters.plots.plot_summary`).
    """
    from ..experiments.cv import pool_seeds
    from . import report
    from .paper import TABLE_IV, TABLE_V, TABLE_VI

    hda = {a: pool_seeds(r) for a, r in hda_runs(profile, data_dir, seed=seed, verify=verify).items()}  # over Table V's seeds
    abl = _ablation(profile, data_dir, seed=seed, verify=verify)
    baselines = paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)
    best_key = report.best_of({k: pool_seeds(v) for k, v in baselines.items()})
    best_seeds = pool_seeds(baselines[best_key])  # for Table V's rows
    best = baselines[best_key][0]  # Table IV's rows have seed ``seed`` only
    best_name = baseline_name(baseline_features, "logreg", best_key[1])
    rows = [{"label": name, "paper": acc, "result": None} for name, acc in TABLE_VI.items()]
    rows += [
        {"label": "ours: ADCRNN + WaveGAN + Lf1", "result": abl[(True, "lf1")], "versus": best, "versus_name": "best baseline"},
        {"label": "ours: ADCRNN + WaveGAN + Lf4", "result": abl[(True, "lf4")], "versus": best, "versus_name": "best baseline"},
        {"label": f"ours: best baseline, {best_name}", "result": best},
    ]
    configs = {f"Lf1, {AUGMENTATION_NAMES[a]}": (r, best_seeds) for a, r in hda.items()}
    configs.update({f"WaveGAN, {MODEL_NAMES[k]}": (r, best) for k, r in abl.items() if k != (True, "lf1")})
    versus = pd.DataFrame(
        [
            {"configuration": k, "seeds": len({f["config"]["seed"] for f in r.folds}), **report.result_cells(r), **report.paired_cells(b, r, name="baseline"), "verdict (UA)": report.verdict(b, r)}
            for k, (r, b) in configs.items()
        ]
    ).set_index("configuration")
    facts = {
        "n_configs": len(configs),
        "n_better": int((versus["verdict (UA)"] == "better").sum()),
        "n_worse": int((versus["verdict (UA)"] == "worse").sum()),
        "baseline_ua": ua_cell(best_seeds),  # the baseline Table V's rows are judged against
    }
    groups = {
        "Table V: augmentation (loss Lf1)": [{"label": AUGMENTATION_NAMES[a], "result": r, "paper": TABLE_V[a]} for a, r in hda.items()],
        "Table IV: attention and loss (WaveGAN data)": [{"label": MODEL_NAMES[k], "result": r, "paper": TABLE_IV[k]} for k, r in abl.items()],
    }
    results = {**{f"Table V, {AUGMENTATION_NAMES[a]}": r for a, r in hda.items()}, **{f"Table IV, {MODEL_NAMES[k]}": r for k, r in abl.items()}, f"baseline, {best_name}": best}
    return Findings(results, report.results_table(rows), facts, {"versus": versus, "summary_groups": groups, "best_baseline": best, "best_baseline_name": best_name})
