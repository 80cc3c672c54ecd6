"""Every cross-validated run the book shows, in one place, and the runner that does them in order.

The chapters ask this module for their configurations, so the book, ``adcrnn book`` and a reader's
``papermill -p`` rerun agree on what "Table V" or "the best augmentation" means:

* :func:`hda_configs`: Table V, loss Lf1 with each augmentation, for each seed of
  :func:`table_v_seeds`;
* :func:`ablation_configs`: Table IV, WaveGAN data with each model and loss;
* :func:`loso_configs`: leave one speaker out, without augmentation and with the best one;
* :func:`baseline_configs`: the openSMILE baseline under both protocols, with and without speaker
  normalization.

:func:`run_grid` runs all of them before the notebooks execute (each notebook then reads cached
folds), logging which run of how many is going and an estimate of the time left.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from ..config import ExperimentConfig
from ..exceptions import ParameterError
from ..profiles import get_profile
from .baselines import BaselineConfig
from .cv import missing_folds
from .results import fold_path, n_folds, reference_root, results_root, run_dir

__all__ = [
    "HDA_AUGMENTATIONS",
    "ABLATION_MODELS",
    "hda_configs",
    "TABLE_V_SEEDS",
    "table_v_seeds",
    "ablation_configs",
    "baseline_configs",
    "loso_configs",
    "best_augmentation",
    "run_grid",
    "save_reference",
    "find_run",
    "LEVEL_POINTS",
    "LEVEL_BASE",
    "LEVEL_SEEDS",
    "level_configs",
    "run_level_points",
]

logger = logging.getLogger(__name__)

#: Table V's rows, in the paper's order.
HDA_AUGMENTATIONS: tuple[str, ...] = ("none", "time_shift", "pitch_shift", "wavegan", "specgan")
#: Table IV's models 1-5: (attention, loss), all on WaveGAN data.
ABLATION_MODELS: tuple[tuple[bool, str], ...] = ((False, "lf1"), (True, "lf2"), (True, "lf1"), (True, "lf3"), (True, "lf4"))
#: Timing files under ``<results>/<profile>/``: the last grid pass, the last complete book build,
#: and the last book build that trained every fold itself (a cold build).
GRID_RECORD = "grid.json"
BUILD_RECORD = "book.json"
COLD_BUILD_RECORD = "book-cold.json"
#: Seconds per fold assumed for the time estimate where the reference run has no such fold (cpu: the
#: 2026-11-28 reference grid, 74.5 min for 105 folds and 60 GANs, about 43 s a fold).
_FOLD_SECONDS_GUESS = {"smoke": 3.0, "cpu": 90.0, "paper": 4 * 3600.0}


def _data(data_dir) -> str | None:
    return str(data_dir) if data_dir else None


#: How many seeds Table V's rows (and the paper-protocol baselines they are compared with) are run
#: with, per profile: the book's ``seed`` and the ones after it (:func:`table_v_seeds`). ``smoke``
#: keeps one, for the CI budget.
TABLE_V_SEEDS: dict[str, int] = {"smoke": 1, "cpu": 2, "paper": 2}


def table_v_seeds(profile: str, seed: int = 0) -> tuple[int, ...]:
    """The seeds of Table V's rows under ``profile`` when the book's seed is ``seed``."""
    return tuple(seed + i for i in range(TABLE_V_SEEDS[get_profile(profile).name]))


def hda_configs(profile: str, data_dir=None, *, seed: int = 0) -> dict[str, ExperimentConfig]:
    """Table V: augmentation -> configuration (paper protocol, Lf1, attention)."""
    return {aug: ExperimentConfig(profile=profile, augmentation=aug, seed=seed, data_dir=_data(data_dir)) for aug in HDA_AUGMENTATIONS}


def ablation_configs(profile: str, data_dir=None, *, seed: int = 0) -> dict[tuple[bool, str], ExperimentConfig]:
    """Table IV: (attention, loss) -> configuration (paper protocol, WaveGAN data)."""
    return {
        (att, loss): ExperimentConfig(profile=profile, augmentation="wavegan", loss=loss, attention=att, seed=seed, data_dir=_data(data_dir))
        for att, loss in ABLATION_MODELS
    }


def baseline_configs(data_dir=None, *, seed: int = 0, features: str = "compare", classifier: str = "logreg", profile: str = "cpu") -> dict[tuple[str, bool], BaselineConfig]:
    """(protocol, speaker normalization) -> baseline configuration, on the folds of ``profile``."""
    n_splits = get_profile(profile).n_splits
    return {
        (protocol, norm): BaselineConfig(features=features, classifier=classifier, protocol=protocol, speaker_norm=norm, seed=seed, data_dir=_data(data_dir), n_splits=n_splits)
        for protocol in ("paper", "loso")
        for norm in (False, True)
    }


def best_augmentation(profile: str, data_dir=None, *, seed: int = 0, results_dir=None) -> str:
    """The augmentation of Table V with the highest mean UA over its seeds x folds (its runs must be done)."""
    from .cv import load_result, pool_seeds

    scores = {}
    for aug in HDA_AUGMENTATIONS:
        if aug != "none":
            runs = [load_result(hda_configs(profile, data_dir, seed=s)[aug], results_dir=results_dir) for s in table_v_seeds(profile, seed)]
            scores[aug] = pool_seeds(runs).summary()["ua"]["mean"]
    return max(scores, key=scores.get)


def loso_configs(profile: str, data_dir=None, *, augmentation: str = "best", seed: int = 0, results_dir=None) -> dict[str, ExperimentConfig]:
    """Leave one speaker out: ``none``, ``none`` with per-speaker normalization, and ``augmentation``
    (``"best"``: :func:`best_augmentation`)."""
    if augmentation == "best":
        augmentation = best_augmentation(profile, data_dir, seed=seed, results_dir=results_dir)
    out = {
        "none": ExperimentConfig(profile=profile, protocol="loso", seed=seed, data_dir=_data(data_dir)),
        "none, speaker-normalized": ExperimentConfig(profile=profile, protocol="loso", seed=seed, speaker_norm=True, data_dir=_data(data_dir)),
    }
    if augmentation != "none":
        out[augmentation] = ExperimentConfig(profile=profile, protocol="loso", augmentation=augmentation, seed=seed, data_dir=_data(data_dir))
    return out


def read_record(profile: str, name: str, *, results_dir: str | os.PathLike | None = None) -> dict | None:
    """The timing file ``name`` (:data:`GRID_RECORD`, ...) of ``profile`` under the results root, if any."""

    path = results_root(results_dir) / profile / name
    return json.loads(path.read_text()) if path.is_file() else None


def _n_speakers(data_dir) -> int:
    """Speakers in the corpus: the number of leave-one-speaker-out folds."""
    from ..data import load_emodb

    return int(load_emodb(data_dir, verify=False)["speaker"].nunique())


def _reference_seconds(config, fold: int) -> float | None:

    path = fold_path(run_dir(config, reference_root()), fold)
    try:
        return float(json.loads(path.read_text())["wall_time_s"])
    except (OSError, ValueError, KeyError):
        return None


def _estimate(pending: list, results_dir, profile: str, speed: float | None, n_speakers: int) -> float:
    """Seconds left for ``pending`` runs: reference fold times scaled by this machine's speed."""
    total = 0.0
    for config in pending:
        for k in missing_folds(config, results_dir, n_speakers):
            ref = _reference_seconds(config, k)
            guess = _FOLD_SECONDS_GUESS.get(profile, 60.0)
            total += ref * (speed or 1.0) if ref is not None else guess * (speed or 1.0)
    return total


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def run_grid(
    profile: str = "cpu",
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    verify: bool = True,
    results_dir: str | os.PathLike | None = None,
    progress: bool = False,
    baseline_features: str = "compare",
    client=None,
    threads: int | None = None,
    resources: dict | None = None,
) -> dict:
    """Run (or find cached) every configuration the book shows, logging progress and time left.

    Order: the baselines, Table V, Table IV, then leave one speaker out (which needs Table V to pick
    the best augmentation). The time estimate uses the committed reference run's fold times, scaled
    by how fast this machine has been so far, or a per-profile guess where there is no reference.

    Parameters
    ----------
    profile : str
    data_dir : path, optional
        The corpus (found as :func:`~adcrnn_lib.data.find_corpus` does when omitted).
    seed : int
    verify : bool
        Check the corpus checksums.
    results_dir : path, optional
        Root of the run folders.
    progress : bool
        tqdm bars inside each run.
    baseline_features : {"compare", "egemaps"}
        openSMILE set of the baseline runs.
    client : distributed.Client, optional
        Run every missing fold as a task on this Dask cluster (see :mod:`adcrnn_lib.experiments.distributed`)
        instead of one after another in this process; one progress bar over all folds.
    threads : int, optional
        Backend threads of each task (see :func:`~adcrnn_lib.experiments.distributed.pin_threads`).
    resources : dict, optional
        Dask resources each fold holds, e.g. ``{"GPU": 1}``.

    Returns
    -------
    dict
        ``runs`` (count), ``folds_trained``, ``folds_cached``, ``wall_time_s``; also written to
        ``<results>/<profile>/grid.json`` (:data:`GRID_RECORD`) for the reproducibility chapter.
    """
    from ..storage import write_json

    get_profile(profile)  # validate before any work
    started = time.perf_counter()
    n_speakers = _n_speakers(data_dir)
    queue = _grid_configs(profile, data_dir, seed=seed, baseline_features=baseline_features)
    total = len(queue) + 3  # + leave one speaker out: none, none speaker-normalized, the best augmentation
    if client is not None:
        n, trained, cached = _run_grid_tasks(queue, profile, data_dir, seed=seed, verify=verify, results_dir=results_dir, n_speakers=n_speakers, client=client, threads=threads, resources=resources, progress=progress)
    else:
        n, trained, cached = _run_grid_here(queue, total, profile, data_dir, seed=seed, verify=verify, results_dir=results_dir, n_speakers=n_speakers, progress=progress)
    summary = {"profile": profile, "runs": n, "folds_trained": trained, "folds_cached": cached, "wall_time_s": round(time.perf_counter() - started, 1)}
    write_json(results_root(results_dir) / profile / GRID_RECORD, summary)
    logger.info("grid done: %d runs, %d folds trained, %d cached, %s", n, trained, cached, _hms(summary["wall_time_s"]))
    return summary


def _grid_configs(profile: str, data_dir, *, seed: int, baseline_features: str) -> list:
    """The grid's runs before leave one speaker out, each once: the baselines, Table V, Table IV,
    then Table V's further seeds (:func:`table_v_seeds`) with their paper-protocol baselines."""
    configs = [*baseline_configs(data_dir, seed=seed, features=baseline_features, profile=profile).values(), *hda_configs(profile, data_dir, seed=seed).values(), *ablation_configs(profile, data_dir, seed=seed).values()]
    for s in table_v_seeds(profile, seed)[1:]:
        configs += [c for (protocol, _), c in baseline_configs(data_dir, seed=s, features=baseline_features, profile=profile).items() if protocol == "paper"]
        configs += list(hda_configs(profile, data_dir, seed=s).values())
    return list(dict.fromkeys(configs))  # Table IV's model 3 is Table V's WaveGAN row


def _run_grid_here(queue: list, total: int, profile: str, data_dir, *, seed: int, verify: bool, results_dir, n_speakers: int, progress: bool) -> tuple[int, int, int]:
    """:func:`run_grid`'s runs one after another in this process: (runs, folds trained, folds cached)."""
    from .cv import runner
    from .distributed import run_tasks

    trained = cached = 0
    measured = reference = 0.0  # seconds spent, and what the reference run spent on the same folds
    n = 0
    while queue:
        config = queue.pop(0)
        n += 1
        speed = measured / reference if reference > 0 else None
        missing = missing_folds(config, results_dir, n_speakers)
        left = _estimate([config, *queue], results_dir, profile, speed, n_speakers)
        logger.info("[run %d/%d] %s: %d of %d folds to train; about %s left", n, total, _describe(config), len(missing), n_folds(config, n_speakers), _hms(left))
        t0 = time.perf_counter()
        runner(config)(config, verify=verify, progress=progress, results_dir=results_dir)
        ref = [_reference_seconds(config, k) for k in missing]
        if missing and all(r is not None for r in ref):
            measured += time.perf_counter() - t0
            reference += sum(ref)
        trained += len(missing)
        cached += n_folds(config, n_speakers) - len(missing)
        if not queue and n < total:
            queue = list(loso_configs(profile, data_dir, seed=seed, results_dir=results_dir).values())
    jobs = _book_jobs(profile, data_dir, seed=seed, results_dir=results_dir)
    logger.info("then: %s", " and ".join(job.name for job in jobs))
    run_tasks(jobs, results_dir=results_dir, verify=verify, progress=False)  # one after another, in this process
    return n, trained, cached


def _book_jobs(profile: str, data_dir, *, seed: int, results_dir, tasks: list | None = None) -> list:
    """The book's work besides folds: chapter 2's GAN quality report (an ADCRNN trained on fold 0's
    real utterances judges the fold's GAN clips) when it is not cached, and the reproducibility
    chapter's retraining of one fold (:func:`retrain_check`, cached after its first run).

    ``tasks``: the wave the jobs join; the quality report then waits for the tasks that train
    fold 0 of Table V's WaveGAN and SpecGAN rows, whose GANs it reads from the cache.
    """
    from .distributed import FoldTask, JobTask
    from .quality import paper_fold_quality, quality_report_path

    jobs = []
    if not quality_report_path(profile, seed=seed, results_dir=results_dir).is_file():
        gans = [hda_configs(profile, data_dir, seed=seed)[kind] for kind in ("wavegan", "specgan")]
        after = tuple(i for i, t in enumerate(tasks or []) if isinstance(t, FoldTask) and t.fold == 0 and t.config in gans)
        jobs.append(JobTask("GAN quality report, fold 0", paper_fold_quality, {"profile": profile, "data_dir": _data(data_dir), "seed": seed}, after))
    jobs.append(JobTask("retraining check, fold 0", retrain_check, {"profile": profile, "data_dir": _data(data_dir), "seed": seed}))
    return jobs


def _longest_first(configs: list) -> list:
    """``configs`` with the GAN runs first (their folds also train the fold's GANs), the baselines
    last (seconds a fold), the order kept within each group: a cluster starts the long tasks first."""
    from ..config import GAN_AUGMENTATIONS

    return sorted(configs, key=lambda c: 2 if isinstance(c, BaselineConfig) else (0 if c.augmentation in GAN_AUGMENTATIONS else 1))


def _run_grid_tasks(queue: list, profile: str, data_dir, *, seed: int, verify: bool, results_dir, n_speakers: int, client, threads, resources, progress: bool) -> tuple[int, int, int]:
    """:func:`run_grid`'s missing folds as Dask tasks, in two waves: (runs, folds trained, folds cached).

    The first wave holds every run that does not depend on Table V's results (leave one speaker
    out without augmentation included), longest first, and the book's other work
    (:func:`_book_jobs`); the second, leave one speaker out with Table V's best augmentation.
    """
    from tqdm.auto import tqdm

    from .distributed import FoldTask, GridError, fold_tasks, run_tasks

    runs = trained = cached = 0
    loso_none = [c for c in loso_configs(profile, data_dir, augmentation="none", seed=seed).values() if c not in queue]
    first = [(config, missing_folds(config, results_dir, n_speakers)) for config in _longest_first([*queue, *loso_none])]
    with tqdm(total=sum(len(m) for _, m in first) + n_speakers, desc="grid folds", unit="fold", disable=not progress) as bar:
        for pending in (first, None):
            if pending is None:  # Table V is done: leave one speaker out with its best augmentation
                done = {c for c, _ in first}
                pending = [(c, missing_folds(c, results_dir, n_speakers)) for c in loso_configs(profile, data_dir, seed=seed, results_dir=results_dir).values() if c not in done]
            tasks = fold_tasks(pending)
            if pending is first:
                tasks += _book_jobs(profile, data_dir, seed=seed, results_dir=results_dir, tasks=tasks)
            bar.total = bar.n + len(tasks)
            bar.refresh()
            runs += len(pending)
            cached += sum(n_folds(c, n_speakers) - len(m) for c, m in pending)
            jobs = [t.name for t in tasks if not isinstance(t, FoldTask)]
            logger.info("%d runs: %d folds to train on %d Dask worker(s)%s", len(pending), len(tasks) - len(jobs), len(client.scheduler_info()["workers"]), f"; also {' and '.join(jobs)}" if jobs else "")
            run_tasks(tasks, client=client, results_dir=results_dir, verify=verify, threads=threads, resources=resources, bar=bar)
            trained += len(tasks) - len(jobs)
            unseen = {_describe(c): m for c, _ in pending if (m := missing_folds(c, results_dir, n_speakers))}
            if unseen:  # the workers reported success, but this process cannot read their files
                raise GridError(
                    f"the workers finished, but this process finds no usable fold file for {unseen} under {results_root(results_dir)}: "
                    "with a remote cluster, the results folder must be on storage the client and every worker share, at the same path"
                )
    return runs, trained, cached


def save_reference(profile: str = "cpu", data_dir=None, *, seed: int = 0, results_dir=None, reference_dir=None, baseline_features: str = "compare") -> list[Path]:
    """Copy the fold files of every finished run of the book's grid and of the training-budget study, and the GAN budget ladder's records, into the reference folder.

    Only runs with all their folds are copied, and only their JSON (no audio, no models). What is
    copied is what the reproducibility chapter compares a fresh build with. The build's timing
    records (``grid.json``, ``book.json``, ``book-cold.json``) are copied too, and a record the
    build lacks is removed from the reference, so that its timing records all come from the build
    copied last (a resumed build writes no ``book-cold.json``: it trained only some folds). Runs of
    earlier builds that this build does not name are left in place.

    Returns
    -------
    list of Path
        The reference run folders written.
    """
    import shutil


    ref_root = Path(reference_dir or reference_root())
    n_speakers = _n_speakers(data_dir)
    configs = _grid_configs(profile, data_dir, seed=seed, baseline_features=baseline_features)
    try:
        configs += list(loso_configs(profile, data_dir, seed=seed, results_dir=results_dir).values())
    except ParameterError:  # Table V unfinished: no best augmentation yet
        configs += [c for c in loso_configs(profile, data_dir, augmentation="none", seed=seed).values()]
    configs += _study_runs(profile, data_dir)  # the training-budget study, where its runs are finished
    written = []
    for config in dict.fromkeys(configs):
        src, dest = run_dir(config, results_dir), run_dir(config, ref_root)
        if dest in written or missing_folds(config, results_dir, n_speakers):
            continue  # unequal configurations can name one run (a study lever at the profile's own value)
        dest.mkdir(parents=True, exist_ok=True)
        for path in sorted(src.glob("*.json")):
            shutil.copy2(path, dest / path.name)
        written.append(dest)
    ladders = results_root(results_dir) / "gan-ladder" / profile  # the GAN budget ladder's records (not its judge model)
    for src in sorted(ladders.glob("*/*.json")) if ladders.is_dir() else []:
        if src.name.endswith(".keras.json"):
            continue
        dest = ref_root / "gan-ladder" / profile / src.parent.name / src.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        if dest.parent not in written:
            written.append(dest.parent)
    for name in (GRID_RECORD, BUILD_RECORD, COLD_BUILD_RECORD):  # the timing of the build being kept, and no other
        src, dest = results_root(results_dir) / profile / name, ref_root / profile / name
        if src.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        elif dest.is_file():  # an older build's record (e.g. a cold build whose successor was interrupted and resumed)
            logger.info("removing %s from the reference: the build being kept has no such record", dest.name)
            dest.unlink()
    return written


def _describe(config) -> str:
    if isinstance(config, BaselineConfig):
        return f"baseline {config.features}+{config.classifier} {config.protocol}{' speaker-norm' if config.speaker_norm else ''}"
    att = "" if config.attention else " no-attention"
    norm = " speaker-norm" if config.speaker_norm else ""
    return f"{config.profile} {config.protocol} {config.augmentation} {config.loss}{att}{norm}"



# --------------------------------------------------------------------------------------------
# The training-budget study (its own chapter; not part of run_grid's cold build)
# --------------------------------------------------------------------------------------------
#: Where the study started: the ``cpu`` profile as it was until 2026-11-30 (15 epochs with patience
#: 4, a constant Adam step, the best validation epoch's weights; BN momentum 0.9).
STUDY_START: dict[str, object] = {"epochs": 15, "lr_schedule": "constant", "selection": "best", "segment_frames": 300, "segment_hop": 300}
#: The training recipe the study chose for ``cpu`` (30 epochs, cosine decay, the mean of the last 5
#: epochs' weights), at the 3 s segments it was chosen with, as overrides of any profile. The
#: ``cpu`` profile now cuts 1 s segments that do not overlap, in 15 epochs (a variant, :data:`RECIPE_VARIANTS`).
CPU_RECIPE: dict[str, object] = {"epochs": 30, "lr_schedule": "cosine", "selection": "average", "average_last": 5, "segment_frames": 300, "segment_hop": 300}
#: One lever at a time from :data:`STUDY_START`, then their combination (:data:`CPU_RECIPE`), then
#: the variants of that recipe (:data:`RECIPE_VARIANTS`): name -> profile overrides (see
#: :data:`~adcrnn_lib.profiles.OVERRIDABLE`). Paper protocol, no augmentation, Lf1, attention. A
#: run's folder depends on the settings it trains with, not on how they are spelled, so the variant
#: marked "(the cpu profile)" *is* the ``cpu`` profile's run (Table V's no-augmentation row).
STUDY_LEVERS: dict[str, dict[str, object]] = {
    "starting recipe": dict(STUDY_START),
    "BN momentum 0.99 (Keras's default)": {**STUDY_START, "bn_momentum": 0.99},
    "cosine schedule": {**STUDY_START, "lr_schedule": "cosine"},
    "last epoch": {**STUDY_START, "selection": "last"},
    "mean of last 5 epochs": {**STUDY_START, "selection": "average", "average_last": 5},
    "30 epochs": {**STUDY_START, "epochs": 30, "patience": 8},
    "batch 16": {**STUDY_START, "batch_size": 16},
    "weight decay 0.05": {**STUDY_START, "weight_decay": 0.05},
    "widths 8/16": {**STUDY_START, "conv_filters": 8, "dilated_filters": 16, "linear_units": 64, "lstm_units": 32},
    "widths 32/64": {**STUDY_START, "conv_filters": 32, "dilated_filters": 64, "linear_units": 256, "lstm_units": 128},
    "2 s segments, half overlap": {**STUDY_START, "segment_frames": 200, "segment_hop": 100},
    "1 s segments, half overlap": {**STUDY_START, "segment_frames": 100, "segment_hop": 50},
    "combined: 30 epochs, cosine, mean of last 5 (3 s segments)": dict(CPU_RECIPE),
}
#: Variants of the ``cpu`` recipe: one more lever changed, each paired with the recipe itself.
RECIPE_VARIANTS: dict[str, dict[str, object]] = {
    "the recipe with 1 s segments, half overlap": {**CPU_RECIPE, "segment_frames": 100, "segment_hop": 50},
    "the recipe in 15 epochs": {**CPU_RECIPE, "epochs": 15},
    "the recipe with 1 s segments in 15 epochs": {**CPU_RECIPE, "epochs": 15, "segment_frames": 100, "segment_hop": 50},
    "the recipe with 1 s segments in 10 epochs": {**CPU_RECIPE, "epochs": 10, "segment_frames": 100, "segment_hop": 50},
    "the recipe with 1 s segments, no overlap, in 15 epochs (the cpu profile)": {**CPU_RECIPE, "epochs": 15, "segment_frames": 100, "segment_hop": 100},
    "the recipe with 1 s segments in 15 epochs, batch 64": {**CPU_RECIPE, "epochs": 15, "segment_frames": 100, "segment_hop": 50, "batch_size": 64},
    "the cpu profile, also trained on its validation part": {**CPU_RECIPE, "epochs": 15, "segment_frames": 100, "segment_hop": 100, "validation": "trained"},
}
STUDY_LEVERS.update(RECIPE_VARIANTS)
#: Seeds of every study point (each seed also draws its own folds).
STUDY_SEEDS: tuple[int, ...] = (0, 1)


def study_configs(profile: str = "cpu", data_dir=None, *, seeds: tuple[int, ...] = STUDY_SEEDS, levers: dict[str, dict] | None = None) -> dict[str, list[ExperimentConfig]]:
    """The training-budget study: lever name -> one configuration per seed (paper protocol, none, Lf1)."""
    levers = STUDY_LEVERS if levers is None else levers
    return {name: [ExperimentConfig(profile=profile, seed=s, data_dir=_data(data_dir), overrides=over) for s in seeds] for name, over in levers.items()}


def timnet_configs(profile: str = "cpu", data_dir=None, *, seeds: tuple[int, ...] = STUDY_SEEDS, epochs: int = 500) -> list:
    """The calibration row: TIM-Net in the same folds (paper protocol) as the study, one per seed."""
    from .timnet import TimNetConfig

    n_splits = get_profile(profile).n_splits
    return [TimNetConfig(seed=s, epochs=epochs, n_splits=n_splits, data_dir=_data(data_dir)) for s in seeds]


#: 3 s segments that do not overlap (the paper's segment length, after ACRNN), as overrides of the profile.
SEGMENTS_3S: dict[str, object] = {"segment_frames": 300, "segment_hop": 300}
#: The recipes the leaky protocols (:mod:`~adcrnn_lib.experiments.leaky`) are opened on: name -> profile
#: overrides. A leaky point's honest twin is its recipe with every door closed
#: (:meth:`~adcrnn_lib.experiments.leaky.LeakyConfig.experiment`): the profile itself (Table V's no-augmentation
#: and time-shift rows); the profile with 3 s segments, since the segments leak depends on a
#: segmentation the paper does not give; and the study's constant-step starting recipe
#: (:data:`STUDY_START`, the best validation epoch) wherever the epoch is picked on the test part,
#: since under the profile's mean of the last epochs no epoch is picked at all.
LEAKY_RECIPES: dict[str, dict[str, object]] = {
    "the profile": {},
    "the profile, 3 s segments": SEGMENTS_3S,
    "the starting recipe (constant step, 3 s)": STUDY_START,
}
#: The leaky points: name -> (the leaks, the name of their recipe in :data:`LEAKY_RECIPES`). The four
#: leaks that exist without augmentation are also opened together, on the recipe where all four
#: can act: the one combination that could explain the paper's no-augmentation row; and the three
#: of them that can act under the profile (no epoch is picked there), on the profile, the best
#: honest recipe. Never part of an honest table.
LEAKY_POINTS: dict[str, tuple[tuple[str, ...], str]] = {
    "repeated takes split across folds": (("takes",), "the profile"),
    "segments split into folds (1 s)": (("segments",), "the profile"),
    "segments split into folds (3 s)": (("segments",), "the profile, 3 s segments"),
    "normalization from the whole corpus": (("corpus_norm",), "the profile"),
    "epoch picked on the test part": (("test_selection",), "the starting recipe (constant step, 3 s)"),
    "the four no-augmentation leaks together": (("takes", "segments", "corpus_norm", "test_selection"), "the starting recipe (constant step, 3 s)"),
    "the three leaks the profile can have open together": (("takes", "segments", "corpus_norm"), "the profile"),
    "time-shift copies made before the split": (("augment_before_split",), "the profile"),
}
#: Seeds of the leaky points (each seed draws its own folds, as the honest runs do).
LEAKY_SEEDS: tuple[int, ...] = (0, 1)


def leaky_configs(profile: str = "cpu", data_dir=None, *, seeds: tuple[int, ...] = LEAKY_SEEDS) -> dict[str, list]:
    """The leaky points: name -> one :class:`~adcrnn_lib.experiments.leaky.LeakyConfig` per seed."""
    from .leaky import LeakyConfig

    return {name: [LeakyConfig(leaks, profile=profile, seed=s, data_dir=_data(data_dir), overrides=LEAKY_RECIPES[recipe]) for s in seeds] for name, (leaks, recipe) in LEAKY_POINTS.items()}


def run_leaky_points(profile: str = "cpu", data_dir=None, *, names: list[str] | None = None, seeds: tuple[int, ...] = LEAKY_SEEDS, results_dir=None, verify: bool = True, progress: bool = False) -> dict:
    """Train the leaky points (``names``, default all) that neither this build nor the reference holds; counts as :func:`run_study`."""
    configs = leaky_configs(profile, data_dir, seeds=seeds)
    unknown = sorted(set(names or []) - set(configs))
    if unknown:
        raise ParameterError(f"unknown leaky point(s) {unknown}; allowed: {', '.join(configs)}")
    queue = _with_own_twins([c for name in (names or list(configs)) for c in configs[name]])
    return _train_missing(queue, "leaky", results_dir=results_dir, verify=verify, progress=progress)


def _with_own_twins(leaky: list) -> list:
    """Leaky configurations followed by their honest twins, each once (most twins are runs of the
    grid or the study already, which :func:`_train_missing` then reads instead of training)."""
    return list(dict.fromkeys(leaky + [c.experiment() for c in leaky]))


def _train_missing(queue: list, tag: str, *, results_dir, verify: bool, progress: bool) -> dict:
    """Train each run of ``queue`` (ADCRNN, TIM-Net or leaky) that neither this build nor the
    reference holds, logging ``[tag i/N]``; counts as :func:`run_grid`'s summary."""
    from .cv import runner

    started = time.perf_counter()
    trained = cached = 0
    for i, config in enumerate(queue, 1):
        if find_run(config, results_dir=results_dir)[0] is not None:
            cached += 1
            continue
        logger.info("[%s %d/%d] %s seed %d", tag, i, len(queue), getattr(config, "name", None) or dict(config.overrides) or f"{config.profile} profile", config.seed)
        runner(config)(config, verify=verify, progress=progress, results_dir=results_dir)
        trained += 1
    return {"runs": len(queue), "runs_trained": trained, "runs_cached": cached, "wall_time_s": round(time.perf_counter() - started, 1)}


def find_run(config, *, results_dir=None):
    """A finished run of ``config`` from the local results, else from the committed reference.

    A reference run whose test utterances are not all in the corpus ``config.data_dir`` finds (a
    run of another corpus: the corpus is not part of a run's key) is passed over with a warning.

    Returns
    -------
    (CVResult, str) or (None, None)
        The run and where it was read (``"this build"`` or ``"reference"``), or nothing when
        neither holds all its folds.
    """
    from .cv import load_result

    for where, root in (("this build", results_dir), ("reference", reference_root())):
        try:
            run = load_result(config, results_dir=root)
        except ParameterError:
            continue
        if where == "reference":
            from .leaky import SEGMENT_MARK

            here = _corpus_utterances(getattr(config, "data_dir", None))
            tested = {str(p["utterance"]).split(SEGMENT_MARK)[0] for f in run.folds for p in f["predictions"]}  # a leaky run may score segments
            if here is not None and not tested <= here:  # the corpus is not part of a run's key
                logger.warning("%s: a reference run of another corpus (%d of its test utterances are not in this one); not read", run.run_dir, len(tested - here))
                continue
        return run, where
    return None, None


def _corpus_utterances(data_dir) -> set[str] | None:
    """The utterance ids (file stems) of the corpus ``data_dir`` finds, or None when none is found."""
    from ..data import find_corpus
    from ..exceptions import DataError

    try:
        folder = find_corpus(data_dir)
    except (DataError, ParameterError):
        return None
    return {p.stem for p in folder.glob("*.wav")}


def _study_runs(profile: str, data_dir=None) -> list:
    """Every configuration of the study (all levers the profile can take, all seeds), TIM-Net's, the
    leaky points', the honest twins of leaky points that are not study points, and the level points."""
    out = []
    for name, overrides in STUDY_LEVERS.items():
        try:
            out += study_configs(profile, data_dir, levers={name: overrides})[name]
        except ParameterError:  # a lever this profile cannot take (e.g. averaging 5 of smoke's 1 epoch)
            continue
    leaky = _with_own_twins([c for configs in leaky_configs(profile, data_dir).values() for c in configs])
    level = [c for by_name in level_configs(profile, data_dir).values() for configs in by_name.values() for c in configs]
    unique: dict[str, object] = {}  # one entry per run: a twin spelled with other overrides is the same run
    for config in out + timnet_configs(profile, data_dir) + leaky + level:
        unique.setdefault(config.key(), config)
    return list(unique.values())


def run_study(
    profile: str = "cpu",
    data_dir=None,
    *,
    names: list[str] | None = None,
    seeds: tuple[int, ...] = STUDY_SEEDS,
    timnet: bool = False,
    results_dir=None,
    verify: bool = True,
    progress: bool = False,
) -> dict:
    """Train the study points (``names``, default all) that neither this build nor the reference holds.

    Logs ``[study i/N]`` per configuration; returns counts like :func:`run_grid`.
    """
    unknown = sorted(set(names or []) - set(STUDY_LEVERS))
    if unknown:
        raise ParameterError(f"unknown study point(s) {unknown}; allowed: {', '.join(STUDY_LEVERS)}")
    configs = study_configs(profile, data_dir, seeds=seeds)
    queue = [c for name in (names or list(configs)) for c in configs[name]]
    if timnet:
        queue += timnet_configs(profile, data_dir, seeds=seeds)
    return _train_missing(queue, "study", results_dir=results_dir, verify=verify, progress=progress)


#: Options that take the recording's gain out of the features (:data:`~adcrnn_lib.profiles.LEVEL_NORMS`):
#: name -> overrides of the profile. Each is measured paired against the profile itself, under
#: both protocols (:func:`level_configs`), and with the level check every fold keeps.
LEVEL_POINTS: dict[str, dict[str, object]] = {
    "per-utterance level normalization": {"level_norm": "utterance"},
    "per-utterance gain normalization": {"level_norm": "gain"},
}
#: The profile's own runs the level points pair with (the grid's no-augmentation runs).
LEVEL_BASE = "the profile"
#: Seeds of the level points per protocol: two under the paper's protocol (each draws its own
#: folds); one leaving one speaker out, as the book's runs there (its folds do not depend on the seed).
LEVEL_SEEDS: dict[str, tuple[int, ...]] = {"paper": (0, 1), "loso": (0,)}


def level_configs(profile: str = "cpu", data_dir=None) -> dict[str, dict[str, list[ExperimentConfig]]]:
    """protocol -> {:data:`LEVEL_BASE` or a :data:`LEVEL_POINTS` name -> one configuration per seed}
    (no augmentation, Lf1, attention)."""
    points = {LEVEL_BASE: {}, **LEVEL_POINTS}
    return {
        protocol: {name: [ExperimentConfig(profile=profile, protocol=protocol, seed=s, data_dir=_data(data_dir), overrides=over) for s in seeds] for name, over in points.items()}
        for protocol, seeds in LEVEL_SEEDS.items()
    }


def run_level_points(profile: str = "cpu", data_dir=None, *, results_dir=None, verify: bool = True, progress: bool = False) -> dict:
    """Train the level points and the profile runs they pair with that neither this build nor the
    reference holds; counts as :func:`run_study`."""
    queue = [c for by_name in level_configs(profile, data_dir).values() for configs in by_name.values() for c in configs]
    return _train_missing(queue, "level", results_dir=results_dir, verify=verify, progress=progress)


# --------------------------------------------------------------------------------------------
# A real retrain of one reference fold (the reproducibility chapter)
# --------------------------------------------------------------------------------------------
#: Folder under the results root that holds the retrained fold (never read as a grid run).
RETRAIN_DIR = "retrain"


def retrain_check(profile: str = "cpu", data_dir=None, *, fold: int = 0, seed: int = 0, results_dir=None, verify: bool = True, reference_dir=None) -> dict | None:
    """Retrain fold ``fold`` of Table V's no-augmentation run from scratch and compare it with the reference.

    Unlike a cached rebuild, this trains the fold again (once per results folder: the retrained
    fold is kept under ``<results>/retrain/``), so it shows whether training itself reproduces
    on this machine. Returns None when the reference has no such fold.

    Returns
    -------
    dict or None
        ``same_predictions`` (share of test utterances predicted alike), ``max_prob_diff``,
        ``wa``/``ua`` of both (``*_reference``, ``*_retrain``), ``best_epoch`` of both, and the
        CPU and instruction sets of both machines (``cpu_reference``, ``cpu_retrain``,
        ``isa_reference``, ``isa_retrain``).
    """
    from ..data import load_emodb
    from ..features import extract_features
    from ..storage import write_json
    from .cv import folds_of, record_problem, run_fold

    config = hda_configs(profile, data_dir, seed=seed)["none"]
    ref_path = fold_path(run_dir(config, reference_dir or reference_root()), fold)
    if not ref_path.is_file():
        return None
    reference = json.loads(ref_path.read_text())
    path = fold_path(run_dir(config, results_root(results_dir) / RETRAIN_DIR), fold)
    record = json.loads(path.read_text()) if path.is_file() else None
    if record is None or record_problem(record, config_key=config.key(), fold=fold, test_ids=[p["utterance"] for p in reference["predictions"]]) is not None:
        df = load_emodb(config.data_dir, verify=verify)
        folds = folds_of(config, df)
        logger.info("retraining fold %d of %s to compare with the reference", fold, _describe(config))
        record = run_fold(config, df, folds[fold], extract_features(df["path"].tolist(), progress=False), progress=False)
        write_json(path, record)
    ref_pred = {p["utterance"]: p for p in reference["predictions"]}
    pairs = [(ref_pred[p["utterance"]], p) for p in record["predictions"] if p["utterance"] in ref_pred]
    machines = {name: r["provenance"].get("machine", {}) for name, r in (("reference", reference), ("retrain", record))}
    return {
        "fold": fold,
        "same_predictions": float(np.mean([a["pred"] == b["pred"] for a, b in pairs])),
        "max_prob_diff": float(max(np.max(np.abs(np.subtract(a["probs"], b["probs"]))) for a, b in pairs)),
        **{f"{m}_{name}": r[m] for m in ("wa", "ua", "best_epoch") for name, r in (("reference", reference), ("retrain", record))},
        **{f"cpu_{name}": m.get("cpu", "?") for name, m in machines.items()},
        **{f"isa_{name}": ", ".join(m["isa"]) if "isa" in m else "(not recorded)" for name, m in machines.items()},
    }
