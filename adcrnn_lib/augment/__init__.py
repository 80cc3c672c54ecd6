"""Training-set augmentation: the hook :func:`~adcrnn_lib.cv.run_cv` calls inside each fold.

An augmenter receives only the fold's *training* utterances and returns new clips, each recording
the utterance it was made from, so the leakage guard can check that no test utterance fed it. The
paper's augmenters (time shift, pitch shift, WaveGAN, SpecGAN) plug in here; ``"none"`` adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = ["GeneratedClip", "augment_training_set"]


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


def augment_training_set(method: str, train: pd.DataFrame, *, seed: int, fold: int) -> list[GeneratedClip]:
    """New training clips for one fold, made from ``train`` (the fold's training rows) only.

    Parameters
    ----------
    method : str
        ``"none"`` for now.
    train : pandas.DataFrame
        The training rows of the corpus table.
    seed, fold : int
        Seed the generation; the same seed and fold give the same clips.
    """
    if method == "none":
        return []
    raise ParameterError(f"augmentation={method!r}; allowed: 'none'")
