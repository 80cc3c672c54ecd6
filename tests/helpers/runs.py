"""Hand-computed metrics and fold records constructed with known answers, for tests whose answer must be known."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from adcrnn_lib import data

__all__ = ["EMOTION_OF_CODE", "hand_scores", "constructed_folds", "constructed_records", "write_records", "constructed_run", "run_folder"]

#: EmoDB's emotion letters (the sixth character of a file name), in the library's class order.
EMOTION_OF_CODE = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}


def hand_scores(y_true, y_pred, n_classes: int = 7) -> dict:
    """WA, UA (mean recall over the classes present), macro-F1 over all ``n_classes`` and the
    confusion matrix, computed with loops, independently of :mod:`adcrnn_lib.metrics`."""
    y_true, y_pred = [int(v) for v in y_true], [int(v) for v in y_pred]
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for t, p in zip(y_true, y_pred):
        matrix[t][p] += 1
    present = [c for c in range(n_classes) if sum(matrix[c]) > 0]
    f1 = []
    for c in range(n_classes):
        tp = matrix[c][c]
        fp = sum(matrix[r][c] for r in range(n_classes)) - tp
        fn = sum(matrix[c]) - tp
        f1.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "wa": sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true),
        "ua": sum(matrix[c][c] / sum(matrix[c]) for c in present) / len(present),
        "macro_f1": sum(f1) / n_classes,
        "confusion": matrix,
    }


def constructed_folds(table, protocol: str, accuracy: float, *, seed: int = 0) -> list[tuple]:
    """Per fold of ``protocol`` (the smoke profile's paper folds, or one per speaker) drawn with
    ``seed``: test ids, true classes, and predictions right on the first ``accuracy`` share of each
    class's test utterances (wrong ones say the next class). Input of :func:`constructed_records`."""
    from adcrnn_lib import profiles

    ids, labels = table["utterance"].to_numpy(), table["emotion"].cat.codes.to_numpy()
    n_splits = profiles.get_profile("smoke").n_splits if protocol == "paper" else None
    out = []
    for fold in data.make_folds(table, protocol=protocol, n_splits=n_splits, seed=seed):
        y = labels[fold.test]
        pred = y.copy()
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            wrong = rows[int(round(accuracy * len(rows))) :]
            pred[wrong] = (c + 1) % 7
        out.append((ids[fold.test].tolist(), y, pred))
    return out


def constructed_records(config, folds) -> list[dict]:
    """Fold records of ``config`` from given predictions, without training.

    ``folds``: one ``(test_ids, y_true, y_pred)`` per fold; every fold's training utterances are
    the other folds' test utterances. Provenance is a stub (no git calls).
    """
    import time
    from unittest import mock

    from adcrnn_lib.experiments import cv

    everyone = [u for ids, _, _ in folds for u in ids]
    records = []
    with mock.patch.object(cv, "provenance", lambda **kw: {"stub": True, **kw}):
        for k, (ids, y_true, y_pred) in enumerate(folds):
            probs = np.full((len(ids), 7), 0.05)
            probs[np.arange(len(ids)), np.asarray(y_pred)] = 0.7
            records.append(
                cv.fold_record(
                    config, k, test_ids=list(ids), y_true=np.asarray(y_true), probs=probs, train_ids=[u for u in everyone if u not in set(ids)],
                    val_ids=[], n_generated=0, n_train_segments=0, best_epoch=1, val={}, history={"loss": [], "val_wa": [], "val_ua": []},
                    started=time.perf_counter(), profile="smoke", data_dir=None,
                )
            )
    return records


def write_records(records: list[dict], folder: Path) -> Path:
    """Write ``records`` as ``fold-<k>.json`` into ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        (folder / f"fold-{r['fold']}.json").write_text(json.dumps(r))
    return folder


def constructed_run(config, table, root, accuracy: float, *, drop=()) -> list[dict]:
    """Write a run of ``config`` under ``root`` from constructed predictions (right on ``accuracy``
    of each class's test utterances, in the folds its protocol and seed draw), leaving out the folds
    in ``drop``; returns every fold's record, written or not."""
    from adcrnn_lib.experiments.results import run_dir

    records = constructed_records(config, constructed_folds(table, config.protocol, accuracy, seed=config.seed))
    write_records([r for r in records if r["fold"] not in drop], run_dir(config, root))
    return records


def run_folder(tmp_path_factory) -> Path:
    """This test run's temporary folder: pytest's, or under pytest-xdist the one that holds every
    worker's folder (and their shared cache)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
