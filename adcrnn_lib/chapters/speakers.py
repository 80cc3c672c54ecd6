"""Chapter 6, speakers: leaving one speaker out, per-speaker normalization, and the recording-level
options and their check.
"""

from __future__ import annotations

import pandas as pd

from .common import AUGMENTATION_NAMES, Findings, paired_ua_cell, pct, ua_cell

__all__ = ["NORMALIZED", "loso_chapter", "level_table", "LEVEL_GOAL_CHANGED", "level_points"]


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
    from ..exceptions import ParameterError
    from ..experiments.baselines import run_baseline
    from ..experiments.cv import pool_seeds, run_cv
    from ..experiments.grid import HDA_AUGMENTATIONS, baseline_configs, hda_configs, loso_configs
    from . import report
    from .paper import TABLE_V

    if augmentation != "best" and augmentation not in HDA_AUGMENTATIONS[1:]:
        raise ParameterError(f"augmentation={augmentation!r}; allowed: best, {', '.join(HDA_AUGMENTATIONS[1:])}")
    loso_cfg = loso_configs(profile, data_dir, augmentation=augmentation, seed=seed)
    aug = next(a for a in loso_cfg if not a.startswith("none"))
    hda_cfg = hda_configs(profile, data_dir, seed=seed)
    loso = {a: run_cv(c, verify=verify, progress=False) for a, c in loso_cfg.items()}
    paper = {a: run_cv(hda_cfg[a], verify=verify, progress=False) for a in ("none", aug)}
    bases = {k: run_baseline(c, verify=verify, progress=False) for k, c in baseline_configs(data_dir, seed=seed, features=baseline_features, profile=profile).items()}
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
        "loso_ua_none": pct(ua["none"]),
        "loso_ua_aug": pct(ua[aug]),
        "loso_ua_norm": pct(ua[NORMALIZED]),
        "gap_none": pct(paper["none"].summary()["ua"]["mean"] - ua["none"]),
        "base_gap": pct(bases[("paper", False)].summary()["ua"]["mean"] - base_loso.summary()["ua"]["mean"]),
        "loso_aug_vs_none": paired_ua_cell(loso["none"], loso[aug]),
        "loso_norm_vs_none": paired_ua_cell(loso["none"], loso[NORMALIZED]),
        "loso_vs_base": report.verdict(base_loso, loso["none"]),
        "norm_base_ua": ua_cell(bases[("loso", True)]),
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
    """The level check of runs without augmentation (:func:`~adcrnn_lib.experiments.cv.level_check`), pooled over their seeds x folds.

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

    from ..experiments.cv import pool_seeds
    from ..metrics import unweighted_accuracy

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
    """The level points (:data:`~adcrnn_lib.experiments.grid.LEVEL_POINTS`) against the profile, both protocols.

    Reads runs from this build or the committed reference (:func:`~adcrnn_lib.experiments.grid.find_run`);
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
    from ..data import load_audio, load_emodb
    from ..experiments.cv import pool_seeds
    from ..experiments.grid import LEVEL_BASE, LEVEL_POINTS, find_run, level_configs
    from ..level import CHECK_GAINS_DB, CLIPPED_SHARE_WARN, clipped_at_gain
    from . import report

    where = {"paper": "random folds", "loso": "leave one speaker out"}
    found: dict[tuple[str, str], list] = {}
    read_from: dict[tuple[str, str], str] = {}
    for protocol, by_name in level_configs(profile, data_dir).items():
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
                verdicts.append(f"{where[protocol]} {ua_cell(pool_seeds(runs))} % UA, {paired_ua_cell(pool_seeds(base), pool_seeds(runs))} UA points against the profile")
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
    clips = [load_audio(p) for p in load_emodb(data_dir, verify=verify)["path"]]
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
