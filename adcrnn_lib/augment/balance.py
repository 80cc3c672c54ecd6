"""Class balancing inside one training fold: generate clips for the six minority emotions.

The paper augments boredom, disgust, fear, happiness, neutral and sadness (section IV-B) to balance
EmoDB. :func:`balance` fills each of these emotions up to a target count with clips made from that
fold's training utterances of the same emotion, never from anything else:

* the sources of an emotion are shuffled with the seed and used in turn; once all are used, the next
  parameter setting of the method's cycle is taken (so every source is used once before any is
  used twice, and no source gets the same parameters twice);
* ``time_shift`` cycles through shifts of 1, 2, 3, 4 and 5 times the paper's ``tau = sr / 100``
  (10 to 50 ms), forward then backward, each with roll;
* ``pitch_shift`` cycles through +1, -1, +2, -2, +3, -3, +4, -4 half-steps;
* ``wavegan`` and ``specgan`` train one GAN per emotion on all of that emotion's training
  utterances (:mod:`adcrnn_lib.augment.gan_clips`) and fill the emotion with its screened clips;
  each clip lists every utterance its GAN saw as its sources.

Generated audio is cached on disk, keyed by the source file's SHA-256, the method and the
parameters (``<cache>/augment/``), so a rerun, or another fold with the same source, reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import EMOTIONS, SAMPLE_RATE, load_audio
from ..exceptions import ParameterError
from ..storage import save_npy, sha256_file
from . import GeneratedClip
from .classic import pitch_shift, time_shift

__all__ = ["AUGMENTED_EMOTIONS", "PARAMETER_CYCLES", "METHODS", "GAN_METHODS", "target_count", "plan", "balance", "emotion_sources", "gan_seed", "gan_models"]

#: Methods that generate with a GAN per emotion instead of transforming one source.
GAN_METHODS: tuple[str, ...] = ("wavegan", "specgan")

#: The six emotions the paper generates clips for (all but anger).
AUGMENTED_EMOTIONS: tuple[str, ...] = ("boredom", "disgust", "fear", "happiness", "neutral", "sadness")

_TAU = SAMPLE_RATE // 100
#: The parameter settings each method cycles through.
PARAMETER_CYCLES: dict[str, list[dict]] = {
    "time_shift": [{"direction": d, "tau": k * _TAU} for k in (1, 2, 3, 4, 5) for d in ("forward", "backward")],
    "pitch_shift": [{"n_steps": s} for k in (1, 2, 3, 4) for s in (k, -k)],
}
#: Method name -> function of (audio, parameters).
METHODS: dict[str, Callable[[np.ndarray, dict], np.ndarray]] = {
    "time_shift": lambda y, p: time_shift(y, sr=SAMPLE_RATE, tau=p["tau"], direction=p["direction"], roll=True),
    "pitch_shift": lambda y, p: pitch_shift(y, sr=SAMPLE_RATE, n_steps=p["n_steps"]),
}


def target_count(counts: pd.Series, target: str | int | float = "max") -> int:
    """The count every augmented emotion is filled up to.

    Parameters
    ----------
    counts : pandas.Series
        Utterances per emotion in the training fold.
    target : "max", int or float
        ``"max"``: the largest class (anger on EmoDB); an int: that count; a float in (0, 1]: that
        share of the largest class, rounded.
    """
    largest = int(counts.max())
    if target == "max":
        return largest
    if isinstance(target, bool):
        raise ParameterError(f"target={target!r}; allowed: 'max', a positive int, or a ratio in (0, 1]")
    if isinstance(target, (int, np.integer)) and target > 0:
        return int(target)
    if isinstance(target, float) and 0 < target <= 1:
        return int(round(target * largest))
    raise ParameterError(f"target={target!r}; allowed: 'max', a positive int, or a ratio in (0, 1]")


def plan(train: pd.DataFrame, *, method: str, target: str | int | float = "max", seed: int = 0) -> list[tuple[int, str, dict]]:
    """Which clips to make: ``(row position in train, emotion, parameters)`` for each new clip."""
    if method not in METHODS:
        raise ParameterError(f"method={method!r}; allowed: {', '.join(METHODS)}")
    emotions = train["emotion"].astype(str).to_numpy()
    counts = pd.Series(emotions).value_counts().reindex(EMOTIONS, fill_value=0)
    goal = target_count(counts, target)
    rng = np.random.default_rng(seed)
    cycle = PARAMETER_CYCLES[method]
    jobs = []
    for emotion in AUGMENTED_EMOTIONS:
        sources = np.flatnonzero(emotions == emotion)
        missing = goal - len(sources)
        if missing <= 0 or len(sources) == 0:
            continue
        if missing > len(sources) * len(cycle):
            raise ParameterError(
                f"{emotion}: {missing} clips needed from {len(sources)} sources, more than the "
                f"{len(cycle)} distinct {method} settings allow"
            )
        order = rng.permutation(sources)
        for i in range(missing):
            jobs.append((int(order[i % len(order)]), emotion, dict(cycle[i // len(order)])))
    return jobs


def _clip_path(cache_dir: Path, source: str, method: str, params: dict) -> Path:
    key = hashlib.sha256(json.dumps({"source": sha256_file(source), "method": method, "params": params}, sort_keys=True).encode())
    return cache_dir / "augment" / method / f"{key.hexdigest()[:32]}.npy"


def balance(
    train: pd.DataFrame,
    *,
    method: str,
    target: str | int | float = "max",
    seed: int = 0,
    cache: bool | str | os.PathLike = True,
    profile: str = "cpu",
    progress: bool = False,
) -> list[GeneratedClip]:
    """Generate clips that bring each augmented emotion of ``train`` up to the target count.

    Parameters
    ----------
    train : pandas.DataFrame
        The fold's training rows of the corpus table (``utterance``, ``path``, ``emotion``).
    method : {"time_shift", "pitch_shift", "wavegan", "specgan"}
    target : "max", int or float
        See :func:`target_count`.
    seed : int
        Same seed, same clips.
    cache : bool or path
        ``True``: the default cache folder; a path: there; ``False``: no cache (classic methods
        only: GANs always keep their checkpoints, in a temporary folder if need be).
    profile : str
        Compute profile of the GAN sizes and steps (GAN methods only).
    progress : bool
        Progress bars over GAN training steps.

    Returns
    -------
    list of GeneratedClip
        Each with its source utterance, the method and its parameters.
    """
    from ..features import resolve_cache_dir

    if method not in (*METHODS, *GAN_METHODS):
        raise ParameterError(f"method={method!r}; allowed: {', '.join((*METHODS, *GAN_METHODS))}")
    if method in GAN_METHODS:
        return _balance_with_gan(train, kind=method, target=target, seed=seed, cache=cache, profile=profile, progress=progress)
    jobs = plan(train, method=method, target=target, seed=seed)
    cache_dir = resolve_cache_dir(cache)
    clips = []
    for pos, emotion, params in jobs:
        row = train.iloc[pos]
        path = _clip_path(cache_dir, row["path"], method, params) if cache_dir is not None else None
        if path is not None and path.exists():
            audio = np.load(path)
        else:
            audio = METHODS[method](load_audio(row["path"]), params)
            if path is not None:
                save_npy(path, audio)
        clips.append(GeneratedClip(audio, emotion, (str(row["utterance"]),), method, params))
    return clips


def emotion_sources(train: pd.DataFrame, target: str | int | float = "max") -> dict[str, tuple[pd.DataFrame, int]]:
    """Per augmented emotion: its training rows and how many clips it lacks (emotions lacking none are left out)."""
    emotions = train["emotion"].astype(str)
    goal = target_count(emotions.value_counts().reindex(EMOTIONS, fill_value=0), target)
    out = {}
    for emotion in AUGMENTED_EMOTIONS:
        rows = train[emotions.to_numpy() == emotion]
        if len(rows) and goal > len(rows):
            out[emotion] = (rows, goal - len(rows))
    return out


def gan_seed(seed: int, emotion: str) -> int:
    """The seed of one emotion's GAN in a fold whose generation seed is ``seed``."""
    return seed * 10 + AUGMENTED_EMOTIONS.index(emotion)


def gan_models(train: pd.DataFrame, *, kind: str, seed: int, profile: str = "cpu", target: str | int | float = "max", cache: bool | str | os.PathLike = True, progress: bool = False):
    """Yield ``(emotion, EmotionGan, clips missing, GAN seed)`` for each emotion that needs clips.

    Each GAN is trained (or resumed, or loaded) on that emotion's rows of ``train`` only; without
    a cache folder the checkpoints go to a temporary folder removed afterwards.
    """
    import tempfile

    from ..features import resolve_cache_dir
    from .gan import GanSettings
    from .gan_clips import emotion_gan

    settings = GanSettings.from_profile(kind, profile)
    cache_dir = resolve_cache_dir(cache)
    with tempfile.TemporaryDirectory(prefix="adcrnn-gan-") as tmp:
        for emotion, (rows, missing) in emotion_sources(train, target).items():
            emotion_seed = gan_seed(seed, emotion)
            model = emotion_gan(
                settings, rows["utterance"].astype(str).tolist(), rows["path"].astype(str).tolist(),
                seed=emotion_seed, cache_dir=cache_dir or tmp, progress=progress, desc=f"{kind} {emotion}",
            )
            yield emotion, model, missing, emotion_seed


def _balance_with_gan(train: pd.DataFrame, *, kind: str, target, seed: int, cache, profile: str, progress: bool) -> list[GeneratedClip]:
    from .gan_clips import generate_clips

    clips = []
    for emotion, model, missing, gan_seed in gan_models(train, kind=kind, seed=seed, profile=profile, target=target, cache=cache, progress=progress):
        audio, _ = generate_clips(model, missing, seed=gan_seed)
        params = {"gan": model.key, "step": model.gan.step}
        clips += [GeneratedClip(y, emotion, model.sources, kind, {**params, "index": i}) for i, y in enumerate(audio)]
    return clips
