"""Leaky protocols: where the paper's numbers could come from (never part of the honest tables).

The paper reports 85.66 % WA without augmentation from "5-fold cross-validation" and says no more
about how its folds were cut, how the features were normalized or which epoch was kept. Our honest
protocol (:func:`~adcrnn_lib.data.make_folds`, :func:`~adcrnn_lib.experiments.cv.run_fold`) closes every door
through which a test utterance can reach training or model selection. This module opens them one
at a time, on the no-augmentation row (and the time-shift row for the last one), so the book can
show how far each protocol error that the paper does not rule out moves the numbers:

``"takes"``
    Repeated takes of one speaker, sentence and emotion (EmoDB has them) may fall into different
    folds: a plain stratified split of utterances, as a random 5-fold split would cut them.
``"segments"``
    Segments, not utterances, are split into folds (each segment is scored on its own), so the
    overlapping segments of one long utterance land in training and test. Implies ``"takes"``.
    The training statistics are then those of the training segments, where overlapping frames
    count twice.
``"corpus_norm"``
    The z-score statistics come from the whole corpus, test utterances included.
``"test_selection"``
    Each fold's epoch is picked on its test part: the test utterances take the validation part's
    place in model selection, and every epoch is a candidate (no early stop). The validation part
    stays out of training, as in the honest twin; the fold record's ``val_utterances`` name it,
    its ``val`` scores are the test part's, and its history also holds the validation part's
    scores after every epoch (``watch_wa``, ``watch_ua``), so that :func:`same_run_gain` can
    tell, within one training run, what the test-picked epoch gains over the epoch the honest
    rule would have kept. It needs a selection rule that reads validation scores (``"best"``);
    under ``"last"`` or ``"average"`` no epoch is picked, so there is nothing to leak, and the
    configuration is refused.
``"augment_before_split"``
    The six minority emotions are balanced with time-shifted copies made from the whole corpus
    before the split (Table V's time-shift row made leaky), so a test utterance's twin trains.
    Every fold trains on all of them: the copies that balance the whole corpus (354 on EmoDB,
    against 242-255 that balance one training part in the honest run), so the training part is
    not balanced exactly; its honest twin is Table V's time-shift row. The copies are rolls of
    10-50 ms (:mod:`~adcrnn_lib.augment.balance`; the paper gives no range), so a test utterance
    often meets a copy of itself shifted by one to five feature frames.

Runs scored on segments (``"segments"``) are pooled back to utterances for the comparison with
their honest twins (:func:`utterance_predictions`), so that both sides score the same 535
utterances: :func:`compare_by_utterance` pairs two runs over utterances (not over folds, which
differ when takes or segments are split).

Runs are written like every other run (fold JSON, :func:`~adcrnn_lib.experiments.cv.run_folds`) under
``<results>/leaky/<key>/``; their configurations carry the leaks in the name, and nothing in
:mod:`~adcrnn_lib.experiments.grid`'s honest tables reads that folder.

This module trains, so it sits above :mod:`~adcrnn_lib.experiments.cv` and :mod:`~adcrnn_lib.train`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import ExperimentConfig, check_seed
from ..exceptions import ParameterError

__all__ = ["LEAKS", "LeakyConfig", "leaky_units", "run_leaky", "utterance_predictions", "utterance_scores", "compare_by_utterance", "validation_pick", "same_run_gain"]

#: Every leak this module can open, with the words the book uses for it.
LEAKS: dict[str, str] = {
    "takes": "repeated takes split across folds",
    "segments": "segments, not utterances, split into folds",
    "corpus_norm": "normalization statistics from the whole corpus",
    "test_selection": "each fold's epoch picked on its test part",
    "augment_before_split": "time-shifted copies made before the split",
}
#: The version of the leaks' definitions, part of every run key: 2 (version 1 added the validation
#: part to training under ``"test_selection"``); runs with ``"test_selection"`` open are at
#: :data:`_TEST_SELECTION_VERSION`, since only that leak changed again (version 2 also stopped
#: early on the test part), so the other leaky runs keep their keys.
_VERSION = 2
_TEST_SELECTION_VERSION = 3
#: Separates an utterance id from its segment number in the ids of the ``"segments"`` leak.
SEGMENT_MARK = "#"


@dataclass(frozen=True)
class LeakyConfig:
    """One leaky cross-validation: the honest run of :meth:`experiment` with ``leaks`` opened.

    Attributes
    ----------
    leaks : tuple of str
        Keys of :data:`LEAKS` (stored sorted; at least one).
    profile : str
    seed : int
    data_dir : str, optional
    overrides : tuple of (str, object) pairs
        Training settings, as :attr:`ExperimentConfig.overrides`.
    """

    leaks: tuple[str, ...]
    profile: str = "cpu"
    seed: int = 0
    data_dir: str | None = None
    overrides: tuple[tuple[str, object], ...] = ()
    #: Not fields: what every leaky run is (read by the fold loop and :func:`~adcrnn_lib.experiments.cv.load_result`).
    protocol = "paper"
    loss = "lf1"
    results_group = "leaky"

    def __post_init__(self) -> None:
        if isinstance(self.leaks, str) or not isinstance(self.leaks, (list, tuple)) or not self.leaks:
            raise ParameterError(f"leaks={self.leaks!r}; expected a non-empty list of {', '.join(LEAKS)}")
        unknown = sorted(set(self.leaks) - set(LEAKS))
        if unknown:
            raise ParameterError(f"unknown leak(s) {unknown}; allowed: {', '.join(LEAKS)}")
        object.__setattr__(self, "leaks", tuple(sorted(set(self.leaks))))
        check_seed(self.seed)
        object.__setattr__(self, "overrides", self.experiment().overrides)  # validated and sorted there
        if "test_selection" in self.leaks and self.settings().selection != "best":
            raise ParameterError(
                f"the test_selection leak needs a selection rule that reads validation scores ('best'); "
                f"this configuration selects {self.settings().selection!r}, which picks no epoch to leak"
            )

    @property
    def augmentation(self) -> str:
        return "time_shift" if "augment_before_split" in self.leaks else "none"

    @property
    def name(self) -> str:
        """The leaks in the book's words."""
        return " + ".join(LEAKS[k] for k in self.leaks)

    def experiment(self) -> ExperimentConfig:
        """The honest run these leaks are opened on."""
        return ExperimentConfig(profile=self.profile, augmentation=self.augmentation, seed=self.seed, data_dir=self.data_dir, overrides=self.overrides)

    @property
    def n_splits(self) -> int:
        """Folds of the run (the profile's)."""
        return self.settings().n_splits

    def settings(self):
        """The profile the run trains with (see :meth:`ExperimentConfig.settings`)."""
        return self.experiment().settings()

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["leaks"] = list(self.leaks)
        d["overrides"] = dict(self.overrides)
        return d

    def key(self) -> str:
        """16 hex digits: the honest run's key and the leaks."""
        payload = {"experiment": self.experiment().key(), "leaks": list(self.leaks), "version": _TEST_SELECTION_VERSION if "test_selection" in self.leaks else _VERSION}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def leaky_units(df: pd.DataFrame, features: Sequence[np.ndarray], *, length: int, hop: int) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """The corpus as segments: one row per segment of every utterance, with its frames.

    Segment ``j`` of utterance ``u`` gets the id ``u#j`` and its own sentence, so no two segments
    share a group in :func:`~adcrnn_lib.data.make_folds`. An utterance of at most ``length``
    frames is one unit of its own length (padded later, after normalization, as in honest runs).
    """
    from ..features import segment_starts

    rows, feats = [], []
    for (_, row), f in zip(df.iterrows(), features):
        for j, s in enumerate(segment_starts(f.shape[0], length=length, hop=hop)):
            unit = f"{row['utterance']}{SEGMENT_MARK}{j}"
            rows.append({**row.to_dict(), "utterance": unit, "sentence": unit})
            feats.append(f[s : s + length])
    out = pd.DataFrame(rows)
    out["emotion"] = pd.Categorical(out["emotion"], categories=df["emotion"].cat.categories)
    return out, feats


def run_leaky(config: LeakyConfig, *, results_dir: str | os.PathLike | None = None, verify: bool = True, progress: bool = False, folds: Sequence[int] | None = None):
    """Cross-validate ``config`` with its leaks open, reusing completed folds (as :func:`~adcrnn_lib.experiments.cv.run_cv`).

    Returns
    -------
    CVResult
    """
    from ..augment import augment_training_set
    from ..data import EMOTIONS, load_emodb, make_folds
    from ..features import Normalizer, extract_features, log_mel_3d
    from ..train import make_segment_data, train_model
    from .cv import evaluated_fold_record, run_folds
    from .results import run_dir, write_run_config

    if not isinstance(config, LeakyConfig):
        raise ParameterError(f"run_leaky needs a LeakyConfig, got {type(config).__name__}")
    prof = config.settings()
    leaks = set(config.leaks)
    df = load_emodb(config.data_dir, verify=verify)
    features = extract_features(df["path"].tolist(), progress=progress)
    units, unit_feats = (df, list(features))
    if "segments" in leaks:
        units, unit_feats = leaky_units(df, features, length=prof.segment_frames, hop=prof.segment_hop)
    elif "takes" in leaks:
        units = df.assign(sentence=df["utterance"].astype(str))  # each take its own group
    labels = units["emotion"].cat.codes.to_numpy().astype(np.int64)
    ids = units["utterance"].astype(str).to_numpy()
    all_folds = make_folds(units, protocol="paper", n_splits=prof.n_splits, seed=config.seed)
    clips = augment_training_set("time_shift", df, seed=config.seed, fold=-1, profile=config.profile, progress=progress) if "augment_before_split" in leaks else []
    clip_feats = [log_mel_3d(c.audio) for c in clips]
    clip_labels = [EMOTIONS.index(c.emotion) for c in clips]
    if "test_selection" in leaks:  # every epoch a candidate: the best on the test part over all of them
        prof = dataclasses.replace(prof, patience=prof.epochs)
    cut = {"length": prof.segment_frames, "hop": prof.segment_hop}
    folder = run_dir(config, results_dir)
    write_run_config(folder, config, profile=prof.to_dict(), leaks={k: LEAKS[k] for k in config.leaks})

    def train_fold(fold) -> dict:
        t0 = time.perf_counter()
        val = fold.test if "test_selection" in leaks else fold.val  # the test part takes the validation part's place; that part stays out
        train_feats = [unit_feats[i] for i in fold.train] + clip_feats
        normalizer = Normalizer.fit(list(unit_feats) + clip_feats if "corpus_norm" in leaks else train_feats, level=prof.level_norm)
        trained = train_model(
            make_segment_data(train_feats, np.concatenate([labels[fold.train], clip_labels]).astype(np.int64), normalizer, **cut),
            make_segment_data([unit_feats[i] for i in val], labels[val], normalizer, **cut),
            profile=prof,
            loss=config.loss,
            seed=config.seed + fold.k,
            num_classes=len(EMOTIONS),
            progress=progress,
            description=f"leaky fold {fold.k}",
            watch=make_segment_data([unit_feats[i] for i in fold.val], labels[fold.val], normalizer, **cut) if "test_selection" in leaks else None,
        )
        test = make_segment_data([unit_feats[i] for i in fold.test], labels[fold.test], normalizer, **cut)
        return evaluated_fold_record(
            config,
            fold.k,
            trained,
            test,
            test_ids=ids[fold.test].tolist(),
            train_ids=ids[fold.train].tolist(),
            val_ids=ids[fold.val].tolist(),  # held out of training, as in the honest twin (under test_selection, selection read the test part)
            n_generated=len(clips),
            started=t0,
            data_dir=df.attrs.get("data_dir"),
        )

    return run_folds(config, all_folds, ids, train_fold, folder, only=folds, progress=progress, description=f"leaky: {config.name}")


def utterance_predictions(run) -> pd.DataFrame:
    """Each utterance a run tested, once: its true and predicted class.

    A run scored on segments (ids ``u#j``, the ``"segments"`` leak) is pooled back to its
    utterances: every segment is tested once over the folds, and an utterance's decision is the
    class of the highest mean log-probability over its segments, the same decision as the mean of
    the segment logits that honest runs take (the log-probabilities are the logits less one constant
    per segment). Other runs are read as they are.

    Parameters
    ----------
    run : CVResult

    Returns
    -------
    pd.DataFrame
        Indexed by utterance id, columns ``true`` and ``pred`` (class indices), sorted by id.
    """
    from ..data import EMOTIONS

    df = run.predictions()
    utterance = df["utterance"].astype(str).str.split(SEGMENT_MARK).str[0].to_numpy()
    if df.groupby(utterance)["true"].nunique().max() > 1:
        raise ParameterError(f"run {run.config.key()}: segments of one utterance carry different labels")
    log_p = np.log(np.clip(df[list(EMOTIONS)].to_numpy(dtype=np.float64), 1e-12, None))
    pooled = pd.DataFrame(log_p).groupby(utterance).mean()
    true = df.groupby(utterance)["true"].first()
    return pd.DataFrame({"true": true.loc[pooled.index].to_numpy(), "pred": pooled.to_numpy().argmax(axis=1)}, index=pooled.index).sort_index()


def _scores(utterances: pd.DataFrame) -> dict[str, float]:
    """``{"wa", "ua"}`` of one table of :func:`utterance_predictions`."""
    from ..metrics import unweighted_accuracy

    true, pred = utterances["true"].to_numpy(), utterances["pred"].to_numpy()
    return {"wa": float(np.mean(true == pred)), "ua": unweighted_accuracy(true, pred)}


def utterance_scores(runs) -> dict[str, float]:
    """``{"wa", "ua"}`` of :func:`utterance_predictions`, the mean over ``runs`` (one per seed)."""
    per_run = [_scores(utterance_predictions(r)) for r in runs]
    return {m: float(np.mean([s[m] for s in per_run])) for m in ("wa", "ua")}


def compare_by_utterance(a, b, *, n_boot: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
    """How much better B is than A over the same utterances, whatever folds each side cut.

    ``a`` and ``b`` are lists of runs, one per seed, in the same seed order; the runs of one seed
    must test the same utterances (segments pooled, :func:`utterance_predictions`). The pairs are
    every (seed, utterance): ``diff`` is the mean over seeds of B's score less A's, and the 95%
    interval is a paired bootstrap over them (:func:`~adcrnn_lib.metrics.paired_comparison`; its
    t-test runs over the seeds).
    """
    from ..metrics import paired_comparison

    a, b = list(a), list(b)
    if len(a) != len(b) or not a:
        raise ParameterError(f"compare_by_utterance pairs runs seed by seed; got {len(a)} and {len(b)}")
    true, pred_a, pred_b, seed_a, seed_b = [], [], [], {"wa": [], "ua": []}, {"wa": [], "ua": []}
    for ra, rb in zip(a, b):
        ua_, ub_ = utterance_predictions(ra), utterance_predictions(rb)
        if not ua_.index.equals(ub_.index) or not np.array_equal(ua_["true"], ub_["true"]):
            raise ParameterError(f"runs {ra.config.key()} and {rb.config.key()} test different utterances (another corpus?)")
        true.append(ua_["true"].to_numpy())
        pred_a.append(ua_["pred"].to_numpy())
        pred_b.append(ub_["pred"].to_numpy())
        for side, u in ((seed_a, ua_), (seed_b, ub_)):
            for metric, value in _scores(u).items():
                side[metric].append(value)
    return paired_comparison(np.concatenate(true), np.concatenate(pred_a), np.concatenate(pred_b), seed_a, seed_b, n_boot=n_boot, seed=seed)


def validation_pick(val_ua: Sequence[float], patience: int) -> int:
    """The epoch (1-based) that the ``"best"`` rule keeps, given the UA after every epoch: the first
    best, with training stopped after ``patience`` epochs without a better one (as
    :func:`~adcrnn_lib.train.train_model` stops)."""
    best_epoch, best = 0, -1.0
    for epoch, ua in enumerate(val_ua, 1):
        if ua > best:
            best_epoch, best = epoch, ua
        elif epoch - best_epoch >= patience:
            break
    if not best_epoch:
        raise ParameterError("validation_pick needs at least one epoch's score")
    return best_epoch


def same_run_gain(run, metric: str = "wa") -> np.ndarray:
    """Per fold of a ``"test_selection"`` run: its test ``metric`` at the test-picked epoch less the
    test ``metric`` at the epoch the honest rule would have kept on the validation part in the
    same training run (:func:`validation_pick` with the run's own patience), over seeds x folds.

    The same weights, the same trajectory: only the epoch differs, so this is the leak alone,
    free of the drift between two trainings of the same recipe (another CPU, another early stop).
    """
    if "test_selection" not in run.config.leaks:
        raise ParameterError(f"run {run.config.key()} does not pick its epoch on the test part")
    patience = run.config.settings().patience
    gains = []
    for f in run.folds:
        history = f["history"]
        if "watch_ua" not in history:
            raise ParameterError(f"fold {f['fold']} of run {run.config.key()} has no validation scores (trained before leak version 3)")
        kept = validation_pick(history["watch_ua"], patience)
        gains.append(f[metric] - history[f"val_{metric}"][kept - 1])
    return np.array(gains)
