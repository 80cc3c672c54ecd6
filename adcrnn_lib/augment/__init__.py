"""Training-set augmentation: the hook :func:`~adcrnn_lib.experiments.cv.run_cv` calls inside each fold.

An augmenter receives only the fold's *training* utterances and returns new clips, each recording
the utterance it was made from, so the leakage guard can check that no test utterance fed it. The
paper's augmenters (time shift, pitch shift, WaveGAN, SpecGAN) plug in here; ``"none"`` adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = ["AUGMENTATIONS", "GeneratedClip", "augment_training_set", "fold_seed"]

#: The training-set augmentations :func:`augment_training_set` knows.
AUGMENTATIONS: tuple[str, ...] = ("none", "time_shift", "pitch_shift", "wavegan", "specgan")


@dataclass(frozen=True)
class GeneratedClip:
    """One generated training clip and its provenance.

    Attributes
    ----------
    audio : np.ndarray [shape=(n,), dtype=float32]
        At the corpus sample rate.
    emotion : str
    sources : tuple of str
        Utterance ids of the training audio it was made from.
    method : str
    params : dict
        The augmentation parameters used.
    """

    audio: np.ndarray
    emotion: str
    sources: tuple[str, ...]
    method: str
    params: dict = field(default_factory=dict)


def fold_seed(seed: int, fold: int) -> int:
    """The generation seed of one fold of a run with ``seed`` (folds never share clips by accident)."""
    return seed * 1000 + fold + 1


def augment_training_set(method: str, train: pd.DataFrame, *, seed: int, fold: int, profile: str = "cpu", progress: bool = False) -> list[GeneratedClip]:
    """New training clips for one fold, made from ``train`` (the fold's training rows) only.

    Parameters
    ----------
    method : str
        One of :data:`AUGMENTATIONS`: ``"none"`` adds nothing; ``"time_shift"`` and
        ``"pitch_shift"`` balance the six minority emotions up to the largest class
        (:func:`~adcrnn_lib.augment.balance.balance`); ``"wavegan"`` and ``"specgan"`` do the
        same with clips of one GAN per emotion trained on ``train`` only.
    train : pandas.DataFrame
        The training rows of the corpus table.
    seed, fold : int
        Seed the generation; the same seed and fold give the same clips.
    profile : str
        The compute profile (GAN sizes and steps).
    progress : bool
        Progress bars for GAN training.
    """
    if method == "none":
        return []
    if method in AUGMENTATIONS:
        from .balance import balance

        return balance(train, method=method, seed=fold_seed(seed, fold), profile=profile, progress=progress)
    raise ParameterError(f"augmentation={method!r}; allowed: {', '.join(AUGMENTATIONS)}")
