"""What each chapter of the book computes and tabulates, so that the notebooks stay thin.

A chapter notebook declares its parameters, calls one function here, glues the returned facts
into its prose and shows the returned table or figure. The results functions return a
:class:`Findings`: the runs read (for the provenance table), the table the page shows, ``facts``
(glue key -> the number or words the page states, documented per function) and ``extra`` (further
tables and runs the page draws).

This module reads runs (:mod:`~adcrnn_lib.cv`, :mod:`~adcrnn_lib.grid`), so it sits above them;
:mod:`~adcrnn_lib.book` uses only its names and titles. The heavy imports are inside the
functions, so chapter 1 can use :func:`fold_table` without loading the model code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "AUGMENTATION_NAMES",
    "MODEL_NAMES",
    "COLD_GOAL_HOURS",
    "CACHED_GOAL_MINUTES",
    "REFERENCE_COLD_BUILD",
    "BUILD_STARTED_VAR",
    "Findings",
    "LEVEL_GOAL_CHANGED",
    "level_table",
    "level_points",
    "hda_title",
    "shown_path",
    "glue_facts",
    "fold_table",
    "parameter_cycles_table",
    "balance_counts",
    "gan_settings_table",
    "gan_quality_tables",
    "GAN_QUALITY_COLUMN",
    "gan_quality_cell",
    "gan_ladder",
    "baseline_chapter",
    "table_v",
    "hda_page",
    "fold_scores",
    "table_iv",
    "table_vi",
    "loso_chapter",
    "run_table",
    "build_table",
]

#: Table V's rows as the book names them.
AUGMENTATION_NAMES: dict[str, str] = {
    "none": "no augmentation",
    "time_shift": "time shifting",
    "pitch_shift": "pitch shifting",
    "wavegan": "WaveGAN",
    "specgan": "SpecGAN",
}
#: Table IV's models 1-5 as the book names them: (attention, loss) -> name.
MODEL_NAMES: dict[tuple[bool, str], str] = {
    (False, "lf1"): "no attention (mean over time) + Lf1",
    (True, "lf2"): "attention + Lf2 (softmax)",
    (True, "lf1"): "attention + Lf1 (center, 64-d)",
    (True, "lf3"): "attention + Lf3 (center, logits)",
    (True, "lf4"): "attention + Lf4 (contrastive-center)",
}
#: The cpu profile's budget on 2 cores: a cold book build, and a rebuild with every fold cached.
COLD_GOAL_HOURS = 3.0  # the cold build's budget on 2 cores; its extra hour over the first 2 h buys accuracy
CACHED_GOAL_MINUTES = 3.0


@dataclass
class Findings:
    """What a results chapter shows: runs, the main table, glued facts, anything else it draws."""

    results: dict
    table: pd.DataFrame
    facts: dict[str, object]
    extra: dict = field(default_factory=dict)


def hda_title(augmentation: str) -> str:
    """The title of Table V's page for one augmentation: ``"Table V, time shifting: confusion matrix"``."""
    return f"Table V, {AUGMENTATION_NAMES[augmentation]}: confusion matrix"


def shown_path(path: str | os.PathLike | None, *, start: str | os.PathLike | None = None) -> str:
    """A path as a page may show it: relative to ``start`` (default: the working folder), never absolute.

    ``""`` or None (the corpus was searched for) gives ``"(searched)"``; a path that cannot be made
    relative (another drive) gives its last two parts.
    """
    if not path:
        return "(searched)"
    try:
        return os.path.relpath(path, start or os.getcwd())
    except ValueError:
        return os.path.join("...", *os.path.normpath(path).split(os.sep)[-2:])


def glue_facts(facts: dict[str, object]) -> None:
    """Glue every fact for the page's prose (``{glue:text}`key```), without displaying it."""
    from myst_nb import glue

    for key, value in facts.items():
        glue(key, value, display=False)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def _ua(result) -> str:
    return _pct(result.summary()["ua"]["mean"])


def _wa(result) -> str:
    return _pct(result.summary()["wa"]["mean"])


def _paired_ua(base, other) -> str:
    """``other - base`` in UA points, as a table's paired cell."""
    from . import report

    return report.paired_cells(base, other, name="base")["UA vs base (points)"]


# --------------------------------------------------------------------------------------------
# Chapters 1 and 2: the corpus and the augmenters
# --------------------------------------------------------------------------------------------
def fold_table(df: pd.DataFrame, folds) -> pd.DataFrame:
    """One row per fold: train / validation / test sizes, test speakers, test utterances per emotion."""
    from .data import EMOTION_ABBREVIATIONS, EMOTIONS

    rows = []
    for f in folds:
        test = df.iloc[f.test]
        speakers = ", ".join(sorted(test["speaker"].unique())) if test["speaker"].nunique() <= 2 else "all"
        counts = {a: int((test["emotion"] == e).sum()) for a, e in zip(EMOTION_ABBREVIATIONS, EMOTIONS)}
        rows.append({"fold": f.k, "train": len(f.train), "validation": len(f.val), "test": len(f.test), "test speakers": speakers, **counts})
    return pd.DataFrame(rows).set_index("fold")


def parameter_cycles_table() -> pd.DataFrame:
    """The settings each classic augmenter cycles through while balancing."""
    from .augment.balance import PARAMETER_CYCLES

    settings = {method: "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in cycle) for method, cycle in PARAMETER_CYCLES.items()}
    return pd.Series(settings, name="settings, in turn").rename_axis("method").to_frame()


def balance_counts(train: pd.DataFrame, *, seed: int, fold: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Utterances per emotion of one training fold before and after each classic balancing.

    Returns
    -------
    counts : pandas.DataFrame
        Index: the emotions; columns ``original``, ``+ time_shift``, ``+ pitch_shift``.
    generated : dict
        Method -> clips it adds.
    """
    from .augment import fold_seed
    from .augment.balance import balance
    from .data import EMOTIONS

    counts = pd.DataFrame({"original": train["emotion"].astype(str).value_counts()})
    generated = {}
    for method in ("time_shift", "pitch_shift"):
        clips = balance(train, method=method, seed=fold_seed(seed, fold))
        added = pd.Series([c.emotion for c in clips]).value_counts()
        counts[f"+ {method}"] = counts["original"].add(added, fill_value=0)
        generated[method] = len(clips)
    return counts.reindex(EMOTIONS).fillna(0).astype(int), generated


def gan_settings_table(profile: str) -> pd.DataFrame:
    """The GAN settings of ``profile``, one column per kind."""
    from .augment.gan import GanSettings

    return pd.DataFrame({kind: GanSettings.from_profile(kind, profile).to_dict() for kind in ("wavegan", "specgan")}).drop("kind")


#: The GAN quality report's columns as the page shows them, in two tables that fit a page: the
#: classifier's scores and memorization, and the clips screened out (see :func:`gan_quality_tables`).
GAN_QUALITY_COLUMNS = {
    "intended_share": "intended share",
    "inception_score": "inception score",
    "gen_to_train_median": "generated to training, median distance",
    "train_to_train_median": "training to training, median distance",
    "ratio": "ratio",
    "share_closer_than_train_p5": "share nearer than 5 % of training pairs",
}
GAN_SCREENING_COLUMNS = {"steps": "training steps", "drawn": "drawn", "kept": "kept", "nonfinite": "nonfinite", "silent": "silent", "clipped": "clipped"}


def gan_quality_tables(report: pd.DataFrame, *, decimals: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`~adcrnn_lib.quality.fold_quality_report`'s table as two a page can show: scores and
    memorization (:data:`GAN_QUALITY_COLUMNS`), and the clip counts (:data:`GAN_SCREENING_COLUMNS`),
    with readable headers; columns the report lacks are left out."""
    def part(columns: dict[str, str]) -> pd.DataFrame:
        return report[[c for c in columns if c in report.columns]].round(decimals).rename(columns=columns)

    return part(GAN_QUALITY_COLUMNS), part(GAN_SCREENING_COLUMNS)


# --------------------------------------------------------------------------------------------
# The baseline chapter
# --------------------------------------------------------------------------------------------
_PROTOCOL_NAMES = {"paper": "random 5-fold (the paper's protocol)", "loso": "leave one speaker out"}


def _baselines(profile: str, data_dir, *, seed: int, features: str, classifier: str = "logreg", verify: bool, protocol: str | None = None) -> dict:
    from .baselines import run_baseline
    from .grid import baseline_configs

    configs = baseline_configs(data_dir or None, seed=seed, features=features, classifier=classifier, profile=profile)
    return {key: run_baseline(c, verify=verify, progress=False) for key, c in configs.items() if protocol is None or key[0] == protocol}


def _baseline_name(features: str, classifier: str, norm: bool) -> str:
    return f"{features} + {classifier}{' (speaker-normalized)' if norm else ''}"


def baseline_chapter(profile: str, data_dir: str, *, seed: int, features: str, classifier: str, verify: bool) -> Findings:
    """The openSMILE baseline under both protocols, with and without speaker normalization.

    ``facts``: ``baseline_name``; ``wa_<protocol>`` and ``ua_<protocol>`` (and ``_norm``) in %;
    ``norm_gain_<protocol>``: the WA change from speaker normalization in points; the paper's
    ``paper_none`` (ADCRNN without augmentation).
    ``extra["normalization"]``: the paired effect of speaker normalization per protocol and metric.
    """
    from .cv import compare
    from .paper import PAPER_COLUMN, TABLE_V, paper_cell
    from .report import mean_std

    results = _baselines(profile, data_dir, seed=seed, features=features, classifier=classifier, verify=verify)
    rows, facts = [], {"baseline_name": f"{features} + {classifier}", "paper_none": f"{TABLE_V['none'][0]:.2f}"}
    for (protocol, norm), r in results.items():
        rows.append({"": f"{_PROTOCOL_NAMES[protocol]}{', speaker-normalized' if norm else ''}", PAPER_COLUMN: "",
                     "WA (%)": mean_std(r, "wa"), "UA (%)": mean_std(r, "ua"), "folds": len(r.folds), "fit time (s)": f"{r.wall_time_s:.1f}"})
        tag = f"{protocol}{'_norm' if norm else ''}"
        facts[f"wa_{tag}"], facts[f"ua_{tag}"] = _wa(r), _ua(r)
    rows.append({"": "ADCRNN, no augmentation, random 5-fold (the paper's Table V, row 1)", PAPER_COLUMN: paper_cell(*TABLE_V["none"]),
                 "WA (%)": "", "UA (%)": "not reported", "folds": 5, "fit time (s)": ""})
    norm_rows = []
    for protocol in ("paper", "loso"):
        c = compare(results[(protocol, False)], results[(protocol, True)])
        for metric in ("wa", "ua"):
            norm_rows.append({"protocol": _PROTOCOL_NAMES[protocol], "metric": metric.upper(), "difference (points)": f"{100 * c[metric]['diff']:+.1f}",
                              "95% interval": f"[{100 * c[metric]['ci_low']:+.1f}, {100 * c[metric]['ci_high']:+.1f}]", "t-test p": f"{c[metric]['p']:.3f}"})
        facts[f"norm_gain_{protocol}"] = f"{100 * c['wa']['diff']:+.1f}"
    named = {f"baseline, {p}{', speaker-norm' if n else ''}": r for (p, n), r in results.items()}
    return Findings(named, pd.DataFrame(rows).set_index(""), facts, {"by_key": results, "normalization": pd.DataFrame(norm_rows).set_index(["protocol", "metric"])})


# --------------------------------------------------------------------------------------------
# Table V and its pages
# --------------------------------------------------------------------------------------------
def _hda(profile: str, data_dir, *, seed: int, verify: bool, only=None) -> dict[str, list]:
    """Table V's runs (the augmentations in ``only``, default all): augmentation -> one run per
    seed of :func:`~adcrnn_lib.grid.table_v_seeds` (``seed``'s first)."""
    from .cv import run_cv
    from .grid import hda_configs, table_v_seeds

    by_seed = [hda_configs(profile, data_dir or None, seed=s) for s in table_v_seeds(profile, seed)]
    return {aug: [run_cv(configs[aug], verify=verify, progress=False) for configs in by_seed] for aug in by_seed[0] if only is None or aug in only}


def _paper_baselines(profile: str, data_dir, *, seed: int, features: str, verify: bool) -> dict[tuple[str, bool], list]:
    """The paper-protocol baselines Table V is compared with: key -> one run per seed of its rows."""
    from .grid import table_v_seeds

    per_seed = [_baselines(profile, data_dir, seed=s, features=features, verify=verify, protocol="paper") for s in table_v_seeds(profile, seed)]
    return {key: [runs[key] for runs in per_seed] for key in per_seed[0]}


#: The column of a results table that shows how well the GANs behind a row learned.
GAN_QUALITY_COLUMN = "GANs: intended share, fold 0 (%)"


def gan_quality_cell(profile: str, *, seed: int, kind: str) -> str:
    """The median intended share of the GANs of ``kind`` behind a table row, from fold 0's quality report (``"0 (20 steps)"``).

    Raises
    ------
    DataError
        When that report is missing: a table does not show a row of GAN-made data without saying
        how well its GANs learned.
    """
    from .exceptions import DataError
    from .quality import gan_learning, quality_report_path

    learning = gan_learning(profile, seed=seed)
    if not learning or kind not in learning:
        raise DataError(
            f"{quality_report_path(profile, seed=seed)}: no quality record of the {profile} profile's {kind} GANs (seed {seed}), "
            "and a table shows no row of GAN-made data without one; the book's grid makes it (adcrnn book)"
        )
    got = learning[kind]
    return f"{100 * got['median_share']:.0f} ({got['steps']:,} steps)"


def gan_learning_fact(profile: str, *, seed: int) -> str:
    """The sentence every page with GAN rows states about its GANs (fold 0's quality report of ``seed``)."""
    from .quality import gan_learning, gan_learning_sentence

    return gan_learning_sentence(gan_learning(profile, seed=seed), profile=profile)


def _bench_gan_paper_hours(bench: str | os.PathLike | None = None) -> dict[str, float]:
    """Kind -> hours of one GAN at the paper's size and steps on this project's machine, from ``benchmarks/results/bench_gan.json``."""
    import json
    from pathlib import Path

    path = Path(bench) if bench is not None else Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "bench_gan.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text()).get("updates", [])
    return {r["kind"]: r["projected_training_s"] / 3600 for r in rows if r.get("profile") == "paper"}


def gan_ladder(profile: str, *, seed: int = 0, fold: int = 0, results_dir=None) -> Findings:
    """The GAN budget ladder of fold ``fold`` (:mod:`~adcrnn_lib.gan_ladder`), from this build's results or the reference.

    ``table``: one row per GAN kind and rung every emotion has reached (medians over the emotions),
    then one row of the real test clips (the ceiling). ``facts``: ``ladder_source``;
    ``ladder_sentence`` (the finding in one sentence: the highest rung, both judges' median shares
    against the ceiling, the chosen rung or that none meets the goal); ``ladder_ceiling_adcrnn``,
    ``ladder_ceiling_compare`` (%); ``ladder_goal`` (the rule); per kind ``ladder_top_<kind>``,
    ``ladder_adcrnn_<kind>``, ``ladder_compare_<kind>`` (%, at the top rung), ``ladder_step_s_<kind>``
    (median seconds a step), ``ladder_choice_<kind>`` (the chosen rung or "no rung up to N steps") and
    ``ladder_paper_hours_<kind>`` (one GAN of the paper's size and steps on this machine, from
    ``bench_gan``; "not measured" without it). Every fact is "(not run)" without a ladder.
    ``extra``: ``table`` (every judged rung), ``summary``, ``ceiling``, ``medians``, ``clips`` (kind
    -> [(steps, 16-bit PCM bytes)] of the played emotion's kept clip per rung).
    """
    from .gan_ladder import CEILING_FRACTION, NEAR_COPY_MAX, ceiling_medians, chosen_rung, find_ladder, ladder_summary, load_ladder, played_clips
    from .quality import GAN_NAMES

    kinds = ("wavegan", "specgan")
    goal = (
        f"the cheapest rung whose median intended share is at least {CEILING_FRACTION:.0%} of the real clips' under both judges, "
        f"with at most {NEAR_COPY_MAX:.0%} near-copies"
    )
    facts: dict[str, object] = {"ladder_goal": goal}
    folder, where = find_ladder(profile, fold=fold, seed=seed, results_dir=results_dir)
    keys = ["ladder_source", "ladder_sentence", "ladder_ceiling_adcrnn", "ladder_ceiling_compare"]
    keys += [f"ladder_{what}_{kind}" for kind in kinds for what in ("top", "adcrnn", "compare", "step_s", "choice")]
    facts.update(dict.fromkeys(keys, "(not run)"))
    hours = _bench_gan_paper_hours()
    for kind in kinds:
        facts[f"ladder_paper_hours_{kind}"] = f"{hours[kind]:,.0f}" if kind in hours else "not measured"
    if folder is None:
        facts["ladder_source"] = "neither this build's results nor the reference (none is here yet)"
        facts["ladder_sentence"] = f"No GAN budget ladder of the {profile} profile is here yet (adcrnn gan-ladder makes one)."
        return Findings({}, pd.DataFrame(), facts, {"table": pd.DataFrame(), "summary": pd.DataFrame(), "ceiling": {}, "medians": {}, "clips": {}})
    table, ceiling = load_ladder(folder)
    summary = ladder_summary(table)
    medians = ceiling_medians(ceiling, sorted(table["emotion"].unique()))
    facts["ladder_source"] = where
    for judge in ("adcrnn", "compare"):
        if judge in medians:
            facts[f"ladder_ceiling_{judge}"] = f"{100 * medians[judge]:.0f}"
    parts = []
    for kind in kinds:
        if summary.empty or kind not in summary.index.get_level_values("kind"):
            continue
        of_kind = summary.loc[kind]
        top = int(of_kind.index.max())
        row = of_kind.loc[top]
        facts[f"ladder_top_{kind}"] = f"{top:,}"
        facts[f"ladder_adcrnn_{kind}"] = f"{100 * row['adcrnn_share']:.0f}"
        if "compare_share" in row:
            facts[f"ladder_compare_{kind}"] = f"{100 * row['compare_share']:.0f}"
        facts[f"ladder_step_s_{kind}"] = f"{of_kind['seconds_per_step'].median():.2f}"
        choice = chosen_rung(summary, medians, kind)
        facts[f"ladder_choice_{kind}"] = f"{choice:,} steps" if choice is not None else f"no rung up to {top:,} steps"
        parts.append(
            f"{GAN_NAMES[kind]} after {top:,} generator steps: {facts[f'ladder_adcrnn_{kind}']} % (ADCRNN judge) and "
            f"{facts[f'ladder_compare_{kind}']} % (ComParE judge), goal met at {facts[f'ladder_choice_{kind}']}"
        )
    facts["ladder_sentence"] = (
        f"On fold {fold}, the median share of a GAN's clips that the judges assign to the intended emotion is "
        + "; ".join(parts)
        + f"; the real test clips, cut to the GANs' 1.024 s, reach {facts['ladder_ceiling_adcrnn']} % and {facts['ladder_ceiling_compare']} % (chance: 14 %)."
    )
    page = []
    for (kind, steps), row in summary.iterrows():
        page.append({
            "GAN": GAN_NAMES[kind], "generator steps": f"{steps:,}",
            "ADCRNN judge (%)": f"{100 * row['adcrnn_share']:.0f}",
            "ComParE judge (%)": f"{100 * row['compare_share']:.0f}" if "compare_share" in row and pd.notna(row["compare_share"]) else "-",
            "ADCRNN spread": f"{row['adcrnn_spread']:.2f}",
            "emotions above chance": f"{int(row['above_chance'])} of {int(row['emotions'])}",
            "near-copies (%)": f"{100 * row['near_copies']:.0f}",
            "s a step": f"{row['seconds_per_step']:.2f}",
            "min a GAN": f"{row['minutes_per_gan']:.1f}",
        })
    page.append({"GAN": "real test clips (the ceiling)", "generator steps": "-",
                 "ADCRNN judge (%)": facts["ladder_ceiling_adcrnn"], "ComParE judge (%)": facts["ladder_ceiling_compare"]})
    table_page = pd.DataFrame(page).fillna("").set_index("GAN")
    return Findings({}, table_page, facts, {"table": table, "summary": summary, "ceiling": ceiling, "medians": medians, "clips": played_clips(folder)})


def table_v(profile: str, data_dir: str, *, seed: int, baseline_features: str, verify: bool) -> Findings:
    """Table V: each augmentation's WA and UA, the paper's number, the paired difference against none,
    and the verdict against the best baseline (paper protocol) on the same test utterances.

    Every row is run with each seed of :func:`~adcrnn_lib.grid.table_v_seeds` (each seed draws its
    own folds); scores are over seeds x folds, paired over them, with the between-seed spread beside.

    ``facts``: ``profile_name``; ``n_seeds``; ``none_wa``, ``none_ua``, ``none_seed_spread`` (UA
    points); ``best_aug`` (name), ``best_aug_ua``, ``best_aug_vs_none`` (paired UA cell);
    ``best_baseline`` (name), ``best_baseline_ua``; ``n_beat`` (rows better than the best
    baseline); the paper's ``paper_none``, ``paper_best_aug`` (name) and ``paper_best_aug_acc``;
    ``gan_learning`` (a sentence: how well the GANs behind rows 4 and 5 learned, from fold 0's
    quality report, :func:`~adcrnn_lib.quality.gan_learning_sentence`).
    ``extra``: ``best_baseline`` (its runs pooled over the seeds) and ``recall`` (per-emotion recall per row).
    """
    from . import report
    from .cv import pool_seeds
    from .paper import TABLE_V
    from .plots import class_labels

    runs = _hda(profile, data_dir, seed=seed, verify=verify)
    results = {aug: pool_seeds(r) for aug, r in runs.items()}
    baselines = _paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)
    best_key = report.best_of({k: pool_seeds(v) for k, v in baselines.items()})
    best, best_pooled = baselines[best_key], pool_seeds(baselines[best_key])
    rows = [
        {"label": f"{i}. {AUGMENTATION_NAMES[aug]}", "result": r, "paper": TABLE_V[aug], "base": runs["none"], "base_name": "none", "versus": best, "versus_name": "best baseline"}
        | ({"extra": {GAN_QUALITY_COLUMN: gan_quality_cell(profile, seed=seed, kind=aug)}} if aug in ("wavegan", "specgan") else {})
        for i, (aug, r) in enumerate(runs.items(), 1)
    ]
    rows += [{"label": f"baseline: {_baseline_name(baseline_features, 'logreg', norm)}", "result": b} for (_, norm), b in baselines.items()]
    top = report.best_of({a: r for a, r in results.items() if a != "none"})
    paper_top = max((a for a in TABLE_V if a != "none"), key=lambda a: TABLE_V[a][0])
    facts = {
        "profile_name": profile,
        "n_seeds": len(runs["none"]),
        "none_wa": _wa(results["none"]),
        "none_ua": _ua(results["none"]),
        "none_seed_spread": report.seed_spread(runs["none"]),
        "best_aug": AUGMENTATION_NAMES[top],
        "best_aug_ua": _ua(results[top]),
        "best_aug_vs_none": _paired_ua(results["none"], results[top]),
        "best_baseline": _baseline_name(baseline_features, "logreg", best_key[1]),
        "best_baseline_ua": _ua(best_pooled),
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
    normalization), over the seeds of :func:`~adcrnn_lib.grid.table_v_seeds`.

    ``facts``: ``aug`` (name), ``wa``, ``ua``, ``n_seeds``, ``paper_acc``, ``vs_baseline`` (verdict).
    ``extra``: ``result`` (this row's runs pooled over seeds), ``recall`` (a one-row table) and
    ``folds`` (scores per seed and fold, in %).
    """
    from . import report
    from .cv import pool_seeds
    from .exceptions import ParameterError
    from .grid import hda_configs
    from .paper import TABLE_V
    from .plots import class_labels

    configs = hda_configs(profile, data_dir or None, seed=seed)  # validates profile and seed
    if augmentation not in configs:
        raise ParameterError(f"augmentation={augmentation!r}; allowed: {', '.join(configs)}")
    runs = _hda(profile, data_dir, seed=seed, verify=verify, only=(augmentation, "none"))
    mine, none = runs[augmentation], runs["none"]
    baseline = _paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)[("paper", False)]
    result = pool_seeds(mine)
    name = AUGMENTATION_NAMES[augmentation]
    rows = [{"label": f"ADCRNN + Lf1, {name}", "result": mine, "paper": TABLE_V[augmentation], "base": none, "base_name": "none", "versus": baseline, "versus_name": "baseline"}]
    if augmentation != "none":
        rows.append({"label": "ADCRNN + Lf1, no augmentation", "result": none, "paper": TABLE_V["none"], "versus": baseline, "versus_name": "baseline"})
    rows.append({"label": f"baseline: openSMILE {baseline_features} + logistic regression", "result": baseline})
    facts = {"aug": name, "wa": _wa(result), "ua": _ua(result), "n_seeds": len(mine), "paper_acc": f"{TABLE_V[augmentation][0]:.2f}", "vs_baseline": report.verdict(pool_seeds(baseline), result)}
    matrix = result.confusion()
    recall = pd.DataFrame({"recall (%)": (100 * matrix.diagonal() / matrix.sum(axis=1)).round(1)}, index=class_labels()).T
    return Findings({name: result, "no augmentation": pool_seeds(none), "baseline": pool_seeds(baseline)}, report.results_table(rows), facts, {"result": result, "recall": recall, "folds": fold_scores(result)})


def fold_scores(result) -> pd.DataFrame:
    """One row per fold: test utterances, WA, UA and macro-F1 in % (one decimal), best epoch, wall time.

    A result pooled over seeds (:func:`~adcrnn_lib.cv.pool_seeds`) gets one row per seed and
    fold, indexed ``(seed, fold)``.
    """
    t = result.table()
    seeds = [r.get("config", {}).get("seed") for r in result.folds]
    if len(set(seeds)) > 1:
        t.index = pd.MultiIndex.from_arrays([seeds, t.index], names=["seed", "fold"])
    out = pd.DataFrame({"test utterances": t["test"]}) if "test" in t else pd.DataFrame(index=t.index)
    for column, name in (("wa", "WA (%)"), ("ua", "UA (%)"), ("macro_f1", "macro-F1 (%)")):
        out[name] = (100 * t[column]).map(lambda v: f"{v:.1f}")
    if "best_epoch" in t:
        out["best epoch"] = t["best_epoch"]
    if "wall_time_s" in t:
        out["wall time (s)"] = t["wall_time_s"].map(lambda v: f"{v:.1f}")
    return out


# --------------------------------------------------------------------------------------------
# Table IV and Table VI
# --------------------------------------------------------------------------------------------
def _ablation(profile: str, data_dir, *, seed: int, verify: bool) -> dict:
    from .cv import run_cv
    from .grid import ablation_configs

    return {k: run_cv(c, verify=verify, progress=False) for k, c in ablation_configs(profile, data_dir or None, seed=seed).items()}


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
    baselines = _baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify, protocol="paper")
    best = baselines[report.best_of(baselines)]
    ref = results[(True, "lf1")]
    gans = gan_quality_cell(profile, seed=seed, kind="wavegan")  # every model trains on WaveGAN data
    rows = [
        {"label": f"{i}. {MODEL_NAMES[k]}", "result": r, "paper": TABLE_IV[k], "base": ref, "base_name": "model 3", "versus": best, "versus_name": "best baseline",
         "extra": {GAN_QUALITY_COLUMN: gans}}
        for i, (k, r) in enumerate(results.items(), 1)
    ]
    rows += [{"label": f"baseline: {_baseline_name(baseline_features, 'logreg', norm)}", "result": b} for (_, norm), b in baselines.items()]
    top = report.best_of(results)
    top_loss = report.best_of({k: r for k, r in results.items() if k[0]})
    facts = {
        "best_model": MODEL_NAMES[top],
        "best_model_ua": _ua(results[top]),
        "best_loss": top_loss[1].upper().replace("LF", "Lf"),
        "best_loss_ua": _ua(results[top_loss]),
        "attention_gain": _paired_ua(results[(False, "lf1")], ref),
        "lf4_vs_lf1": _paired_ua(ref, results[(True, "lf4")]),
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
    :func:`~adcrnn_lib.plots.plot_summary`).
    """
    from . import report
    from .cv import pool_seeds
    from .paper import TABLE_IV, TABLE_V, TABLE_VI

    hda = {a: pool_seeds(r) for a, r in _hda(profile, data_dir, seed=seed, verify=verify).items()}  # over Table V's seeds
    abl = _ablation(profile, data_dir, seed=seed, verify=verify)
    baselines = _paper_baselines(profile, data_dir, seed=seed, features=baseline_features, verify=verify)
    best_key = report.best_of({k: pool_seeds(v) for k, v in baselines.items()})
    best_seeds = pool_seeds(baselines[best_key])  # for Table V's rows
    best = baselines[best_key][0]  # Table IV's rows have seed ``seed`` only
    best_name = _baseline_name(baseline_features, "logreg", best_key[1])
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
        "baseline_ua": _ua(best_seeds),  # the baseline Table V's rows are judged against
    }
    groups = {
        "Table V: augmentation (loss Lf1)": [{"label": AUGMENTATION_NAMES[a], "result": r, "paper": TABLE_V[a]} for a, r in hda.items()],
        "Table IV: attention and loss (WaveGAN data)": [{"label": MODEL_NAMES[k], "result": r, "paper": TABLE_IV[k]} for k, r in abl.items()],
    }
    results = {**{f"Table V, {AUGMENTATION_NAMES[a]}": r for a, r in hda.items()}, **{f"Table IV, {MODEL_NAMES[k]}": r for k, r in abl.items()}, f"baseline, {best_name}": best}
    return Findings(results, report.results_table(rows), facts, {"versus": versus, "summary_groups": groups, "best_baseline": best, "best_baseline_name": best_name})


# --------------------------------------------------------------------------------------------
# Leave one speaker out
# --------------------------------------------------------------------------------------------
NORMALIZED = "none, speaker-normalized"


def loso_chapter(profile: str, data_dir: str, *, augmentation: str, seed: int, baseline_features: str, verify: bool) -> Findings:
    """Leave one speaker out: ADCRNN without augmentation, speaker-normalized, and with
    ``augmentation`` (``"best"``: Table V's best), against the baselines under both protocols.

    ``facts``: ``aug_name``; ``loso_ua_none``, ``loso_ua_aug``, ``loso_ua_norm`` (%);
    ``gap_none`` and ``base_gap`` (random folds minus LOSO, UA points); ``loso_aug_vs_none`` and
    ``loso_norm_vs_none`` (paired UA cells); ``loso_vs_base`` (verdict); ``norm_base_ua``;
    ``level_sentence``, ``level_points_sentence``, ``level_short`` and ``clipped_sentence`` (:func:`level_points`).
    ``extra``: ``loso`` (augmentation -> run), ``aug`` (its key), ``per_speaker`` (WA per speaker),
    ``level`` (the level check of the no-augmentation runs, :func:`level_table`) and
    ``level_points`` (the level options against the profile, :func:`level_points`).
    """
    from . import report
    from .baselines import run_baseline
    from .cv import pool_seeds, run_cv
    from .exceptions import ParameterError
    from .grid import HDA_AUGMENTATIONS, baseline_configs, hda_configs, loso_configs
    from .paper import TABLE_V

    if augmentation != "best" and augmentation not in HDA_AUGMENTATIONS[1:]:
        raise ParameterError(f"augmentation={augmentation!r}; allowed: best, {', '.join(HDA_AUGMENTATIONS[1:])}")
    loso_cfg = loso_configs(profile, data_dir or None, augmentation=augmentation, seed=seed)
    aug = next(a for a in loso_cfg if not a.startswith("none"))
    hda_cfg = hda_configs(profile, data_dir or None, seed=seed)
    loso = {a: run_cv(c, verify=verify, progress=False) for a, c in loso_cfg.items()}
    paper = {a: run_cv(hda_cfg[a], verify=verify, progress=False) for a in ("none", aug)}
    bases = {k: run_baseline(c, verify=verify, progress=False) for k, c in baseline_configs(data_dir or None, seed=seed, features=baseline_features, profile=profile).items()}
    base_loso = bases[("loso", False)]
    rows = []
    for a in ("none", aug):
        name = AUGMENTATION_NAMES[a]
        rows.append({"label": f"ADCRNN + Lf1, {name}, random folds", "result": paper[a], "paper": TABLE_V[a]})
        rows.append({"label": f"ADCRNN + Lf1, {name}, leave one speaker out", "result": loso[a], "base": loso["none"], "base_name": "none", "versus": base_loso, "versus_name": "baseline"})
    rows.append({"label": "ADCRNN + Lf1, no augmentation, speaker-normalized, leave one speaker out", "result": loso[NORMALIZED], "base": loso["none"], "base_name": "none", "versus": base_loso, "versus_name": "baseline"})
    for (protocol, norm), b in bases.items():
        where = "random folds" if protocol == "paper" else "leave one speaker out"
        rows.append({"label": f"baseline {baseline_features} + logreg, {where}{', speaker-normalized' if norm else ''}", "result": b})
    ua = {a: r.summary()["ua"]["mean"] for a, r in loso.items()}
    facts = {
        "aug_name": AUGMENTATION_NAMES[aug],
        "loso_ua_none": _pct(ua["none"]),
        "loso_ua_aug": _pct(ua[aug]),
        "loso_ua_norm": _pct(ua[NORMALIZED]),
        "gap_none": _pct(paper["none"].summary()["ua"]["mean"] - ua["none"]),
        "base_gap": _pct(bases[("paper", False)].summary()["ua"]["mean"] - base_loso.summary()["ua"]["mean"]),
        "loso_aug_vs_none": _paired_ua(loso["none"], loso[aug]),
        "loso_norm_vs_none": _paired_ua(loso["none"], loso[NORMALIZED]),
        "loso_vs_base": report.verdict(base_loso, loso["none"]),
        "norm_base_ua": _ua(bases[("loso", True)]),
    }
    per = {}
    for a, r in loso.items():
        p = r.predictions()
        correct = (p["true"] == p["pred"]).groupby(p["utterance"].str[:2]).mean()
        per[f"WA (%), {a}"] = (100 * correct).round(1)
    per_speaker = pd.DataFrame(per).rename_axis("speaker")
    results = {**{f"LOSO, {a}": r for a, r in loso.items()}, **{f"random folds, {a}": r for a, r in paper.items()}}
    level = level_points(profile, data_dir, verify=verify)
    facts.update(level.facts)
    results.update({f"level, {name}": pool_seeds(runs) for name, runs in level.results.items()})  # their provenance too (each fold's time counted once)
    return Findings(results, report.results_table(rows), facts, {"loso": loso, "aug": aug, "per_speaker": per_speaker, "level": level.extra["level"], "level_points": level.table})


def level_table(runs: dict) -> tuple[pd.DataFrame, dict[str, str]]:
    """The level check of runs without augmentation (:func:`~adcrnn_lib.cv.level_check`), pooled over their seeds x folds.

    Parameters
    ----------
    runs : dict
        Row label -> a run, or a list of runs (one per seed). Runs with a fold that holds no
        check (trained before it was kept) are left out.

    Returns
    -------
    table : pandas.DataFrame
        One row per run that holds the check; columns (two header rows): ``as recorded`` /
        ``UA (%)``, then per gain (``-24 dB`` ...) the share of all test predictions that change
        against the recording as it is (``changed (%)``) and ``UA (%)`` at that gain (the mean
        over folds, as the results tables give it). Empty when no run holds a check.
    facts : dict
        ``level_sentence``: what the check found (the largest share changed and its gain, per
        run), or that these runs predate it.
    """
    import numpy as np

    from .cv import pool_seeds
    from .metrics import unweighted_accuracy

    rows, parts, older = {}, [], []
    for name, result in runs.items():
        folds = pool_seeds(result).folds
        checks = [r.get("level_check") for r in folds]
        if not checks or any(c is None for c in checks):
            older.append(name)
            continue
        truths = [np.array([p["true"] for p in r["predictions"]]) for r in folds]

        def mean_ua(gain: str) -> str:  # the mean over folds, as the results tables give UA
            return f"{100 * np.mean([unweighted_accuracy(t, np.asarray(c[gain]['predicted'])) for t, c in zip(truths, checks)]):.1f}"

        row = {("as recorded", "UA (%)"): mean_ua("+0")}
        changed = _changed_by_gain([pool_seeds(result)])  # pooled: a share of all test predictions
        for gain, share in changed.items():
            row[(f"{gain} dB", "changed (%)")] = f"{share:.0f}"
            row[(f"{gain} dB", "UA (%)")] = mean_ua(gain)
        rows[name] = row
        worst = max(changed, key=changed.get)
        parts.append(f"{name}, at most {changed[worst]:.0f} % (at {worst} dB)")
    if not rows:
        return pd.DataFrame(), {"level_sentence": "These runs were trained before the level check was kept with each fold, so it is not shown; a run trained now keeps it."}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    said = "The share of test predictions that change when the same utterances are recorded louder or quieter: " + "; ".join(parts) + "."
    if older:
        said += f" Not shown, trained before the check was kept with each fold: {'; '.join(older)}."
    return table, {"level_sentence": said}


#: The largest share of test predictions (%) that may change under the level check's gains for an
#: option to count as level-invariant (the goal the level points are measured against).
LEVEL_GOAL_CHANGED = 5.0


def level_points(profile: str, data_dir: str | None, *, verify: bool = True) -> Findings:
    """The level points (:data:`~adcrnn_lib.grid.LEVEL_POINTS`) against the profile, both protocols.

    Reads runs from this build or the committed reference (:func:`~adcrnn_lib.grid.find_run`);
    trains nothing (``adcrnn study --level`` does).

    Returns
    -------
    Findings
        ``results``: ``"<protocol>, <name>"`` -> runs (one per seed) of every complete point;
        ``table``: WA and UA over seeds x folds, with the paired UA difference against the profile;
        ``facts``: ``level_points_sentence`` (what the options did, or that they are not run),
        ``level_sentence`` (:func:`level_table`), ``level_short`` (the share of predictions each
        checked run changes at the quietest gain, under the paper's protocol) and
        ``clipped_sentence`` (how many of the corpus's utterances the largest gain clips);
        ``extra``: ``level`` (the check of every run found).
    """
    from . import report
    from .cv import pool_seeds
    from .data import load_audio, load_emodb
    from .grid import LEVEL_BASE, LEVEL_POINTS, find_run, level_configs
    from .level import CHECK_GAINS_DB, CLIPPED_SHARE_WARN, clipped_at_gain

    where = {"paper": "random folds", "loso": "leave one speaker out"}
    found: dict[tuple[str, str], list] = {}
    read_from: dict[tuple[str, str], str] = {}
    for protocol, by_name in level_configs(profile, data_dir or None).items():
        for name, configs in by_name.items():
            runs, sources = zip(*(find_run(c) for c in configs))
            if all(r is not None for r in runs):  # a point counts when every seed's run is there
                found[protocol, name] = list(runs)
                read_from[protocol, name] = sources[0] if len(set(sources)) == 1 else "both"
    results = {f"{where[p]}, {n}": runs for (p, n), runs in found.items()}
    changed_by_point = {name: _changed_by_gain(found.get(("paper", name), [])) for name in (LEVEL_BASE, *LEVEL_POINTS)}  # under the paper's protocol
    rows, said = [], []
    for protocol in where:
        base = found.get((protocol, LEVEL_BASE))
        for name in (LEVEL_BASE, *LEVEL_POINTS):
            runs = found.get((protocol, name))
            rows.append({"label": f"{where[protocol]}, {name}", "result": runs, "base": base if name != LEVEL_BASE else None, "base_name": LEVEL_BASE,
                         "extra": {"read from": read_from.get((protocol, name), "not run")}})
    for name in LEVEL_POINTS:
        verdicts = []
        for protocol in where:
            runs, base = found.get((protocol, name)), found.get((protocol, LEVEL_BASE))
            if runs and base:
                verdicts.append(f"{where[protocol]} {_ua(pool_seeds(runs))} % UA, {_paired_ua(pool_seeds(base), pool_seeds(runs))} UA points against the profile")
        if not verdicts:
            said.append(f"{name[0].upper()}{name[1:]} has not been run for the {profile} profile (the command that trains the level points is under To explore)")
            continue
        changed = changed_by_point[name]
        invariance = ""
        if changed:
            worst = max(changed.values())
            def shown(v: float) -> str:  # one decimal, or two where one would hide which side of the goal it is
                return f"{v:.1f}" if (round(v, 1) <= LEVEL_GOAL_CHANGED) == (v <= LEVEL_GOAL_CHANGED) else f"{v:.2f}"

            invariance = (f"; under the paper's protocol {', '.join(f'{shown(v)} % of its predictions change at {g} dB' for g, v in changed.items())} "
                          f"({'within' if worst <= LEVEL_GOAL_CHANGED else 'over'} the goal of at most {LEVEL_GOAL_CHANGED:.0f} % at every gain)")
        said.append(f"{name[0].upper()}{name[1:]}: {'; '.join(verdicts)}{invariance}")
    short = []
    for name, changed in changed_by_point.items():
        if changed:
            quietest = min(changed, key=float)
            short.append(f"{name}: {changed[quietest]:.0f} % of the predictions change at {quietest} dB")
    table, level_facts = level_table(results)
    loudest = max(CHECK_GAINS_DB)
    clips = [load_audio(p) for p in load_emodb(data_dir or None, verify=verify)["path"]]
    share = clipped_at_gain(clips, loudest)
    facts = {
        "level_points_sentence": ". ".join(said) + ".",
        "level_short": "; ".join(short) if short else "not checked yet (no run without augmentation has kept the level check)",
        "clipped_sentence": f"At {loudest:+g} dB, {100 * share:.0f} % of the corpus's utterances have more than {100 * CLIPPED_SHARE_WARN:.1f} % of their samples "
                            "clipped, the point at which adcrnn predict warns that a recording is distorted: that column measures distortion as well as level.",
        **level_facts,
    }
    return Findings(results, report.results_table(rows), facts, {"level": table})


def _changed_by_gain(runs: list) -> dict[str, float]:
    """Per gain of the level check (``"-24"`` ...), the share (%) of test predictions that change,
    pooled over the folds of ``runs``; empty when a fold holds no check."""
    import numpy as np

    folds = [f for r in runs for f in r.folds]
    if not folds or any(f.get("level_check") is None for f in folds):
        return {}
    base = np.concatenate([f["level_check"]["+0"]["predicted"] for f in folds])
    gains = sorted((g for g in folds[0]["level_check"] if g != "+0"), key=float)
    return {g: 100 * float(np.mean(np.concatenate([f["level_check"][g]["predicted"] for f in folds]) != base)) for g in gains}


# --------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------
def _load(config, root):
    """The run's folds under ``root``, or None where that run has no fold files."""
    from .cv import load_result
    from .exceptions import ParameterError

    try:
        return load_result(config, results_dir=root)
    except ParameterError:
        return None


def _same_predictions(ours, ref) -> float | None:
    if ours is None or ref is None or len(ours.folds) != len(ref.folds):
        return None
    po, pr = ours.predictions(), ref.predictions().set_index("utterance")
    return round(100 * float((po["pred"].to_numpy() == pr.loc[po["utterance"], "pred"].to_numpy()).mean()), 1)


def run_table(profile: str, data_dir: str, *, seed: int, baseline_features: str, reference: str | os.PathLike) -> Findings:
    """Every run of the book, this build against the reference run: WA, UA, same predictions, commit, time.

    Reads fold files only; trains nothing. ``facts``: ``n_runs``, ``n_ref`` (runs compared with
    the reference) and ``fold_hours`` (this build's fold wall times summed).
    """
    from . import grid
    from .paper import TABLE_IV, TABLE_V
    from .report import mean_std

    data = data_dir or None
    runs = {f"Table V, {AUGMENTATION_NAMES[a]}": c for a, c in grid.hda_configs(profile, data, seed=seed).items()}
    runs.update({f"Table IV, {MODEL_NAMES[k]}": c for k, c in grid.ablation_configs(profile, data, seed=seed).items() if k != (True, "lf1")})
    runs.update({f"LOSO, {a}": c for a, c in grid.loso_configs(profile, data, seed=seed).items()})

    def label(protocol: str, norm: bool) -> str:  # short: a row label of a table that must fit the page
        return f"baseline, {'random folds' if protocol == 'paper' else _PROTOCOL_NAMES[protocol]}{', speaker-norm' if norm else ''}"

    runs.update({label(p, n): c for (p, n), c in grid.baseline_configs(data, seed=seed, features=baseline_features, profile=profile).items()})
    for s in grid.table_v_seeds(profile, seed)[1:]:  # Table V's further seeds, with their baselines
        runs.update({f"Table V, {AUGMENTATION_NAMES[a]} (seed {s})": c for a, c in grid.hda_configs(profile, data, seed=s).items()})
        runs.update({f"{label(p, n)} (seed {s})": c for (p, n), c in grid.baseline_configs(data, seed=s, features=baseline_features, profile=profile).items() if p == "paper"})
    paper = {f"Table V, {AUGMENTATION_NAMES[a]}": m for a, (m, _) in TABLE_V.items()}
    paper.update({f"Table IV, {MODEL_NAMES[k]}": m for k, (m, _) in TABLE_IV.items()})
    results, rows = {}, []
    for name, config in runs.items():
        ours, ref = _load(config, None), _load(config, reference)
        if ours is not None:
            results[name] = ours
        prov = ours.folds[0]["provenance"] if ours is not None else {}
        rows.append({
            "run": name,
            "the paper's accuracy (%)": f"{paper[name]:.1f}" if name in paper else "",
            "WA ours (%)": mean_std(ours, "wa") if ours else "not run",
            "WA reference (%)": mean_std(ref, "wa") if ref else "none",
            "UA ours (%)": mean_std(ours, "ua") if ours else "not run",
            "UA reference (%)": mean_std(ref, "ua") if ref else "none",
            "same prediction (%)": _same_predictions(ours, ref),
            "commit": str(prov.get("git_commit", ""))[:10],
            "wall time (s)": f"{ours.wall_time_s:.1f}" if ours else "",
        })
    table = pd.DataFrame(rows).set_index("run")
    facts = {
        "n_runs": len(runs),
        "n_ref": int(table["same prediction (%)"].notna().sum()),
        "fold_hours": f"{sum(r.wall_time_s for r in results.values()) / 3600:.2f}",
    }
    table["same prediction (%)"] = table["same prediction (%)"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")
    return Findings(results, table, facts)


def _within(minutes: float, goal_minutes: float) -> str:
    goal = f"{goal_minutes / 60:g}-hour" if goal_minutes >= 60 and goal_minutes % 60 == 0 else f"{goal_minutes:g}-minute"
    return f"{'within' if minutes <= goal_minutes else 'over'} the {goal} goal"


def _build_row(name: str, rec: dict | None) -> dict:
    """One build record as a table row: the whole build, its grid pass, chapters and HTML, folds."""
    if rec is None:
        return {"build": name, "wall time (min)": "no record"}
    g = rec.get("grid") or {}
    return {
        "build": name,
        "wall time (min)": f"{rec['wall_time_s'] / 60:.1f}",
        "grid pass (min)": f"{g['wall_time_s'] / 60:.1f}" if "wall_time_s" in g else "",
        "chapters + HTML (min)": f"{(rec['chapters_s'] + rec['render_s']) / 60:.1f}" if "chapters_s" in rec else "",
        "folds trained / cached": f"{g['folds_trained']} / {g['folds_cached']}" if "folds_trained" in g else "",
        "commit": str(rec["git_commit"])[:7],
        "cores": str(rec["machine"]["cores"]),
        "finished": str(rec["created"])[:10],
    }


def _cached_text(rec: dict | None) -> str:
    """How long a recorded rebuild that trained nothing took, against the goal."""
    if rec is None or (rec.get("grid") or {}).get("folds_trained", 1) > 0:
        return "not recorded"
    minutes = rec["wall_time_s"] / 60
    return f"{minutes:.1f} minutes ({_within(minutes, CACHED_GOAL_MINUTES)})"


#: The reference's cold build of the ``cpu`` profile, measured from its logs: it ran in three parts
#: (its session ended during leave one speaker out; the GAN quality report then stopped it until
#: d12bd28), so it wrote no ``book-cold.json`` (CHANGELOG.md, 2026-12-01). It describes
#: the reference whose last build record (the cached rebuild of it) is of commit ``rebuilt_at``.
REFERENCE_COLD_BUILD = {"profile": "cpu", "rebuilt_at": "d12bd288c2", "commit": "a2ea14b", "finished": "2026-12-01", "cores": 2, "parts_min": (127.9, 47.2, 4.4), "total_min": 179.4}
#: Set by :func:`~adcrnn_lib.book.build_book` for its chapters: the time (``time.time()``) the build began.
BUILD_STARTED_VAR = "ADCRNN_BUILD_STARTED"


def _hours_minutes(minutes: float) -> str:
    return f"{int(minutes // 60)} h {minutes % 60:.1f} min" if minutes >= 60 else f"{minutes:.1f} min"


def build_table(profile: str, *, reference: str | os.PathLike) -> Findings:
    """The recorded book builds here and in the reference run, against the time goals.

    ``facts``: ``grid_wall`` (this build's grid pass, minutes); ``ref_cold`` (the reference's cold
    build against :data:`COLD_GOAL_HOURS`: its record, else :data:`REFERENCE_COLD_BUILD` where that
    describes this reference, else ``"not recorded (...)"``), ``ref_cached`` and ``last_cached``
    (rebuilds that trained nothing, against :data:`CACHED_GOAL_MINUTES`); ``time_summary`` (what
    is known of them in sentences, each left out where nothing is: the reference's cold build, its
    cached rebuild, the last build here unless its record was copied in with the reference's runs,
    and how long this build had run when the page was made, from ``$ADCRNN_BUILD_STARTED``).
    The table has a row per known build; records copied in with the reference's runs appear once,
    as the reference's.
    """
    import time

    from .grid import BUILD_RECORD, COLD_BUILD_RECORD, GRID_RECORD, read_record

    last, cold = read_record(profile, BUILD_RECORD), read_record(profile, COLD_BUILD_RECORD)
    ref_last, ref_cold = read_record(profile, BUILD_RECORD, results_dir=reference), read_record(profile, COLD_BUILD_RECORD, results_dir=reference)

    def copied(rec, ref):  # a reader who copies the reference's runs in also copies its build records
        return rec is not None and ref is not None and rec.get("created") == ref.get("created")

    measured = REFERENCE_COLD_BUILD if ref_cold is None and ref_last is not None and profile == REFERENCE_COLD_BUILD["profile"] and str(ref_last.get("git_commit", "")).startswith(REFERENCE_COLD_BUILD["rebuilt_at"]) else None
    rows = []
    if last is not None and not copied(last, ref_last):
        rows.append(_build_row("here: the last build", last))
    if cold is not None and not copied(cold, ref_cold):
        rows.append(_build_row("here: the last cold build", cold))
    if measured is not None:
        rows.append({"build": f"reference: cold build, {len(measured['parts_min'])} parts", "wall time (min)": f"{measured['total_min']:.1f}", "commit": measured["commit"], "cores": str(measured["cores"]), "finished": measured["finished"]})
    else:
        rows.append(_build_row("reference: cold build", ref_cold))
    rows.append(_build_row("reference: last build", ref_last))
    grid_pass = (read_record(profile, GRID_RECORD) or {}).get("wall_time_s")
    if ref_cold:
        hours = ref_cold["wall_time_s"] / 3600
        cold_text = f"{hours:.2f} hours ({_within(60 * hours, 60 * COLD_GOAL_HOURS)}) on {ref_cold['machine']['cores']} cores"
    elif measured is not None:
        minutes = measured["total_min"]
        parts = ", ".join(_hours_minutes(m) for m in measured["parts_min"][:-1]) + f" and {_hours_minutes(measured['parts_min'][-1])}"
        cold_text = f"{_hours_minutes(minutes)} of compute ({_within(minutes, 60 * COLD_GOAL_HOURS)}) on {measured['cores']} cores, in three parts of {parts}, measured from its logs"
    elif ref_last:  # e.g. the build that made the reference was interrupted and resumed: no one build trained every fold
        cold_text = "not recorded (no single build that trained every fold made the reference)"
    else:
        cold_text = "not recorded (the reference has no build record of this profile)"
    said = []
    if not cold_text.startswith("not recorded"):
        said.append(f"The reference's cold build, every fold trained from nothing, took {cold_text}.")
    if _cached_text(ref_last) != "not recorded":
        said.append(f"{'Its' if said else 'The reference'} rebuild with every fold cached took {_cached_text(ref_last)}.")
    if last is not None and not copied(last, ref_last):
        trained = (last.get("grid") or {}).get("folds_trained", 0)
        said.append(f"The last build here before this one took {_cached_text(last)}." if _cached_text(last) != "not recorded" else f"The last build here before this one took {_hours_minutes(last['wall_time_s'] / 60)} and trained {trained} fold(s).")
    started = os.environ.get(BUILD_STARTED_VAR)
    if started:
        so_far = f"This build had run {(time.time() - float(started)) / 60:.1f} min when this page was made"
        said.append(so_far + (f", {grid_pass / 60:.1f} of them in its grid pass." if grid_pass is not None else "."))
    facts = {
        "grid_wall": f"{grid_pass / 60:.1f}" if grid_pass is not None else "(not recorded)",
        "ref_cold": cold_text,
        "ref_cached": _cached_text(ref_last),
        "last_cached": "not recorded here yet (the record is the reference's, copied in with its runs)" if copied(last, ref_last) else _cached_text(last),
        "time_summary": " ".join(said) or "No build of this profile has been recorded yet.",
    }
    columns = ["wall time (min)", "grid pass (min)", "chapters + HTML (min)", "folds trained / cached", "commit", "cores", "finished"]
    return Findings({}, pd.DataFrame(rows, columns=["build", *columns], dtype=object).set_index("build").fillna(""), facts)


def retrain_chapter(profile: str, data_dir, *, seed: int, verify: bool, reference) -> Findings:
    """Fold 0 of Table V's no-augmentation run trained again from scratch, against the reference's
    (:func:`~adcrnn_lib.grid.retrain_check`; trained once per results folder).

    ``facts``: ``retrain_same`` (% of test utterances predicted alike), ``retrain_max_diff`` (the
    largest probability difference), ``retrain_machines`` (whether both ran on the same CPU model
    and instruction sets). The table has a row per run. With no reference fold, every fact says so.
    """
    from .grid import retrain_check

    check = retrain_check(profile, data_dir or None, seed=seed, verify=verify, reference_dir=reference)
    if check is None:
        missing = "(the reference has no such fold: it predates results version 2 or this profile)"
        return Findings({}, pd.DataFrame(), {"retrain_same": missing, "retrain_max_diff": missing, "retrain_machines": missing})
    rows = [
        {
            "run": name,
            "CPU": check[f"cpu_{key}"],
            "instruction sets": check[f"isa_{key}"],
            "WA (%)": _pct(check[f"wa_{key}"]),
            "UA (%)": _pct(check[f"ua_{key}"]),
            "best epoch": check[f"best_epoch_{key}"],
        }
        for name, key in (("the reference's fold 0", "reference"), ("fold 0 trained again here", "retrain"))
    ]
    same_machine = check["cpu_reference"] == check["cpu_retrain"] and check["isa_reference"] == check["isa_retrain"]
    facts = {
        "retrain_same": _pct(check["same_predictions"]),
        "retrain_max_diff": f"{check['max_prob_diff']:.2g}",
        "retrain_machines": "the same CPU model and instruction sets" if same_machine else "different CPUs (model or instruction sets)",
    }
    return Findings({}, pd.DataFrame(rows).set_index("run"), facts)
