"""Chapter 2, augmentation: the balancing counts, the GANs' settings, their quality report and the
GAN budget ladder.
"""

from __future__ import annotations

import os

import pandas as pd

from .common import Findings

__all__ = ["check_pitch_steps", "balancing_chapter", "classic_examples", "gan_quality_facts", "parameter_cycles_table", "balance_counts", "gan_settings_table", "GAN_QUALITY_COLUMNS", "GAN_SCREENING_COLUMNS", "gan_quality_tables", "GAN_QUALITY_COLUMN", "gan_quality_cell", "gan_learning_fact", "gan_ladder"]


def parameter_cycles_table() -> pd.DataFrame:
    """The settings each classic augmenter cycles through while balancing."""
    from ..augment.balance import PARAMETER_CYCLES

    settings = {method: "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in cycle) for method, cycle in PARAMETER_CYCLES.items()}
    return pd.Series(settings, name="settings, in turn").rename_axis("method").to_frame()


def check_pitch_steps(pitch_steps: object) -> None:
    """Raise a ParameterError unless the chapter's ``pitch_steps`` (half-steps of the pitch-shift example) is a number."""
    from ..exceptions import ParameterError

    if isinstance(pitch_steps, bool) or not isinstance(pitch_steps, (int, float)):
        raise ParameterError(f"pitch_steps={pitch_steps!r}; must be a number of half-steps")


def balance_counts(train: pd.DataFrame, *, seed: int, fold: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Utterances per emotion of one training fold before and after each classic balancing.

    Returns
    -------
    counts : pandas.DataFrame
        Index: the emotions; columns ``original``, ``+ time_shift``, ``+ pitch_shift``.
    generated : dict
        Method -> clips it adds.
    """
    from ..augment import fold_seed
    from ..augment.balance import balance
    from ..data import EMOTIONS

    counts = pd.DataFrame({"original": train["emotion"].astype(str).value_counts()})
    generated = {}
    for method in ("time_shift", "pitch_shift"):
        clips = balance(train, method=method, seed=fold_seed(seed, fold))
        added = pd.Series([c.emotion for c in clips]).value_counts()
        counts[f"+ {method}"] = counts["original"].add(added, fill_value=0)
        generated[method] = len(clips)
    return counts.reindex(EMOTIONS).fillna(0).astype(int), generated


def balancing_chapter(data_dir: str | None, *, profile: str, seed: int, verify: bool) -> Findings:
    """How balancing fills the grid's first training fold (fold 0 of ``seed``'s paper folds).

    ``table``: utterances per emotion before and after each classic balancing
    (:func:`balance_counts`). ``facts``: ``profile_name``, ``n_train_fold``, ``n_anger_fold`` and
    ``n_generated_<method>`` per classic method. ``extra``: ``df`` (the corpus table) and ``fold``.
    """
    from ..config import ExperimentConfig
    from ..data import load_emodb
    from ..experiments.cv import folds_of
    from ..profiles import get_profile

    df = load_emodb(data_dir, verify=verify)
    fold = folds_of(ExperimentConfig(profile=profile, seed=seed), df)[0]  # the grid's fold 0
    train = df.iloc[fold.train]
    counts, generated = balance_counts(train, seed=seed, fold=fold.k)
    facts = {"profile_name": get_profile(profile).name, "n_train_fold": len(train), "n_anger_fold": int(counts.loc["anger", "original"])}
    facts.update({f"n_generated_{method}": n for method, n in generated.items()})
    return Findings({}, counts, facts, {"df": df, "fold": fold})


def classic_examples(df: pd.DataFrame, *, pitch_steps: float) -> tuple[dict[str, object], dict[str, object]]:
    """The first happy utterance of ``df`` as recorded, time-shifted by 10 ms with roll and pitch-shifted by ``pitch_steps``.

    Returns
    -------
    facts : dict
        ``aug_utterance`` (its id), ``tau_samples`` (the shift), ``pitch_steps`` (signed).
    versions : dict
        Title -> ``(samples, 3D log-Mel)``, in that order.
    """
    from ..augment import classic
    from ..data import SAMPLE_RATE, load_audio
    from ..features import log_mel_3d

    happy = df[df["emotion"] == "happiness"].iloc[0]
    y = load_audio(happy["path"])
    tau = SAMPLE_RATE // 100
    shown = {
        "original": y,
        f"time-shifted forward by tau = {tau} samples, with roll": classic.time_shift(y, tau=tau, direction="forward", roll=True),
        f"pitch-shifted by {pitch_steps:+g} half-steps": classic.pitch_shift(y, n_steps=pitch_steps),
    }
    versions = {f"{happy['utterance']}: {title}": (audio, log_mel_3d(audio)) for title, audio in shown.items()}
    return {"aug_utterance": happy["utterance"], "tau_samples": tau, "pitch_steps": f"{pitch_steps:+g}"}, versions


def gan_quality_facts(report: pd.DataFrame) -> dict[str, object]:
    """What the page states about a fold's GAN quality report: ``gan_intended_mean`` (%), ``gan_inception_mean``,
    ``gan_ratio_min`` (the smallest memorization ratio), ``gan_flagged`` (GANs with most clips
    nearer a training clip than training clips are to each other) and ``gan_count``."""
    return {
        "gan_intended_mean": f"{100 * report['intended_share'].mean():.0f}",
        "gan_inception_mean": f"{report['inception_score'].mean():.2f}",
        "gan_ratio_min": f"{report['ratio'].min():.2f}",
        "gan_flagged": int((report["share_closer_than_train_p5"] > 0.5).sum()),
        "gan_count": len(report),
    }


def gan_settings_table(profile: str) -> pd.DataFrame:
    """The GAN settings of ``profile``, one column per kind."""
    from ..augment.gan import GanSettings

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
    """:func:`~adcrnn_lib.experiments.quality.fold_quality_report`'s table as two a page can show: scores and
    memorization (:data:`GAN_QUALITY_COLUMNS`), and the clip counts (:data:`GAN_SCREENING_COLUMNS`),
    with readable headers; columns the report lacks are left out."""
    def part(columns: dict[str, str]) -> pd.DataFrame:
        return report[[c for c in columns if c in report.columns]].round(decimals).rename(columns=columns)

    return part(GAN_QUALITY_COLUMNS), part(GAN_SCREENING_COLUMNS)


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
    from ..exceptions import DataError
    from ..experiments.quality import gan_learning, quality_report_path

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
    from ..experiments.quality import gan_learning, gan_learning_sentence

    return gan_learning_sentence(gan_learning(profile, seed=seed), profile=profile)


def _bench_gan_paper_hours(bench: str | os.PathLike | None = None) -> dict[str, float]:
    """Kind -> hours of one GAN at the paper's size and steps on this project's machine, from ``benchmarks/results/bench_gan.json``."""
    import json
    from pathlib import Path

    from ..storage import CHECKOUT_ROOT

    path = Path(bench) if bench is not None else CHECKOUT_ROOT / "benchmarks" / "results" / "bench_gan.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text()).get("updates", [])
    return {r["kind"]: r["projected_training_s"] / 3600 for r in rows if r.get("profile") == "paper"}


def gan_ladder(profile: str, *, seed: int = 0, fold: int = 0, results_dir=None) -> Findings:
    """The GAN budget ladder of fold ``fold`` (:mod:`~adcrnn_lib.experiments.gan_ladder`), from this build's results or the reference.

    ``table``: one row per GAN kind and rung every emotion has reached (medians over the emotions),
    then one row of the real test clips (the ceiling). ``facts``: ``ladder_source``;
    ``ladder_sentence`` (the finding in one sentence: the highest rung, both judges' median shares
    against the ceiling, the chosen rung or that none meets the goal); ``ladder_ceiling_adcrnn``,
    ``ladder_ceiling_compare`` (%); ``ladder_goal`` (the rule); per kind ``ladder_top_<kind>``,
    ``ladder_adcrnn_<kind>``, ``ladder_compare_<kind>`` (%, at the top rung), ``ladder_step_s_<kind>``
    (median seconds a step), ``ladder_choice_<kind>`` (the chosen rung or "no rung up to N steps") and
    ``ladder_paper_hours_<kind>`` (one GAN of the paper's size and steps on this machine, from
    ``bench_gan``; "not measured" without it), ``ladder_extrapolated_<kind>`` (where the goal would
    be met if the median shares kept rising as between the top two rungs, or why that cannot be
    said, :func:`~adcrnn_lib.experiments.gan_ladder.extrapolated_steps`) and ``ladder_short`` (the
    chapter's first sentence about the GANs: which kind meets the goal and where, or that none does
    up to the top rung). Every fact is "(not run)" without a ladder.
    ``extra``: ``table`` (every judged rung), ``summary``, ``ceiling``, ``medians``, ``clips`` (kind
    -> [(steps, samples)] of the played emotion's kept clip per rung) and ``played`` ([(label,
    samples)]: the same clips, each with the sentence that names it).
    """
    from ..experiments.gan_ladder import CEILING_FRACTION, NEAR_COPY_MAX, PLAYED_EMOTION, ceiling_medians, chosen_rung, extrapolated_steps, find_ladder, ladder_summary, load_ladder, played_clips
    from ..experiments.quality import GAN_NAMES

    kinds = ("wavegan", "specgan")
    goal = (
        f"the cheapest rung whose median intended share is at least {CEILING_FRACTION:.0%} of the real clips' under both judges, "
        f"with at most {NEAR_COPY_MAX:.0%} near-copies"
    )
    facts: dict[str, object] = {"ladder_goal": goal}
    folder, where = find_ladder(profile, fold=fold, seed=seed, results_dir=results_dir)
    keys = ["ladder_source", "ladder_sentence", "ladder_ceiling_adcrnn", "ladder_ceiling_compare"]
    keys += [f"ladder_{what}_{kind}" for kind in kinds for what in ("top", "adcrnn", "compare", "step_s", "choice", "extrapolated")]
    keys.append("ladder_short")
    facts.update(dict.fromkeys(keys, "(not run)"))
    hours = _bench_gan_paper_hours()
    for kind in kinds:
        facts[f"ladder_paper_hours_{kind}"] = f"{hours[kind]:,.0f}" if kind in hours else "not measured"
    if folder is None:
        facts["ladder_source"] = "neither this build's results nor the reference (none is here yet)"
        facts["ladder_sentence"] = f"No GAN budget ladder of the {profile} profile is here yet (adcrnn gan-ladder makes one)."
        facts["ladder_short"] = "Whether longer training makes the GANs learn is not measured here yet (no GAN budget ladder)."
        return Findings({}, pd.DataFrame(), facts, {"table": pd.DataFrame(), "summary": pd.DataFrame(), "ceiling": {}, "medians": {}, "clips": {}, "played": []})
    table, ceiling = load_ladder(folder)
    summary = ladder_summary(table)
    medians = ceiling_medians(ceiling, sorted(table["emotion"].unique()))
    facts["ladder_source"] = where
    for judge in ("adcrnn", "compare"):
        if judge in medians:
            facts[f"ladder_ceiling_{judge}"] = f"{100 * medians[judge]:.0f}"
    parts = []
    choices: dict[str, tuple] = {}
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
        choices[kind] = (choice, top, float(row["minutes_per_gan"]))
        steps, why = extrapolated_steps(summary, medians, kind)
        if choice is not None:
            facts[f"ladder_extrapolated_{kind}"] = f"met at {choice:,} steps"
        elif steps is None:
            facts[f"ladder_extrapolated_{kind}"] = f"not extrapolable: {why}"
        else:
            hours = steps * float(of_kind["seconds_per_step"].median()) / 3600
            facts[f"ladder_extrapolated_{kind}"] = f"about {steps:,} steps (about {hours:,.0f} h a GAN on this machine), if the median shares kept rising as from the rung below to {top:,} steps"
        parts.append(
            f"{GAN_NAMES[kind]} after {top:,} generator steps: {facts[f'ladder_adcrnn_{kind}']} % (ADCRNN judge) and "
            f"{facts[f'ladder_compare_{kind}']} % (ComParE judge), goal met at {facts[f'ladder_choice_{kind}']}"
        )
    met = {k: c for k, c in choices.items() if c[0] is not None}
    if met:
        facts["ladder_short"] = "Trained longer, the GANs learn: " + "; ".join(
            f"{GAN_NAMES[k]} meets the quality goal at {c[0]:,} generator steps" for k, c in met.items()
        ) + f" (fold {fold}, both judges)."
    elif choices:
        reach = "; ".join(f"{GAN_NAMES[k]} up to {c[1]:,} steps, about {c[2]:,.0f} min a GAN" for k, c in choices.items())
        facts["ladder_short"] = (
            f"No GAN meets the quality goal on the budget ladder so far ({reach}): the GAN rows of the "
            f"{profile} profile are trained with GANs that did not learn, and test nothing about GAN augmentation."
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
    clips = played_clips(folder)
    played = [(f"{GAN_NAMES[kind]}, {PLAYED_EMOTION}, after {steps:,} generator steps:", clip) for kind, of_kind in clips.items() for steps, clip in of_kind]
    return Findings({}, table_page, facts, {"table": table, "summary": summary, "ceiling": ceiling, "medians": medians, "clips": clips, "played": played})
