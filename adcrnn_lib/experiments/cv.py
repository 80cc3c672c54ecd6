"""Cross-validation: every experiment of the book is one :func:`run_cv` call.

For each fold of the chosen protocol: the training-set augmentation hook (training utterances only),
the leakage guard, normalization with training statistics, training with model selection on the
fold's validation utterances, then evaluation per utterance (segment logits averaged). Each fold is
written atomically as JSON to ``<results>/<profile>/<config key>/fold-<k>.json``; rerunning the same
configuration reads the completed folds back and trains only the missing ones, so a killed run
resumes at its first missing fold.

The results folder is ``$ADCRNN_RESULTS_DIR``, else ``results/runs`` in the project.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..augment import GeneratedClip
from ..config import ExperimentConfig
from ..data import EMOTIONS, Fold, load_emodb, make_folds, take_groups
from ..exceptions import DataError, LeakageError, ParameterError
from ..features import extract_features
from ..metrics import confusion, paired_comparison, scores, softmax
from ..provenance import provenance
from ..storage import write_json
from .results import fold_path, fold_paths, n_folds, run_dir, write_run_config

__all__ = ["SCHEMA_VERSION", "CVResult", "run_cv", "run_fold", "fold_record", "evaluated_fold_record", "record_problem", "check_leakage", "compare", "pool_seeds", "load_result", "load_run_folder", "missing_folds", "folds_of", "runner", "run_folds"]

logger = logging.getLogger(__name__)

#: Version of the fold JSON layout.
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------------------------
# Leakage guard
# --------------------------------------------------------------------------------------------
def check_leakage(df: pd.DataFrame, fold: Fold, clips: list[GeneratedClip], *, protocol: str = "paper", val_trained: bool = False) -> None:
    """Raise :class:`LeakageError` if test data, or anything made from it, reaches training or validation.

    Checks that no test utterance is in the training or validation part, that no repeated take
    of a test utterance is either (same speaker, sentence and emotion), that under ``loso`` no test
    speaker is, and that every generated clip was made from training utterances only (or from
    validation ones too, with ``val_trained``: a profile whose folds train on their validation part).
    """
    ids = df["utterance"].to_numpy()
    test, train, val = set(ids[fold.test]), set(ids[fold.train]), set(ids[fold.val])
    sources = train | val if val_trained else train
    leaked = sorted(test & (train | val))
    if leaked:
        raise LeakageError(f"fold {fold.k}: test utterances also in training/validation: {leaked[:5]}")
    groups = take_groups(df)
    shared = sorted(set(groups[fold.test]) & set(groups[np.concatenate([fold.train, fold.val])]))
    if shared:
        raise LeakageError(f"fold {fold.k}: repeated takes split across test and training/validation: {shared[:5]}")
    if protocol == "loso":
        spk = df["speaker"].to_numpy()
        both = sorted(set(spk[fold.test]) & set(spk[np.concatenate([fold.train, fold.val])]))
        if both:
            raise LeakageError(f"fold {fold.k}: test speaker(s) {both} also in training/validation")
    for clip in clips:
        bad = sorted(set(clip.sources) - sources)
        if bad:
            where = "test" if set(bad) & test else "validation or unknown"
            raise LeakageError(f"fold {fold.k}: a generated {clip.method} clip was made from {where} utterance(s) {bad[:5]}")


# --------------------------------------------------------------------------------------------
# One fold
# --------------------------------------------------------------------------------------------
def run_fold(config: ExperimentConfig, df: pd.DataFrame, fold: Fold, features: list[np.ndarray], *, progress: bool = True) -> dict:
    """Train and evaluate one fold; return its JSON-ready record (see :data:`SCHEMA_VERSION`)."""
    from ..train import make_segment_data, speaker_normalize, train_split, training_rows  # Keras: only where a fold trains

    t0 = time.perf_counter()
    labels = df["emotion"].cat.codes.to_numpy().astype(np.int64)
    speaker_norms = None
    if config.speaker_norm:
        features, speaker_norms = speaker_normalize(df, features)
    trained, normalizer, clips = train_split(
        config,
        df,
        features,
        fold.train,
        fold.val,
        fold=fold.k,
        seed=config.seed + fold.k,
        check=lambda clips: check_leakage(df, fold, clips, protocol=config.protocol, val_trained=config.settings().validation == "trained"),
        progress=progress,
        description=f"fold {fold.k}",
        speaker_norms=speaker_norms,
    )
    settings = config.settings()
    test = make_segment_data([features[i] for i in fold.test], labels[fold.test], normalizer, length=settings.segment_frames, hop=settings.segment_hop)
    ids = df["utterance"].to_numpy()
    record = evaluated_fold_record(
        config,
        fold.k,
        trained,
        test,
        test_ids=ids[fold.test].tolist(),
        train_ids=ids[training_rows(fold.train, fold.val, settings)].tolist(),
        val_ids=ids[fold.val].tolist(),
        n_generated=len(clips),
        started=t0,
        data_dir=df.attrs.get("data_dir"),
    )
    if config.augmentation == "none" and not config.speaker_norm:
        t1 = time.perf_counter()
        record["level_check"] = level_check(trained.model, normalizer, df["path"].iloc[fold.test].tolist(), labels[fold.test], settings)
        record["level_check_s"] = time.perf_counter() - t1  # beside the fold's wall time, not in it
    return record


def level_check(model, normalizer, paths: Sequence[str], labels: np.ndarray, settings) -> dict[str, dict]:
    """The fold's test utterances recorded at each gain of :data:`~adcrnn_lib.level.CHECK_GAINS_DB`, predicted again.

    Returns
    -------
    dict
        Gain in dB (as text) -> ``{"predicted"`` (class index per test utterance, in the fold's
        order), ``"changed"`` (share of predictions other than as recorded), ``"wa"``, ``"ua"}``.
        Kept in the fold record of runs without augmentation or speaker normalization (the models
        a user's ``adcrnn predict`` resembles).
    """
    from ..data import load_audio
    from ..features import log_mel_3d
    from ..level import gain_scores, predictions_at_gains
    from ..train import make_segment_data, predict_utterances

    def predict_clips(clips: list[np.ndarray]) -> np.ndarray:
        data = make_segment_data([log_mel_3d(y) for y in clips], labels, normalizer, length=settings.segment_frames, hop=settings.segment_hop)
        return predict_utterances(model, data)

    labels = np.asarray(labels)
    predicted = predictions_at_gains(predict_clips, [load_audio(p) for p in paths])
    return {f"{gain:+g}": {"predicted": predicted[gain].tolist(), **row} for gain, row in gain_scores(predicted, labels).items()}


def evaluated_fold_record(config, fold: int, trained, test, *, test_ids, train_ids, val_ids, n_generated: int, started: float, data_dir: str | None) -> dict:
    """:func:`fold_record` of a trained ADCRNN: its test utterances scored, its training's selection and history kept.

    ``trained`` is a :class:`~adcrnn_lib.train.TrainedModel`, ``test`` the
    :class:`~adcrnn_lib.train.SegmentData` of the fold's test utterances (in ``test_ids`` order).
    """
    from ..train import predict_utterances

    return fold_record(
        config,
        fold,
        test_ids=test_ids,
        y_true=test.labels,
        probs=softmax(predict_utterances(trained.model, test)),
        train_ids=train_ids,
        val_ids=val_ids,
        n_generated=n_generated,
        n_train_segments=trained.n_train_segments,
        best_epoch=trained.best_epoch,
        val=trained.best_val,
        history=trained.history,
        started=started,
        profile=config.profile,
        data_dir=data_dir,
        precision=trained.model.get_layer("conv1").dtype_policy.name,  # the model sets its precision per layer
    )


def fold_record(
    config,
    fold: int,
    *,
    test_ids,
    y_true: np.ndarray,
    probs: np.ndarray,
    train_ids,
    val_ids,
    n_generated: int,
    n_train_segments: int,
    best_epoch: int,
    val: dict,
    history: dict,
    started: float,
    profile: str,
    data_dir: str | None,
    keras_model: bool = True,
    precision: str | None = None,
) -> dict:
    """The JSON record of one evaluated fold (layout :data:`SCHEMA_VERSION`), for ADCRNN and baselines alike.

    ``keras_model``: whether a Keras model made the predictions; if not (a scikit-learn baseline),
    the provenance's ``keras_backend`` and ``backend_compute`` are None even in a process that has
    imported Keras. ``precision``: the model's dtype policy (``"float32"``, ``"mixed_bfloat16"``),
    kept in ``backend_compute``.

    ``probs`` are the class probabilities of the test utterances, shape (n_test, n_classes);
    ``started`` is the ``time.perf_counter()`` at which the fold began.
    """
    pred = probs.argmax(axis=1)
    wall = round(time.perf_counter() - started, 2)
    record = {
        "schema_version": SCHEMA_VERSION,
        "complete": True,
        "config": config.to_dict(),
        "config_key": config.key(),
        "fold": int(fold),
        "classes": list(EMOTIONS),
        "n_train_utterances": int(len(train_ids)),
        "n_generated": int(n_generated),
        "n_train_segments": int(n_train_segments),
        "train_utterances": list(train_ids),
        "val_utterances": list(val_ids),
        "predictions": [
            {"utterance": u, "true": int(t), "pred": int(p), "probs": [round(float(v), 6) for v in pr]}
            for u, t, p, pr in zip(test_ids, y_true, pred, probs)
        ],
        "confusion": confusion(y_true, pred, len(EMOTIONS)).tolist(),
        **scores(y_true, pred, len(EMOTIONS)),
        "best_epoch": int(best_epoch),
        "val": val,
        "history": history,
        "wall_time_s": wall,
    }
    prov = provenance(profile=profile, wall_time_s=wall, data_dir=data_dir)
    if not keras_model:
        prov["keras_backend"] = None
        prov.pop("backend_compute", None)
    elif precision is not None and prov.get("backend_compute"):
        prov["backend_compute"]["precision"] = precision
    record["provenance"] = prov
    return record


def record_problem(record: object, *, config_key: str, fold: int, test_ids: list[str] | None = None) -> str | None:
    """Why a fold record may not be used as fold ``fold`` of the run ``config_key``; None if it may.

    A usable record is a dict of the current :data:`SCHEMA_VERSION`, marked complete, of the same
    configuration key and fold number, with a prediction per test utterance; with ``test_ids``, it
    must also have tested exactly those utterances, in that order.
    """
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not a fold record"
    if record.get("schema_version") != SCHEMA_VERSION:
        return f"schema_version {record.get('schema_version')!r}, expected {SCHEMA_VERSION}"
    if record.get("complete") is not True:
        return "marked incomplete"
    if record.get("config_key") != config_key:
        return f"written for configuration {record.get('config_key')!r}, not {config_key!r}"
    if record.get("fold") != fold:
        return f"holds fold {record.get('fold')!r}, not fold {fold}"
    try:
        tested = [p["utterance"] for p in record["predictions"]]
    except (KeyError, TypeError) as exc:
        return f"malformed predictions ({exc!r})"
    if test_ids is not None and tested != list(test_ids):
        return f"tested {len(tested)} other utterances than the {len(test_ids)} of this fold (another corpus or fold split)"
    return None


def _load_fold(path: Path, *, config: ExperimentConfig, fold: Fold, test_ids: list[str]) -> dict | None:
    """A completed fold record, or None when the file is missing, unreadable or not usable (see :func:`record_problem`)."""
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        logger.warning("ignoring unreadable fold file %s (%s); it will be recomputed", path, exc)
        return None
    problem = record_problem(record, config_key=config.key(), fold=fold.k, test_ids=test_ids)
    if problem is not None:
        logger.warning("ignoring fold file %s: %s; it will be recomputed", path, problem)
        return None
    return record


def fold_done(path: Path, config, k: int) -> bool:
    """Whether ``path`` holds a fold record that :func:`run_cv` would reuse as fold ``k`` of ``config``."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):  # missing, unreadable or half-written: to be trained
        return False
    return record_problem(record, config_key=config.key(), fold=k) is None


def missing_folds(config, results_dir, n_speakers: int) -> list[int]:
    """The folds of ``config`` still to train: those without a complete, current fold record.

    A fold counts as done only when its file is one :func:`run_cv` would reuse (complete, this
    schema version, this configuration key and fold number, :func:`fold_done`); a missing,
    half-written or stale file is still to train, as ``run_cv`` will train it. ``config`` may be an
    ADCRNN, baseline or TIM-Net configuration.
    """
    folder = run_dir(config, results_dir)
    return [k for k in range(n_folds(config, n_speakers)) if not fold_done(fold_path(folder, k), config, k)]


# --------------------------------------------------------------------------------------------
# All folds
# --------------------------------------------------------------------------------------------
@dataclass
class CVResult:
    """The folds of one configuration.

    Attributes
    ----------
    config : ExperimentConfig
    folds : list of dict
        The fold records, as written to JSON.
    run_dir : pathlib.Path
        Where they are.
    """

    config: ExperimentConfig
    folds: list[dict]
    run_dir: Path

    def table(self) -> pd.DataFrame:
        """One row per fold: test size, WA, UA, macro-F1, best epoch, wall time."""
        rows = [
            {
                "fold": r["fold"],
                "test": len(r["predictions"]),
                "wa": r["wa"],
                "ua": r["ua"],
                "macro_f1": r["macro_f1"],
                "best_epoch": r["best_epoch"],
                "wall_time_s": r["wall_time_s"],
            }
            for r in self.folds
        ]
        return pd.DataFrame(rows).set_index("fold")

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean and sample standard deviation (ddof=1) over folds of WA, UA and macro-F1."""
        t = self.table()
        return {m: {"mean": float(t[m].mean()), "std": float(t[m].std(ddof=1)) if len(t) > 1 else 0.0} for m in ("wa", "ua", "macro_f1")}

    def confusion(self, *, normalize: bool = False) -> np.ndarray:
        """Confusion matrix pooled over folds (rows true, columns predicted); rows sum to 1 if ``normalize``."""
        total = np.sum([np.asarray(r["confusion"]) for r in self.folds], axis=0)
        if normalize:
            return total / np.maximum(total.sum(axis=1, keepdims=True), 1)
        return total

    def predictions(self) -> pd.DataFrame:
        """Every test utterance: fold, true and predicted class, class probabilities."""
        rows = []
        for r in self.folds:
            for p in r["predictions"]:
                rows.append({"utterance": p["utterance"], "fold": r["fold"], "true": p["true"], "pred": p["pred"], **dict(zip(EMOTIONS, p["probs"]))})
        return pd.DataFrame(rows)

    @property
    def wall_time_s(self) -> float:
        return float(sum(r["wall_time_s"] for r in self.folds))


def folds_of(config, df) -> list[Fold]:
    """The folds ``config`` trains on the corpus table ``df``: its protocol's, with its fold count
    (:func:`~adcrnn_lib.experiments.results.n_folds`) and seed. ``config`` may be an ADCRNN,
    baseline or TIM-Net configuration."""
    n_splits = n_folds(config, 0) if config.protocol == "paper" else None
    return make_folds(df, protocol=config.protocol, n_splits=n_splits, seed=config.seed)


def runner(config) -> Callable:
    """The cross-validation function of ``config``'s kind: :func:`run_cv` (ADCRNN),
    :func:`~adcrnn_lib.experiments.baselines.run_baseline`, :func:`~adcrnn_lib.experiments.timnet.run_timnet`
    or :func:`~adcrnn_lib.experiments.leaky.run_leaky`. Each takes ``results_dir``, ``verify``,
    ``progress`` and ``folds``."""
    from .baselines import BaselineConfig, run_baseline
    from .leaky import LeakyConfig, run_leaky
    from .timnet import TimNetConfig, run_timnet

    for kind, run in ((ExperimentConfig, run_cv), (BaselineConfig, run_baseline), (TimNetConfig, run_timnet), (LeakyConfig, run_leaky)):
        if isinstance(config, kind):
            return run
    raise ParameterError(f"no cross-validation for {type(config).__name__}")


def run_folds(
    config,
    folds: Sequence[Fold],
    test_ids: np.ndarray,
    train_fold: Callable[[Fold], dict],
    folder: Path,
    *,
    only: Sequence[int] | None = None,
    progress: bool = False,
    description: str = "folds",
) -> CVResult:
    """The fold loop every cross-validation shares (ADCRNN, the baselines, TIM-Net).

    Each fold's file is reused when it is usable (see :func:`record_problem`); otherwise
    ``train_fold(fold)`` makes its record, which is written atomically. A killed run therefore
    resumes at its first missing fold, and no fold file is ever half-written.

    Parameters
    ----------
    config
        The run's configuration (its ``key()`` names the fold files' owner).
    folds : sequence of Fold
        Every fold of the run, in order.
    test_ids : np.ndarray
        Utterance id of every corpus row (a fold file must test exactly its fold's utterances).
    train_fold : callable
        Fold -> JSON-ready record (see :func:`fold_record`).
    folder : pathlib.Path
        The run's folder.
    only : sequence of int, optional
        Fold numbers to run (a worker's share); the result then holds just those folds.
    progress : bool
        A tqdm bar over folds.
    description : str
        The bar's label.

    Returns
    -------
    CVResult
    """
    from tqdm.auto import tqdm

    if only is not None:
        unknown = sorted(set(only) - {f.k for f in folds})
        if unknown:
            raise ParameterError(f"fold(s) {unknown} not in this run; it has folds 0 to {len(folds) - 1}")
        folds = [f for f in folds if f.k in set(only)]
    records = []
    for fold in tqdm(folds, desc=description, unit="fold", disable=not progress):
        path = fold_path(folder, fold.k)
        record = _load_fold(path, config=config, fold=fold, test_ids=test_ids[fold.test].tolist())
        if record is None:
            record = train_fold(fold)
            write_json(path, record)
        records.append(record)
    return CVResult(config, records, folder)


def run_cv(
    config: ExperimentConfig,
    *,
    results_dir: str | os.PathLike | None = None,
    verify: bool = True,
    progress: bool = True,
    folds: Sequence[int] | None = None,
) -> CVResult:
    """Cross-validate ``config``, reusing completed folds.

    Parameters
    ----------
    config : ExperimentConfig
    results_dir : str or os.PathLike, optional
        Root of the run folders (see :func:`~adcrnn_lib.experiments.results.results_root`).
    verify : bool
        Check the corpus against EmoDB's checksums (off only for look-alike corpora).
    progress : bool
        tqdm bars over folds and epochs.
    folds : sequence of int, optional
        Only these fold numbers (one worker's task, see :mod:`adcrnn_lib.experiments.distributed`); the result
        then holds just them. Default: every fold.

    Returns
    -------
    CVResult
    """
    if not isinstance(config, ExperimentConfig):
        raise ParameterError(f"run_cv needs an ExperimentConfig, got {type(config).__name__}")
    df = load_emodb(config.data_dir, verify=verify)
    all_folds = folds_of(config, df)
    folder = run_dir(config, results_dir)
    write_run_config(folder, config, profile=config.settings().to_dict())
    features: list = []  # extracted (or read from the cache) at the first fold to train: a finished run is only read

    def train_fold(fold: Fold) -> dict:
        if not features:
            features.extend(extract_features(df["path"].tolist(), progress=progress))
        return run_fold(config, df, fold, features, progress=progress)

    return run_folds(
        config, all_folds, df["utterance"].to_numpy(), train_fold, folder,
        only=folds, progress=progress, description=f"{config.augmentation}/{config.loss}/{config.protocol}",
    )


def load_run_folder(folder: str | os.PathLike) -> CVResult | None:
    """A complete ADCRNN run read from ``folder`` under the key its own fold files state, with no
    configuration to recompute that key (a run kept in the reference under an older key); None
    when the folder holds no fold file or a fold that is not usable."""
    folder = Path(folder)
    paths = list(fold_paths(folder).values())
    if not paths:
        return None
    records = [json.loads(p.read_text()) for p in paths]
    if any(record_problem(r, config_key=folder.name, fold=k) for k, r in enumerate(records)):
        return None
    return CVResult(ExperimentConfig(**records[0]["config"]), records, folder)


def load_result(config: ExperimentConfig, *, results_dir: str | os.PathLike | None = None) -> CVResult:
    """Read a finished run (ADCRNN or baseline) back without training.

    Only a whole run is returned: every fold file must be there and usable (see
    :func:`record_problem`), and the folds' test sets must together cover the utterances the run
    was trained and tested on, each exactly once. A half-finished run is refused rather than
    summarized over fewer folds; :func:`run_cv` finishes it.

    Raises
    ------
    ParameterError
        No fold file; a fold missing; a fold file of another configuration, fold, schema
        version, or marked incomplete; test sets that do not partition the corpus. The message
        names the folder or file.
    DataError
        A fold file that is not readable JSON.
    """
    folder = run_dir(config, results_dir)
    paths = fold_paths(folder)
    if not paths:
        raise ParameterError(f"no results for {config} in {folder}")
    key = config.key()
    records = []
    for k in sorted(paths):
        try:
            record = json.loads(paths[k].read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{paths[k]}: unreadable fold file ({exc}); delete it and rerun the configuration") from exc
        problem = record_problem(record, config_key=key, fold=k)
        if problem is not None:
            raise ParameterError(f"{paths[k]}: {problem}; rerun the configuration (run_cv or adcrnn cv) to recompute it")
        records.append(record)
    first = records[0]
    corpus = {*first.get("train_utterances", []), *first.get("val_utterances", []), *(p["utterance"] for p in first["predictions"])}
    expected = n_folds(config, len({u[:2] for u in corpus}))  # EmoDB ids start with the 2-digit speaker
    missing = sorted(set(range(expected)) - set(paths))
    if missing:
        raise ParameterError(f"incomplete run in {folder}: {len(paths)} of {expected} folds done, fold(s) {missing} missing; rerun the configuration to finish it")
    extra = sorted(set(paths) - set(range(expected)))
    if extra:
        raise ParameterError(f"{folder}: fold file(s) {extra} beyond the {expected} folds of this configuration")
    tested = [p["utterance"] for r in records for p in r["predictions"]]
    if len(tested) != len(set(tested)) or set(tested) != corpus:
        raise ParameterError(
            f"{folder}: the folds' test sets do not cover the run's {len(corpus)} utterances once each "
            f"({len(tested)} tests of {len(set(tested))} utterances); the fold files come from different runs or corpora"
        )
    return CVResult(config, records, folder)


def pool_seeds(results: CVResult | Sequence[CVResult]) -> CVResult:
    """One result whose folds are those of every seed's run, in order (seeds x folds).

    A single :class:`CVResult` is returned as it is.
    """
    if isinstance(results, CVResult):
        return results
    results = list(results)
    if not results:
        raise ParameterError("pool_seeds got no runs")
    return CVResult(results[0].config, [f for r in results for f in r.folds], results[0].run_dir)


def compare(a: CVResult | Sequence[CVResult], b: CVResult | Sequence[CVResult], *, n_boot: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """How much better B is than A, paired over the same folds and utterances.

    ``a`` and ``b`` may each be one run or a list of runs, one per seed, in the same seed order:
    the pairs are then every (seed, fold), and every (seed, utterance) for the bootstrap.

    Returns, for ``"wa"`` and ``"ua"``, the mean difference over folds (B - A), a paired bootstrap
    95% confidence interval over the test utterances, and a paired t-test over folds (see
    :func:`~adcrnn_lib.metrics.paired_comparison`).
    """
    a, b = pool_seeds(a), pool_seeds(b)
    if len(a.folds) != len(b.folds):
        raise ParameterError(f"cannot pair {len(a.folds)} folds with {len(b.folds)}")
    for fa, fb in zip(a.folds, b.folds):
        if [p["utterance"] for p in fa["predictions"]] != [p["utterance"] for p in fb["predictions"]]:
            raise ParameterError(f"fold {fa['fold']} tests different utterances in the two runs (protocol or seed differ)")
    pa, pb = a.predictions(), b.predictions()
    fold_a = {m: [r[m] for r in a.folds] for m in ("wa", "ua")}
    fold_b = {m: [r[m] for r in b.folds] for m in ("wa", "ua")}
    return paired_comparison(pa["true"].to_numpy(), pa["pred"].to_numpy(), pb["pred"].to_numpy(), fold_a, fold_b, n_boot=n_boot, seed=seed)
