"""Utterance-level metrics: WA, UA, macro-F1, confusion matrices, segment pooling, paired comparison.

* **WA** (weighted accuracy) is plain accuracy over utterances: what the paper reports.
* **UA** (unweighted accuracy) is the mean of the per-class recalls, blind to class sizes.
* Segment predictions are pooled per utterance by averaging the segment logits (the ACRNN
  convention of one decision per utterance; see :func:`pool_logits`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import confusion_matrix, f1_score

from .exceptions import ParameterError

__all__ = ["pool_logits", "softmax", "scores", "unweighted_accuracy", "confusion", "paired_comparison"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def pool_logits(logits: np.ndarray, utterance: np.ndarray, n_utterances: int) -> np.ndarray:
    """Average the logits of each utterance's segments.

    Parameters
    ----------
    logits : np.ndarray [shape=(n_segments, n_classes)]
    utterance : np.ndarray [shape=(n_segments,), int]
        Utterance position of each segment, in ``[0, n_utterances)``.
    n_utterances : int

    Returns
    -------
    np.ndarray [shape=(n_utterances, n_classes)]
    """
    utterance = np.asarray(utterance)
    counts = np.bincount(utterance, minlength=n_utterances)
    if np.any(counts == 0):
        raise ParameterError(f"{int(np.sum(counts == 0))} utterance(s) have no segment")
    sums = np.zeros((n_utterances, logits.shape[1]), dtype=np.float64)
    np.add.at(sums, utterance, logits)
    return sums / counts[:, None]


def scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """WA, UA and macro-F1 of utterance predictions (class indices)."""
    labels = list(range(n_classes))
    return {
        "wa": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))),
        "ua": unweighted_accuracy(y_true, y_pred),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
    }


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows the true class, columns the predicted one."""
    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA: the mean recall of the classes present in ``y_true``.

    The value of scikit-learn's ``balanced_accuracy_score``, without its warning when a prediction
    names a class absent from ``y_true`` (a speaker with no disgust under leave-one-speaker-out):
    such a prediction is simply wrong, and the warning, raised in every worker of an inner
    cross-validation, only fills the log. A fold of one class gets that class's recall, its accuracy.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred) or not len(y_true):
        raise ParameterError(f"unweighted_accuracy needs as many predictions as labels, at least one (got {len(y_true)} and {len(y_pred)})")
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def _resampled_ua(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """:func:`unweighted_accuracy` of each row of ``y_true`` and ``y_pred`` [shape=(n_resamples, n)], to the last bit.

    Per-class counts come from one ``bincount`` (sums of ones, exact in floating point); the
    recalls of a row are then averaged as :func:`unweighted_accuracy` averages them (a row's
    ``np.mean``, which the row-wise mean of a C-ordered array reproduces bit for bit), over the
    classes the row holds.
    """
    classes = np.unique(y_true)
    rows, k = y_true.shape[0], len(classes)
    cell = (np.arange(rows)[:, None] * k + np.searchsorted(classes, y_true)).ravel()
    count = np.bincount(cell, minlength=rows * k).reshape(rows, k)
    correct = np.bincount(cell, weights=(y_pred == y_true).ravel(), minlength=rows * k).reshape(rows, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = correct / count
    ua = np.mean(recall, axis=1)
    partial = ~(count > 0).all(axis=1)  # a resample that misses a class (a tiny corpus): the classes it has
    ua[partial] = [np.mean(r[c > 0]) for r, c in zip(recall[partial], count[partial])]
    return ua


def paired_comparison(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    fold_scores_a: dict[str, list[float]],
    fold_scores_b: dict[str, list[float]],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Is B better than A? Paired over the same utterances and the same folds.

    Parameters
    ----------
    y_true, pred_a, pred_b : np.ndarray [shape=(n_utterances,)]
        True classes and the two systems' predictions for the same utterances, in the same order.
    fold_scores_a, fold_scores_b : dict
        ``{"wa": [...], "ua": [...]}`` per fold, in the same fold order.
    n_boot : int
        Bootstrap resamples of the utterances.
    seed : int
    level : float
        Confidence level of the interval.

    Returns
    -------
    dict
        For ``"wa"`` and ``"ua"``: ``diff`` (B - A, mean over folds), ``ci_low``, ``ci_high``
        (paired bootstrap over utterances), ``t``, ``p`` (paired t-test over folds), and
        ``folds``.
    """
    y_true, pred_a, pred_b = (np.asarray(v) for v in (y_true, pred_a, pred_b))
    if not (len(y_true) == len(pred_a) == len(pred_b)):
        raise ParameterError("paired_comparison needs predictions for the same utterances")
    rng = np.random.default_rng(seed)
    n = len(y_true)
    # every resample drawn as one call each, as always (the same draws, the same intervals), then scored all at once
    idx = np.array([rng.integers(0, n, n) for _ in range(n_boot)]).reshape(n_boot, n)
    t, a, b = y_true[idx], pred_a[idx], pred_b[idx]
    boot = {"wa": np.mean(b == t, axis=1) - np.mean(a == t, axis=1), "ua": _resampled_ua(t, b) - _resampled_ua(t, a)}
    out = {}
    for metric in ("wa", "ua"):
        fa, fb = np.asarray(fold_scores_a[metric]), np.asarray(fold_scores_b[metric])
        if fa.shape != fb.shape:
            raise ParameterError("paired_comparison needs the same folds on both sides")
        diffs = fb - fa
        if len(diffs) > 1 and np.std(diffs) > 0:
            test = stats.ttest_rel(fb, fa)
            t_stat, p = float(test.statistic), float(test.pvalue)
        else:
            t_stat, p = float("nan"), float("nan")
        lo, hi = np.quantile(boot[metric], [(1 - level) / 2, (1 + level) / 2])
        out[metric] = {"diff": float(diffs.mean()), "ci_low": float(lo), "ci_high": float(hi), "t": t_stat, "p": p, "folds": len(diffs)}
    return out
