"""Chapter 7, reproducibility: this build's runs against the reference, the builds' timing records,
and one reference fold trained again.
"""

from __future__ import annotations

import os

import pandas as pd

from .common import AUGMENTATION_NAMES, MODEL_NAMES, PROTOCOL_NAMES, Findings, pct

__all__ = ["COLD_GOAL_HOURS", "CACHED_GOAL_MINUTES", "REFERENCE_COLD_BUILD", "BUILD_STARTED_VAR", "load_run", "run_table", "build_table", "retrain_chapter"]


#: The cpu profile's budget on 2 cores: a cold book build, and a rebuild with every fold cached.
COLD_GOAL_HOURS = 3.0  # the cold build's budget on 2 cores; its extra hour over the first 2 h buys accuracy


CACHED_GOAL_MINUTES = 3.0


#: The reference's cold build of the ``cpu`` profile, measured from its logs: it ran in three parts
#: (its session ended during leave one speaker out; the GAN quality report then stopped it until
#: d12bd28), so it wrote no ``book-cold.json`` (CHANGELOG.md, 2026-12-01). It describes
#: the reference whose last build record (the cached rebuild of it) is of commit ``rebuilt_at``.
REFERENCE_COLD_BUILD = {"profile": "cpu", "rebuilt_at": "d12bd288c2", "commit": "a2ea14b", "finished": "2026-12-01", "cores": 2, "parts_min": (127.9, 47.2, 4.4), "total_min": 179.4}


#: Set by :func:`~adcrnn_lib.chapters.book.build_book` for its chapters: the time (``time.time()``) the build began.
BUILD_STARTED_VAR = "ADCRNN_BUILD_STARTED"


# --------------------------------------------------------------------------------------------
# Reproducibility
# --------------------------------------------------------------------------------------------
def load_run(config, root):
    """The run's folds under ``root``, or None where that run has no fold files."""
    from ..exceptions import ParameterError
    from ..experiments.cv import load_result

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
    from ..experiments import grid
    from .paper import TABLE_IV, TABLE_V
    from .report import mean_std

    runs = {f"Table V, {AUGMENTATION_NAMES[a]}": c for a, c in grid.hda_configs(profile, data_dir, seed=seed).items()}
    runs.update({f"Table IV, {MODEL_NAMES[k]}": c for k, c in grid.ablation_configs(profile, data_dir, seed=seed).items() if k != (True, "lf1")})
    runs.update({f"LOSO, {a}": c for a, c in grid.loso_configs(profile, data_dir, seed=seed).items()})

    def label(protocol: str, norm: bool) -> str:  # short: a row label of a table that must fit the page
        return f"baseline, {'random folds' if protocol == 'paper' else PROTOCOL_NAMES[protocol]}{', speaker-norm' if norm else ''}"

    runs.update({label(p, n): c for (p, n), c in grid.baseline_configs(data_dir, seed=seed, features=baseline_features, profile=profile).items()})
    for s in grid.table_v_seeds(profile, seed)[1:]:  # Table V's further seeds, with their baselines
        runs.update({f"Table V, {AUGMENTATION_NAMES[a]} (seed {s})": c for a, c in grid.hda_configs(profile, data_dir, seed=s).items()})
        runs.update({f"{label(p, n)} (seed {s})": c for (p, n), c in grid.baseline_configs(data_dir, seed=s, features=baseline_features, profile=profile).items() if p == "paper"})
    paper = {f"Table V, {AUGMENTATION_NAMES[a]}": m for a, (m, _) in TABLE_V.items()}
    paper.update({f"Table IV, {MODEL_NAMES[k]}": m for k, (m, _) in TABLE_IV.items()})
    results, rows = {}, []
    for name, config in runs.items():
        ours, ref = load_run(config, None), load_run(config, reference)
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

    from ..experiments.grid import BUILD_RECORD, COLD_BUILD_RECORD, GRID_RECORD, read_record

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
    (:func:`~adcrnn_lib.experiments.grid.retrain_check`; trained once per results folder).

    ``facts``: ``retrain_same`` (% of test utterances predicted alike), ``retrain_max_diff`` (the
    largest probability difference), ``retrain_machines`` (whether both ran on the same CPU model
    and instruction sets). The table has a row per run. With no reference fold, every fact says so.
    """
    from ..experiments.grid import retrain_check

    check = retrain_check(profile, data_dir, seed=seed, verify=verify, reference_dir=reference)
    if check is None:
        missing = "(the reference has no such fold: it predates results version 2 or this profile)"
        return Findings({}, pd.DataFrame(), {"retrain_same": missing, "retrain_max_diff": missing, "retrain_machines": missing})
    rows = [
        {
            "run": name,
            "CPU": check[f"cpu_{key}"],
            "instruction sets": check[f"isa_{key}"],
            "WA (%)": pct(check[f"wa_{key}"]),
            "UA (%)": pct(check[f"ua_{key}"]),
            "best epoch": check[f"best_epoch_{key}"],
        }
        for name, key in (("the reference's fold 0", "reference"), ("fold 0 trained again here", "retrain"))
    ]
    same_machine = check["cpu_reference"] == check["cpu_retrain"] and check["isa_reference"] == check["isa_retrain"]
    facts = {
        "retrain_same": pct(check["same_predictions"]),
        "retrain_max_diff": f"{check['max_prob_diff']:.2g}",
        "retrain_machines": "the same CPU model and instruction sets" if same_machine else "different CPUs (model or instruction sets)",
    }
    return Findings({}, pd.DataFrame(rows).set_index("run"), facts)
