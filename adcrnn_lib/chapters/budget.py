"""The training-budget study chapter: what each training lever does to ADCRNN, and at what cost.

Each study point is the starting recipe (:data:`~adcrnn_lib.experiments.grid.STUDY_START`: the ``cpu`` profile
as it was) with one lever changed, or the combination that became the ``cpu`` profile
(:data:`~adcrnn_lib.experiments.grid.STUDY_LEVERS`), run under the paper's protocol without augmentation, loss
Lf1, for every seed of :data:`~adcrnn_lib.experiments.grid.STUDY_SEEDS` (each seed draws its own folds and
weights). Points are paired with the starting recipe over seeds x folds (:func:`~adcrnn_lib.experiments.cv.compare`).

The study is too long for every cold build, so its runs are read from this build's results when
there, else from the committed reference (the page says which), and a point neither holds is shown
as not run; the chapter's ``run_missing`` parameter trains those (:func:`~adcrnn_lib.experiments.grid.run_study`).

The leaky points (:data:`~adcrnn_lib.experiments.grid.LEAKY_POINTS`, :mod:`~adcrnn_lib.experiments.leaky`) are read the
same way and shown in their own table, every row labelled as leaky; no honest number uses them.

This module reads runs, so it sits above :mod:`~adcrnn_lib.experiments.cv` and :mod:`~adcrnn_lib.experiments.grid`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments.cv import load_run_folder
from ..experiments.results import reference_root
from .common import Findings
from .paper import TABLE_V, paper_label

__all__ = ["BASE_POINT", "CHOSEN_POINT", "PROFILE_POINT", "VALIDATION_POINT", "PAPER_BAR", "FOUR_LEAKS", "paper_bar", "leaks_reaching_the_paper", "leaky_summary", "leaky_facts", "load_study", "study_table", "study_chapter", "plot_frontier", "FRONTIER_GROUPS", "frontier_group", "frontier_labels", "load_leaky", "leaky_table", "is_variant", "variants_table"]

#: The point every lever is paired with.
BASE_POINT = "starting recipe"
#: The combination of levers chosen first for ``cpu`` (3 s segments); the profile now cuts 1 s segments that do not overlap, in 15 epochs (:data:`PROFILE_POINT`).
CHOSEN_POINT = "combined: 30 epochs, cosine, mean of last 5 (3 s segments)"
#: The variant of :data:`CHOSEN_POINT` the ``cpu`` profile now trains with.
PROFILE_POINT = "the recipe with 1 s segments, no overlap, in 15 epochs (the cpu profile)"
#: The cpu profile trained on its folds' validation parts too (its selection reads no validation score).
VALIDATION_POINT = "the cpu profile, also trained on its validation part"
#: The cpu profile's no-augmentation run of results version 1 (TensorFlow's remapper on, see
#: :func:`~adcrnn_lib.models.disable_tf_remapper`), kept in the reference under its old key.
BUGGY_POINT = "starting recipe with BN momentum 0.99, before the remapper fix (version 1, seed 0)"
BUGGY_KEY = "0eb5c13e982a60b2"
#: The study point with the settings of the buggy run (the starting recipe before its BN momentum
#: was changed), so that the two differ by the fix alone.
BUGGY_TWIN = "BN momentum 0.99 (Keras's default)"
#: The calibration row: TIM-Net in the study's folds (:mod:`~adcrnn_lib.experiments.timnet`), not ADCRNN.
TIMNET_POINT = "TIM-Net (calibration)"
#: :data:`CHOSEN_POINT` (30 epochs, 3 s segments) left one speaker out (seed 0, no augmentation,
#: Lf1), kept in the reference under its key: the profile's leave-one-speaker-out run is paired with
#: it, to show what the cheaper profile costs across speakers.
LOSO_CHOSEN_KEY = "ad3ee60580b46f93"


def load_study(profile: str = "cpu", data_dir=None, *, seeds=None, results_dir=None, timnet: bool = True) -> dict[str, dict]:
    """Every study point: ``{"runs": [CVResult per seed] or None, "source": str, "overrides": dict}``.

    A point counts only when every seed's run is complete; ``source`` is ``"this build"``,
    ``"reference"``, ``"both"``, ``"not run"``, or ``"not applicable ..."`` with the reason when
    the profile cannot take the lever (averaging 5 epochs of the 1-epoch smoke profile). With ``timnet``, the calibration row
    :data:`TIMNET_POINT` is included the same way.
    """
    from ..exceptions import ParameterError
    from ..experiments import grid

    seeds = grid.STUDY_SEEDS if seeds is None else tuple(seeds)
    out: dict[str, dict] = {}
    points = {}
    for name, overrides in grid.STUDY_LEVERS.items():
        try:
            points[name] = (grid.study_configs(profile, data_dir, seeds=seeds, levers={name: overrides})[name], dict(overrides))
        except ParameterError as exc:  # e.g. averaging 5 epochs of a 1-epoch profile
            points[name] = (None, dict(overrides))
            out[name] = {"runs": None, "source": f"not applicable to the {profile} profile ({exc})", "overrides": dict(overrides)}
    if timnet:
        points[TIMNET_POINT] = (grid.timnet_configs(profile, data_dir, seeds=seeds), {})
    if profile == "cpu":
        buggy = load_run_folder(reference_root() / profile / BUGGY_KEY)
        out[BUGGY_POINT] = {"runs": [buggy] if buggy else None, "source": "reference" if buggy else "not run", "overrides": {}}
    for name, (configs, overrides) in points.items():
        if configs is None:
            out[name] = out.pop(name)  # keeps the levers' order
            continue
        found = [grid.find_run(c, results_dir=results_dir) for c in configs]
        if any(r is None for r, _ in found):
            out[name] = {"runs": None, "source": "not run", "overrides": overrides}
            continue
        sources = {where for _, where in found}
        out[name] = {"runs": [r for r, _ in found], "source": sources.pop() if len(sources) == 1 else "both", "overrides": overrides}
    order = [n for n in points if n in out]
    if BUGGY_POINT in out:  # right after the point it is the buggy twin of
        order.insert(order.index(BASE_POINT) + 1 if BASE_POINT in order else 0, BUGGY_POINT)
    return {n: out[n] for n in order}


def _pooled(runs) -> dict[str, np.ndarray]:
    return {m: np.array([f[m] for r in runs for f in r.folds]) for m in ("wa", "ua")}


def _score_cells(runs) -> dict[str, str]:
    """``{"WA (%)", "UA (%)"}``: mean ± std over the seeds x folds of ``runs``, in %."""
    pooled = _pooled(runs)
    return {f"{m.upper()} (%)": f"{100 * pooled[m].mean():.1f} ± {100 * pooled[m].std(ddof=1):.1f}" for m in ("wa", "ua")}


def _interval(c: dict) -> str:
    """``"[-1.2, +3.4]"``: a comparison's bootstrap 95% interval in points."""
    return f"[{100 * c['ci_low']:+.1f}, {100 * c['ci_high']:+.1f}]"


def _seed_spread(runs, metric: str) -> float:
    """Standard deviation of the per-seed means (ddof=1), in %; 0 with one seed."""
    means = [r.summary()[metric]["mean"] for r in runs]
    return float(100 * np.std(means, ddof=1)) if len(means) > 1 else 0.0


def _fold_seconds(runs) -> float:
    return float(np.mean([f["wall_time_s"] for r in runs for f in r.folds]))


def study_table(study: dict[str, dict], *, base: str = BASE_POINT) -> pd.DataFrame:
    """One row per study point: WA and UA (mean ± std over seeds x folds), the between-seed spread
    of UA, the paired UA difference against ``base``, fold time, and where the runs were read."""
    from ..experiments.cv import compare

    base_runs = study.get(base, {}).get("runs")
    rows = []
    for name, point in study.items():
        row = {"study point": name, "changes": ", ".join(f"{k}={v}" for k, v in point["overrides"].items()) or "-"}
        runs = point["runs"]
        if runs is None:
            rows.append({**row, "read from": point["source"]})
            continue
        row.update(_score_cells(runs))
        row["UA seed spread"] = f"{_seed_spread(runs, 'ua'):.1f}"
        if base_runs is not None and name != base:
            c = compare(base_runs[: len(runs)], runs)["ua"]  # a one-seed point pairs with the base's first seed
            row[f"UA vs {base} (points)"] = f"{100 * c['diff']:+.1f} {_interval(c)}, p={c['p']:.3f}"
        row["fold time (s)"] = f"{_fold_seconds(runs):.0f}"
        row["read from"] = point["source"]
        rows.append(row)
    return pd.DataFrame(rows).fillna("").set_index("study point")


#: The frontier's groups of study points, in legend order: (label, colour, marker).
FRONTIER_GROUPS = {
    "starting recipe": ("k", "s"),
    "one lever changed": ("C0", "o"),
    "the recipe and its variants": ("C1", "D"),
    "TIM-Net (calibration)": ("C2", "^"),
    "before the remapper fix": ("0.55", "X"),
}


def frontier_group(name: str) -> str:
    """The :data:`FRONTIER_GROUPS` key of a study point."""
    if name == BASE_POINT:
        return "starting recipe"
    if name == TIMNET_POINT:
        return "TIM-Net (calibration)"
    if name == BUGGY_POINT:
        return "before the remapper fix"
    if name == CHOSEN_POINT or is_variant(name):
        return "the recipe and its variants"
    return "one lever changed"


def frontier_labels(study: dict[str, dict], *, metric: str = "ua", best: int = 2) -> dict[str, str]:
    """The points the frontier names beside their marker: the starting recipe, the recipe chosen
    first, the ``cpu`` profile, the ``best`` single levers by mean ``metric``, and TIM-Net (those with runs)."""
    done = {n: p for n, p in study.items() if p["runs"] is not None}
    levers = sorted((n for n in done if frontier_group(n) == "one lever changed"), key=lambda n: -_pooled(done[n]["runs"])[metric].mean())
    short = {BASE_POINT: "starting recipe", CHOSEN_POINT: "recipe (3 s, 30 epochs)", PROFILE_POINT: "cpu profile (1 s, 15 epochs)", TIMNET_POINT: "TIM-Net"}
    return {n: short.get(n, n) for n in done if n in short or n in levers[:best]}


def plot_frontier(study: dict[str, dict], *, baseline=None, baseline_label: str = "", metric: str = "ua"):
    """Test ``metric`` against mean fold training time (log scale), one point per study point (folds x seeds as dots).

    Points are coloured by :func:`frontier_group` (one legend entry a group, and the baseline's
    line); the points of :func:`frontier_labels` are named beside their marker.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    named = frontier_labels(study, metric=metric)
    shown: set[str] = set()
    placed = []
    for name, point in ((n, p) for n, p in study.items() if p["runs"] is not None):
        values = 100 * _pooled(point["runs"])[metric]
        t = _fold_seconds(point["runs"])
        group = frontier_group(name)
        color, marker = FRONTIER_GROUPS[group]
        ax.scatter(np.full(len(values), t), values, s=8, alpha=0.25, color=color, marker=marker, linewidths=0)
        ax.errorbar(t, values.mean(), yerr=values.std(ddof=1), fmt=marker, color=color, capsize=3, ms=6, label=None if group in shown else group)
        shown.add(group)
        if name in named:
            placed.append((t, values.mean(), values.std(ddof=1), named[name], color))
    for i, (t, y, sd, text, color) in enumerate(sorted(placed)):  # left to right, above and below the bars in turn: labels rarely collide
        above = i % 2 == 0
        ax.annotate(text, (t, y + sd if above else y - sd), xytext=(0, 4 if above else -4), textcoords="offset points", ha="center", va="bottom" if above else "top", fontsize=8, color=color,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8})
    if baseline is not None:
        ax.axhline(100 * baseline.summary()[metric]["mean"], color="k", ls="--", lw=1, label=baseline_label or "baseline")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if str(f"{v:g}")[0] in "25" else ""))
    ax.set(xlabel="mean training time per fold (s, log scale; this project's 2-core machine)", ylabel=f"test {metric.upper()} (%)", title="Accuracy for compute: each training lever")
    if ax.get_legend_handles_labels()[0]:  # no point has runs yet (e.g. the smoke profile): no empty legend, no warning on the page
        ax.legend(fontsize=8, loc="lower right")
    return fig


def load_leaky(profile: str = "cpu", data_dir=None, *, results_dir=None) -> dict[str, dict]:
    """Every leaky point (:data:`~adcrnn_lib.experiments.grid.LEAKY_POINTS`) and its honest twin, as :func:`load_study`.

    Returns
    -------
    dict
        name -> ``{"runs": [...] or None, "twins": [...] or None, "source": str, "leaks": tuple,
        "recipe": str, "augmentation": str}``: the leaky runs and the honest twins
        (:meth:`~adcrnn_lib.experiments.leaky.LeakyConfig.experiment`), one per seed, each None unless every
        seed's run is complete; ``source`` says where the leaky runs were read.
    """
    from ..experiments import grid

    out = {}
    for name, configs in grid.leaky_configs(profile, data_dir).items():
        found = [grid.find_run(c, results_dir=results_dir) for c in configs]
        twins = [grid.find_run(c.experiment(), results_dir=results_dir)[0] for c in configs]
        point = {"leaks": configs[0].leaks, "recipe": grid.LEAKY_POINTS[name][1], "augmentation": configs[0].augmentation, "twins": twins if all(twins) else None}
        if any(r is None for r, _ in found):
            out[name] = {**point, "runs": None, "source": "not run"}
            continue
        sources = {where for _, where in found}
        out[name] = {**point, "runs": [r for r, _ in found], "source": sources.pop() if len(sources) == 1 else "both"}
    return out


#: The four leaks that exist in a run without augmentation.
FOUR_LEAKS = frozenset({"takes", "segments", "corpus_norm", "test_selection"})
#: The WA (%) a leak must reach to explain the paper's no-augmentation number: its mean less its std (Table V).
PAPER_BAR = TABLE_V["none"][0] - TABLE_V["none"][1]


def paper_bar(augmentation: str) -> float:
    """The WA (%) a leaky row must reach to explain the paper's row of the same augmentation (Table V): its mean less its std."""
    mean, std = TABLE_V[augmentation]
    return mean - std


def leaks_reaching_the_paper(wa: dict[str, float], bar: float = PAPER_BAR) -> str:
    """The leaks (name -> WA %) at or above ``bar``, best first, each with its WA; ``"none of them"`` if none."""
    reach = [f"{name} ({wa[name]:.1f} %)" for name in sorted(wa, key=wa.get, reverse=True) if wa[name] >= bar]
    return ", ".join(reach) or "none of them"


def leaky_summary(leaky: dict[str, dict]) -> dict[str, dict]:
    """Each leaky point with results, scored as its honest twin is: name -> ``{"scored_wa", "wa", "ua",
    "twin_wa", "diff", "ci", "paper", "bar", "reaches"}``.

    ``scored_wa`` is the WA over the items the run tested (segments, for a segments leak; %);
    ``wa`` and ``ua`` are per utterance (:func:`~adcrnn_lib.experiments.leaky.utterance_scores`, %), the
    scores the twin and the paper report; ``diff`` and ``ci`` are the WA points against the honest
    twin, paired over seeds x utterances (:func:`~adcrnn_lib.experiments.leaky.compare_by_utterance`; None
    while a twin is not run); ``paper`` is the paper's Table V row of the same augmentation
    (mean, std), ``bar`` its mean less its std, ``reaches`` whether ``wa`` is at or above ``bar``.
    """
    from ..experiments.leaky import compare_by_utterance, utterance_scores

    out = {}
    for name, point in leaky.items():
        runs, twins = point["runs"], point["twins"]
        if runs is None:
            continue
        scores = utterance_scores(runs)
        c = compare_by_utterance(twins, runs)["wa"] if twins else None
        bar = paper_bar(point["augmentation"])
        out[name] = {
            "scored_wa": 100 * _pooled(runs)["wa"].mean(),
            "wa": 100 * scores["wa"],
            "ua": 100 * scores["ua"],
            "twin_wa": 100 * utterance_scores(twins)["wa"] if twins else None,
            "diff": 100 * c["diff"] if c else None,
            "ci": _interval(c) if c else None,
            "paper": TABLE_V[point["augmentation"]],
            "bar": bar,
            "reaches": 100 * scores["wa"] >= bar,
        }
    return out


def leaky_table(leaky: dict[str, dict], summary: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per leaky point, each set against its own honest twin and its own paper row.

    Columns: the recipe the leaks are opened on; WA over the items the run scored (segments for a
    segments leak); WA and UA per utterance, as the twin and the paper score; the twin's WA and the
    leak's WA points against it, paired over seeds x utterances; the paper's Table V row of the
    same augmentation (labelled as the paper's) and whether the leaky WA reaches its mean less its
    std; seeds; where the runs were read. Every row says LEAKY.
    """
    summary = leaky_summary(leaky) if summary is None else summary
    rows = []
    for name, point in leaky.items():
        row = {"protocol": f"LEAKY: {name}", "recipe": point["recipe"]}
        got = summary.get(name)
        if got is None:
            rows.append({**row, "read from": point["source"]})
            continue
        segments = "segments" in point["leaks"]
        row.update({
            "WA as scored (%)": f"{got['scored_wa']:.1f}" + (" (segments)" if segments else ""),
            "WA (%)": f"{got['wa']:.1f}",
            "UA (%)": f"{got['ua']:.1f}",
            "twin WA (%)": f"{got['twin_wa']:.1f}" if got["twin_wa"] is not None else "not run",
            "WA vs twin (points)": f"{got['diff']:+.1f} {got['ci']}" if got["diff"] is not None else "-",
            "paper's row (%)": f"{paper_label(*got['paper'])}, {point['augmentation'].replace('_', ' ')}",
            "reaches it": "yes" if got["reaches"] else "no",
            "seeds": str(len(point["runs"])),
            "read from": point["source"],
        })
        rows.append(row)
    return pd.DataFrame(rows).fillna("").set_index("protocol")


def leaky_facts(leaky: dict[str, dict], summary: dict[str, dict] | None = None) -> dict[str, str | int]:
    """The facts the chapter and the abstract state about the leaky points (each ``"(not run)"`` until its runs exist).

    ``honest_wa`` (the profile's own no-augmentation WA over the seeds x folds of the leaky points'
    twins, %: Table V's row); ``leaky_points``, ``leaky_points_all`` (points with results, of all); ``leaky_reach`` (the single
    leaks without augmentation whose per-utterance WA reaches the paper's no-augmentation mean
    less its std, with their WA, or ``"none of them"``) and ``leaky_reach_bar`` (that WA, %);
    ``leaky_top``, ``leaky_top_wa``, ``leaky_top_diff`` (the single no-augmentation leak with the
    highest per-utterance WA, and its points against its twin with the interval);
    ``leaky_four_wa``, ``leaky_four_twin_wa``, ``leaky_four_diff``, ``leaky_four_reaches`` (the
    four no-augmentation leaks together, :data:`FOUR_LEAKS`: WA, its twin's, the paired points, and
    ``"reaches"`` or ``"does not reach"`` the paper's bar), and the same ``leaky_three_*`` for the
    three of them without ``test_selection``; ``leaky_epoch_gain``, ``leaky_epoch_range`` (the epoch
    picked on the test part alone: WA points over the epoch the validation part picks in the same
    training run, mean and range over seeds x folds, :func:`~adcrnn_lib.experiments.leaky.same_run_gain`); ``leaky_shift_wa``, ``leaky_shift_diff``,
    ``leaky_shift_paper`` (time-shift copies made before the split against the paper's time-shift row).
    """
    summary = leaky_summary(leaky) if summary is None else summary
    facts: dict[str, str | int] = {"leaky_points": len(summary), "leaky_points_all": len(leaky), "leaky_reach_bar": f"{PAPER_BAR:.2f}"}
    combined = [f"leaky_{tag}_{what}" for tag in ("four", "three") for what in ("wa", "twin_wa", "diff", "reaches")]
    facts.update(dict.fromkeys(("leaky_reach", "leaky_top", "leaky_top_wa", "leaky_top_diff", *combined, "leaky_shift_wa", "leaky_shift_diff"), "(not run)"))
    facts["leaky_shift_paper"] = paper_label(*TABLE_V["time_shift"])
    profile_twins = next((p["twins"] for p in leaky.values() if p["recipe"] == "the profile" and p["augmentation"] == "none" and p["twins"]), None)
    facts["honest_wa"] = f"{100 * _pooled(profile_twins)['wa'].mean():.1f}" if profile_twins else "(not run)"

    def diff(name: str) -> str:
        got = summary[name]
        return f"{got['diff']:+.1f} {got['ci']}" if got["diff"] is not None else "(its honest twin is not run)"

    alone = {n: summary[n] for n in summary if len(leaky[n]["leaks"]) == 1 and leaky[n]["augmentation"] == "none"}
    if alone:
        facts["leaky_reach"] = leaks_reaching_the_paper({n: got["wa"] for n, got in alone.items()})
        top = max(alone, key=lambda n: alone[n]["wa"])
        facts.update(leaky_top=top, leaky_top_wa=f"{alone[top]['wa']:.1f}", leaky_top_diff=diff(top))
    for tag, leaks in (("four", FOUR_LEAKS), ("three", FOUR_LEAKS - {"test_selection"})):
        name = next((n for n, point in leaky.items() if set(point["leaks"]) == leaks), None)
        if name in summary:
            got = summary[name]
            facts.update({
                f"leaky_{tag}_wa": f"{got['wa']:.1f}",
                f"leaky_{tag}_twin_wa": f"{got['twin_wa']:.1f}" if got["twin_wa"] is not None else "(not run)",
                f"leaky_{tag}_diff": diff(name),
                f"leaky_{tag}_reaches": "reaches" if got["reaches"] else "does not reach",
            })
    epoch = next((n for n in summary if leaky[n]["leaks"] == ("test_selection",)), None)
    facts["leaky_epoch_gain"] = facts["leaky_epoch_range"] = "(not run)"
    if epoch is not None:
        from ..experiments.leaky import same_run_gain

        gains = 100 * np.concatenate([same_run_gain(r) for r in leaky[epoch]["runs"]])
        facts.update(leaky_epoch_gain=f"{gains.mean():+.1f}", leaky_epoch_range=f"{gains.min():+.1f} to {gains.max():+.1f}")
    shift = next((n for n in summary if leaky[n]["augmentation"] == "time_shift"), None)
    if shift is not None:
        facts.update(leaky_shift_wa=f"{summary[shift]['wa']:.1f}", leaky_shift_diff=diff(shift))
    return facts


def is_variant(name: str) -> bool:
    """Whether a study point is a variant of the ``cpu`` recipe (:data:`~adcrnn_lib.experiments.grid.RECIPE_VARIANTS`),
    paired with the recipe rather than with the starting recipe."""
    from ..experiments.grid import RECIPE_VARIANTS

    return name in RECIPE_VARIANTS


def variants_table(study: dict[str, dict]) -> pd.DataFrame:
    """The variants of the ``cpu`` recipe (:func:`is_variant`) against it, paired over seeds x folds:
    WA and UA, their paired differences with bootstrap intervals, and fold time."""
    from ..experiments.cv import compare
    from ..experiments.grid import CPU_RECIPE

    chosen = study.get(CHOSEN_POINT, {}).get("runs")
    rows = []
    for name, point in study.items():
        if not is_variant(name):
            continue
        row = {"variant": name, "changes from the recipe": ", ".join(f"{k}={v}" for k, v in point["overrides"].items() if CPU_RECIPE.get(k) != v)}
        if point["runs"] is None or chosen is None:
            rows.append({**row, "read from": point["source"] if point["runs"] is None else "the recipe's runs: not run"})
            continue
        c = compare(chosen[: len(point["runs"])], point["runs"])
        row.update({
            **_score_cells(point["runs"]),
            **{f"{m.upper()} vs the recipe (points)": f"{100 * c[m]['diff']:+.1f} {_interval(c[m])}, p={c[m]['p']:.3f}" for m in ("wa", "ua")},
            "fold time (s)": f"{_fold_seconds(point['runs']):.0f}",
            "read from": point["source"],
        })
        rows.append(row)
    return pd.DataFrame(rows).fillna("").set_index("variant") if rows else pd.DataFrame()


def _validation_sentence(profile_runs, runs) -> str:
    """What training on the validation part is worth: :data:`VALIDATION_POINT` against
    :data:`PROFILE_POINT`, paired over the seeds x folds both hold; or that it is not run."""
    from ..experiments.cv import compare

    if not profile_runs or not runs:
        return ("Training each fold on its validation part too (an eighth of its training utterances, which the profile's "
                "selection rule never reads) has not been run yet.")
    n = min(len(profile_runs), len(runs))
    pooled, c = _pooled(runs[:n]), compare(profile_runs[:n], runs[:n])
    return (f"Trained on each fold's validation part too (an eighth of its training utterances, which the profile's selection "
            f"rule never reads), the cpu profile scores {100 * pooled['wa'].mean():.1f} % WA and {100 * pooled['ua'].mean():.1f} % UA: "
            f"{100 * c['wa']['diff']:+.1f} {_interval(c['wa'])} WA and {100 * c['ua']['diff']:+.1f} {_interval(c['ua'])} UA points against "
            f"the profile itself, paired over {n} seed{'s' if n > 1 else ''} x {len(runs[0].folds)} folds.")


def _timnet_status(seed_runs: dict, versus: dict | None = None) -> str:
    """The sentence the chapter states about the calibration row (see :func:`study_chapter`).

    ``seed_runs``: seed -> the complete TIM-Net run of that seed, or None, so that a row with some seeds
    trained is stated as far as it goes (and says which seeds are missing); with two seeds or more
    it names each seed's mean UA. ``versus``: name -> runs
    (one per seed) paired with TIM-Net's runs of the same seeds, stated as UA points with their interval.
    """
    from ..experiments.cv import compare
    from ..experiments.timnet import PUBLISHED

    theirs = f"its authors report {PUBLISHED[0]:.2f} % WA and {PUBLISHED[1]:.2f} % UA on EmoDB in random 10-fold"
    done = [r for r in seed_runs.values() if r is not None]
    if not done:
        return (
            f"The calibration row has no result in this build or in the committed reference yet ({theirs}): its "
            "folds of 500 epochs take 11-12 min each on 2 cores (JAX backend), hours for the row, beyond the cold build."
        )
    pooled = _pooled(done)
    seeds = ", ".join(str(r.config.seed) for r in done)
    if len(done) > 1:  # the between-seed spread beside the pooled mean
        seeds += "; seed means " + " and ".join(f"{100 * r.summary()['ua']['mean']:.1f}" for r in done) + " % UA"
    missing = [str(seed) for seed, r in seed_runs.items() if r is None]
    said = (
        f"TIM-Net, trained in the same folds and kept at its last epoch as its authors do, scores {100 * pooled['wa'].mean():.1f} % WA and "
        f"{100 * pooled['ua'].mean():.1f} % UA over {len(done)} seed{'s' if len(done) > 1 else ''} ({seeds}) x {len(done[0].folds)} folds ({theirs})"
    )
    pairs = []
    for name, runs in (versus or {}).items():
        matched = [(v, t) for v in runs for t in done if v.config.seed == t.config.seed]
        if matched:
            c = compare([v for v, _ in matched], [t for _, t in matched])["ua"]
            pairs.append(f"{100 * c['diff']:+.1f} UA points against {name} {_interval(c)}")
    if pairs:
        said += "; paired in the same folds, " + " and ".join(pairs)
    if missing:
        said += f". Seed{'s' if len(missing) > 1 else ''} {', '.join(missing)} not trained yet" + (": one seed is an anecdote" if len(done) == 1 else "")
    return said + "."


def _loso_tradeoff(profile_run, chosen_run) -> dict[str, str]:
    """Facts pairing the profile's leave-one-speaker-out run with :data:`CHOSEN_POINT`'s, by speaker.

    ``loso_profile_ua``, ``loso_chosen_ua`` (mean UA over the held-out speakers, %) and
    ``loso_diff``, ``loso_ci`` (the profile's UA points against the recipe, with the bootstrap 95%
    interval); each ``"(not run)"`` while either run is missing.
    """
    from ..experiments.cv import compare

    facts = dict.fromkeys(("loso_profile_ua", "loso_chosen_ua", "loso_diff", "loso_ci"), "(not run)")
    if profile_run is None or chosen_run is None:
        return facts
    c = compare(chosen_run, profile_run)["ua"]
    return {
        "loso_profile_ua": f"{100 * profile_run.summary()['ua']['mean']:.1f}",
        "loso_chosen_ua": f"{100 * chosen_run.summary()['ua']['mean']:.1f}",
        "loso_diff": f"{100 * c['diff']:+.1f}",
        "loso_ci": _interval(c),
    }


def study_chapter(profile: str, data_dir, *, seed: int = 0, verify: bool = True, run_missing: bool = False, results_dir=None) -> Findings:
    """The study's results, training the missing points first when ``run_missing``.

    ``facts``: ``study_points`` (points with results), ``study_points_all``, ``study_seeds``;
    ``base_wa``, ``base_ua`` (the starting recipe, %, over seeds x folds); ``best_point``,
    ``best_ua``, ``best_diff`` (UA points against the base, with its interval ``best_ci``);
    ``chosen_wa``, ``chosen_ua``, ``chosen_diff``, ``chosen_ci`` (:data:`CHOSEN_POINT`, the cpu
    profile, and its UA points against the base); ``chosen_vs_baseline``, ``chosen_vs_baseline_ci``
    (its UA points against the baseline, paired over the folds of seed ``seed``);
    ``baseline_ua`` (the ComParE baseline, seed ``seed``); ``from_reference`` (points read from
    the committed reference); ``buggy_wa`` (the starting recipe with BN momentum 0.99 before the remapper fix, seed 0, %)
    and ``fix_diff``, ``fix_ci`` (WA points the fix is worth on the same folds and settings, against
    :data:`BUGGY_TWIN`'s seed 0, with its interval).
    The leaky points' facts of :func:`leaky_facts`, ``honest_wa`` among them.
    ``profile_wa``, ``profile_ua`` (:data:`PROFILE_POINT`, what the cpu profile trains with, %),
    ``profile_vs_recipe`` (its WA points against :data:`CHOSEN_POINT`, with the interval),
    ``profile_vs_baseline``, ``profile_vs_baseline_ci`` (its UA points against the baseline in the
    folds of seed ``seed``).
    ``variant_best``, ``variant_best_wa``, ``variant_best_ua``, ``variant_best_diff`` (the
    variant of the cpu recipe with the highest WA, and its paired WA cell against the recipe).
    ``validation_sentence`` (:data:`VALIDATION_POINT` against :data:`PROFILE_POINT`, paired).
    ``timnet_status`` (a sentence: the calibration row's WA and UA over the seeds trained so far,
    beside its authors' published numbers, paired by seed with the ComParE baseline (its run of each
    of TIM-Net's seeds, where this build or the reference holds it) and with
    :data:`PROFILE_POINT` in UA points with their intervals, naming the seeds not trained yet; or
    that it has no result yet).
    ``loso_profile_ua``, ``loso_chosen_ua``, ``loso_diff``, ``loso_ci`` (leave one speaker out,
    seed 0: the profile against :data:`CHOSEN_POINT`, see :func:`_loso_tradeoff`; the cpu profile only).
    ``extra``: ``study`` (see :func:`load_study`), ``baseline`` (a CVResult), ``leaky`` (see
    :func:`load_leaky`), ``leaky_table`` (see :func:`leaky_table`), ``variants`` (see
    :func:`variants_table`).
    """
    from ..experiments.cv import compare
    from ..experiments.grid import STUDY_SEEDS, baseline_configs, find_run, loso_configs, run_leaky_points, run_study, timnet_configs

    if run_missing:
        run_study(profile, data_dir, timnet=True, verify=verify, results_dir=results_dir)
        run_leaky_points(profile, data_dir, verify=verify, results_dir=results_dir)
    study = load_study(profile, data_dir, results_dir=results_dir)
    table = study_table(study)
    done = {n: p for n, p in study.items() if p["runs"] is not None}
    facts: dict[str, object] = {
        "study_points": len(done),
        "study_points_all": len(study),
        "study_seeds": len(STUDY_SEEDS),
        "from_reference": sum(p["source"] in ("reference", "both") for p in done.values()),
        # stated as not run until the runs exist, so that the page always builds
        "base_wa": "(not run)",
        "base_ua": "(not run)",
        "best_point": "(not run)",
        "best_ua": "(not run)",
        "best_diff": "(not run)",
        "best_ci": "(not run)",
        "baseline_ua": "(not run)",
        "chosen_wa": "(not run)",
        "chosen_ua": "(not run)",
        "chosen_diff": "(not run)",
        "chosen_ci": "(not run)",
        "chosen_vs_baseline": "(not run)",
        "chosen_vs_baseline_ci": "(not run)",
        "buggy_wa": "(not run)",
        "fix_diff": "(not run)",
        "fix_ci": "(not run)",
    }
    base = study.get(BASE_POINT, {}).get("runs")
    chosen = study.get(CHOSEN_POINT, {}).get("runs")
    if base is not None:
        pooled = _pooled(base)
        facts["base_wa"] = f"{100 * pooled['wa'].mean():.1f}"
        facts["base_ua"] = f"{100 * pooled['ua'].mean():.1f}"
        buggy, twin = study.get(BUGGY_POINT, {}).get("runs"), study.get(BUGGY_TWIN, {}).get("runs")
        if buggy is not None and twin is not None:
            fix = compare(buggy, twin[:1])["wa"]
            facts.update(buggy_wa=f"{100 * buggy[0].summary()['wa']['mean']:.1f}", fix_diff=f"{100 * fix['diff']:+.1f}", fix_ci=_interval(fix))
        if chosen is not None:
            c = compare(base, chosen)["ua"]
            pooled = _pooled(chosen)
            facts.update(chosen_wa=f"{100 * pooled['wa'].mean():.1f}", chosen_ua=f"{100 * pooled['ua'].mean():.1f}", chosen_diff=f"{100 * c['diff']:+.1f}", chosen_ci=_interval(c))
        levers = {n: p for n, p in done.items() if n not in (BASE_POINT, CHOSEN_POINT, BUGGY_POINT, TIMNET_POINT) and not is_variant(n)}
        if levers:
            best = max(levers, key=lambda n: _pooled(levers[n]["runs"])["ua"].mean())
            c = compare(base, levers[best]["runs"])["ua"]
            facts.update(
                best_point=best,
                best_ua=f"{100 * _pooled(levers[best]['runs'])['ua'].mean():.1f}",
                best_diff=f"{100 * c['diff']:+.1f}",
                best_ci=_interval(c),
            )
    baseline_config = baseline_configs(data_dir, seed=seed, profile=profile)[("paper", False)]
    baseline, _ = find_run(baseline_config, results_dir=results_dir)
    profile_runs = study.get(PROFILE_POINT, {}).get("runs")
    facts.update(profile_wa="(not run)", profile_ua="(not run)", profile_vs_recipe="(not run)", profile_vs_baseline="(not run)", profile_vs_baseline_ci="(not run)")
    if baseline is not None:
        facts["baseline_ua"] = f"{100 * baseline.summary()['ua']['mean']:.1f}"
        for tag, runs in (("chosen", chosen), ("profile", profile_runs)):  # UA against the baseline in the folds of ``seed``
            same_seed = [r for r in runs or [] if r.config.seed == seed]
            if same_seed:
                c = compare(baseline, same_seed[0])["ua"]
                facts.update({f"{tag}_vs_baseline": f"{100 * c['diff']:+.1f}", f"{tag}_vs_baseline_ci": _interval(c)})
    if profile_runs is not None:
        pooled = _pooled(profile_runs)
        facts.update(profile_wa=f"{100 * pooled['wa'].mean():.1f}", profile_ua=f"{100 * pooled['ua'].mean():.1f}")
        if chosen is not None:
            c = compare(chosen, profile_runs)["wa"]
            facts["profile_vs_recipe"] = f"{100 * c['diff']:+.1f} {_interval(c)}"
    facts["validation_sentence"] = _validation_sentence(profile_runs, study.get(VALIDATION_POINT, {}).get("runs"))
    variants = variants_table(study)
    facts.update(variant_best="(not run)", variant_best_wa="(not run)", variant_best_ua="(not run)", variant_best_diff="(not run)")
    ran = [n for n in variants.index if study[n]["runs"] is not None] if chosen is not None else []
    if ran:
        top = max(ran, key=lambda n: _pooled(study[n]["runs"])["wa"].mean())
        pooled = _pooled(study[top]["runs"])
        facts.update(variant_best=top, variant_best_wa=f"{100 * pooled['wa'].mean():.1f}", variant_best_ua=f"{100 * pooled['ua'].mean():.1f}", variant_best_diff=variants.loc[top, "WA vs the recipe (points)"])
    timnet = timnet_configs(profile, data_dir)
    baselines = [find_run(baseline_configs(data_dir, seed=c.seed, profile=profile)[("paper", False)], results_dir=results_dir)[0] for c in timnet]
    versus = {"the ComParE baseline": [b for b in baselines if b is not None], "ADCRNN as the cpu profile trains it": profile_runs or []}
    facts["timnet_status"] = _timnet_status({c.seed: find_run(c, results_dir=results_dir)[0] for c in timnet}, versus)
    loso_profile = find_run(loso_configs(profile, data_dir, augmentation="none")["none"], results_dir=results_dir)[0]
    loso_chosen = load_run_folder(reference_root() / profile / LOSO_CHOSEN_KEY) if profile == "cpu" else None
    facts.update(_loso_tradeoff(loso_profile, loso_chosen))
    leaky = load_leaky(profile, data_dir, results_dir=results_dir)
    summary = leaky_summary(leaky)
    facts.update(leaky_facts(leaky, summary))
    extra = {"study": study, "baseline": baseline, "leaky": leaky, "leaky_table": leaky_table(leaky, summary), "variants": variants}
    return Findings(results={n: p["runs"] for n, p in done.items()}, table=table, facts=facts, extra=extra)
