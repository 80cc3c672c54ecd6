"""Recording level: how loud a clip is, gains, and whether predictions depend on the gain.

A microphone's gain scales every sample by a constant; on a log-Mel front end that adds a constant
to every feature, which the training fold's z-scoring does not remove. This module measures a
clip's level (RMS and peak in dBFS, the share of clipped samples), applies gains as a recording
chain would (clipping at full scale), and checks how many of a model's predictions change under a
gain (:func:`level_invariance`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["CLIP_LEVEL", "CLIPPED_SHARE_WARN", "QUIET_MARGIN_DB", "CHECK_GAINS_DB", "Level", "measure_level", "level_warnings", "apply_gain", "predictions_at_gains", "gain_scores", "level_invariance", "clipped_at_gain"]

#: A sample at or above this magnitude counts as clipped.
CLIP_LEVEL = 0.999
#: More clipped samples than this share: the recording is distorted (EmoDB's files, peak-normalized,
#: touch full scale at a sample or two).
CLIPPED_SHARE_WARN = 0.001
#: A clip quieter than the quietest training utterance by more than this (the largest cut of
#: :data:`CHECK_GAINS_DB`) is outside the levels the model was checked at.
QUIET_MARGIN_DB = 24.0
#: The gains the level-invariance check applies (dB).
CHECK_GAINS_DB: tuple[float, ...] = (-24.0, -12.0, 6.0)


@dataclass(frozen=True)
class Level:
    """A clip's level: RMS and peak in dB relative to full scale, and the share of clipped samples."""

    rms_dbfs: float
    peak_dbfs: float
    clipped_share: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def _db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-10)))


def measure_level(y: np.ndarray) -> Level:
    """The :class:`Level` of a float signal in [-1, 1]."""
    y = np.asarray(y, dtype=np.float64)
    return Level(_db(np.sqrt(np.mean(y**2))), _db(np.max(np.abs(y))), float(np.mean(np.abs(y) >= CLIP_LEVEL)))


def level_warnings(level: Level, trained_rms_dbfs: Sequence[float] | None = None) -> list[str]:
    """Why a prediction of a clip at ``level`` is not to be trusted (empty when nothing is wrong).

    Parameters
    ----------
    level : Level
    trained_rms_dbfs : (float, float), optional
        The quietest and loudest RMS level of the model's training utterances (a model's metadata
        holds them); without it only clipping is checked.
    """
    out = []
    if level.clipped_share > CLIPPED_SHARE_WARN:
        out.append(f"clipped: {100 * level.clipped_share:.2f} % of samples at full scale (distorted; more than {100 * CLIPPED_SHARE_WARN:.1f} %)")
    if trained_rms_dbfs is not None and level.rms_dbfs < trained_rms_dbfs[0] - QUIET_MARGIN_DB:
        out.append(
            f"quiet: RMS {level.rms_dbfs:.1f} dBFS, more than {QUIET_MARGIN_DB:.0f} dB under the quietest training utterance "
            f"({trained_rms_dbfs[0]:.1f} dBFS); the prediction may follow the level, not the voice"
        )
    return out


def apply_gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    """``y`` scaled by ``gain_db`` decibels and clipped to [-1, 1], as a recording chain would."""
    return np.clip(np.asarray(y, np.float32) * np.float32(10 ** (gain_db / 20)), -1.0, 1.0)


def predictions_at_gains(predict_clips: Callable[[list[np.ndarray]], np.ndarray], audios: Sequence[np.ndarray], *, gains_db: Sequence[float] = CHECK_GAINS_DB) -> dict[float, np.ndarray]:
    """Each clip's predicted class as recorded (gain ``0.0``, first) and after each gain of ``gains_db``.

    ``predict_clips`` maps a list of clips to class scores ``(n_clips, n_classes)`` (probabilities
    or logits); the gained clips are clipped at full scale (:func:`apply_gain`).
    """
    return {
        gain: np.asarray(predict_clips([apply_gain(y, gain) if gain else np.asarray(y, np.float32) for y in audios])).argmax(axis=1)
        for gain in (0.0, *gains_db)
    }


def gain_scores(predicted: dict[float, np.ndarray], labels: Sequence[int] | None = None) -> dict[float, dict[str, float]]:
    """Per gain of :func:`predictions_at_gains`: ``changed`` (share of predictions other than at 0 dB), and with labels ``wa`` and ``ua``."""
    from .metrics import unweighted_accuracy

    out = {}
    for gain, pred in predicted.items():
        row = {"changed": float(np.mean(pred != predicted[0.0]))}
        if labels is not None:
            truth = np.asarray(labels)
            row.update(wa=float(np.mean(pred == truth)), ua=float(unweighted_accuracy(truth, pred)))
        out[gain] = row
    return out


def level_invariance(predict: Callable[[np.ndarray], np.ndarray], audios: Sequence[np.ndarray], labels: Sequence[int] | None = None, *, gains_db: Sequence[float] = CHECK_GAINS_DB) -> pd.DataFrame:
    """How a model's predictions move when every clip is recorded louder or quieter.

    Parameters
    ----------
    predict : callable
        Audio -> class probabilities (e.g. :meth:`~adcrnn_lib.predict.Predictor.predict_audio`).
    audios : sequence of np.ndarray
        Clips as recorded (gain 0 dB).
    labels : sequence of int, optional
        Their class indices; adds the accuracy at each gain.
    gains_db : sequence of float

    Returns
    -------
    pandas.DataFrame
        Index ``gain (dB)`` (0 first); columns as :func:`gain_scores`.
    """
    predicted = predictions_at_gains(lambda clips: np.stack([predict(y) for y in clips]), audios, gains_db=gains_db)
    return pd.DataFrame([{"gain (dB)": gain, **row} for gain, row in gain_scores(predicted, labels).items()]).set_index("gain (dB)")


def clipped_at_gain(audios: Sequence[np.ndarray], gain_db: float) -> float:
    """The share of ``audios`` that :func:`level_warnings` calls clipped after a gain of ``gain_db``
    (:func:`apply_gain`): where a gain check measures distortion as well as level."""
    return float(np.mean([measure_level(apply_gain(y, gain_db)).clipped_share > CLIPPED_SHARE_WARN for y in audios]))
