"""What the augmentation chapter shows of one fold's GANs, kept beside the fold's runs.

The chapter draws one clip of each kind of GAN (WaveGAN, SpecGAN) and every GAN's training curve.
Both come from the GANs the fold's cross-validation runs train, which live in the cache
(:mod:`~adcrnn_lib.augment.gan_clips`); a reader who rebuilds the book from the committed reference
run has the fold files but no cache, and would otherwise retrain twelve GANs to draw two clips and
twelve curves. :func:`fold_gan_examples` therefore writes what the chapter draws to
``gan-examples-fold<k>.json`` in the folder of that profile's no-augmentation run (beside
``gan-quality-fold<k>.json``, so :func:`~adcrnn_lib.experiments.grid.save_reference` copies it), and reads it back
when every GAN key in it matches the GANs this fold would train (same settings, seeds and source
files); otherwise it trains or loads them and writes the file again.

The clips are stored exactly (float32, base64); curves longer than :data:`MAX_CURVE_POINTS` are
thinned evenly (they are only drawn). The file records the provenance of the GANs' training (or
loading) that wrote it.
"""

from __future__ import annotations

import base64
import json
import math
import time

import numpy as np
import pandas as pd

__all__ = ["GAN_KINDS", "EXAMPLE_EMOTION", "CURVES", "MAX_CURVE_POINTS", "expected_gan_keys", "fold_gan_examples"]

GAN_KINDS: tuple[str, ...] = ("wavegan", "specgan")
#: The emotion whose clip the chapter plays (the paper's Figs. 13 and 15 show a happy clip).
EXAMPLE_EMOTION = "happiness"
#: The training-curve series kept (see :meth:`~adcrnn_lib.augment.gan.WGANGP.train`).
CURVES: tuple[str, ...] = ("step", "critic_loss", "gradient_penalty")
MAX_CURVE_POINTS = 500


def _file_name(fold: int) -> str:
    return f"gan-examples-fold{fold}.json"


def expected_gan_keys(train: pd.DataFrame, *, kind: str, seed: int, profile: str) -> dict[str, str]:
    """Emotion -> cache key of the GAN a fold with generation seed ``seed`` trains, without training it."""
    from ..augment.balance import emotion_sources, gan_seed
    from ..augment.gan import GanSettings
    from ..augment.gan_clips import gan_key

    settings = GanSettings.from_profile(kind, profile)
    return {
        emotion: gan_key(settings, rows["path"].astype(str).tolist(), gan_seed(seed, emotion))
        for emotion, (rows, _) in emotion_sources(train).items()
    }


def _thin(history: dict[str, list[float]]) -> dict[str, list[float]]:
    n = len(history["step"])
    every = max(1, math.ceil(n / MAX_CURVE_POINTS))
    keep = sorted(set(range(0, n, every)) | ({n - 1} if n else set()))
    return {name: [float(history[name][i]) for i in keep] for name in CURVES}


def _encode(clip: np.ndarray) -> str:
    return base64.b64encode(np.asarray(clip, dtype="<f4").tobytes()).decode("ascii")


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").copy()


def fold_gan_examples(df: pd.DataFrame, fold, *, profile: str = "cpu", seed: int = 0, results_dir=None, progress: bool = False) -> dict:
    """One example clip per GAN kind and every GAN's training curve, for fold ``fold.k``.

    Parameters
    ----------
    df : pandas.DataFrame
        The corpus table (:func:`~adcrnn_lib.data.load_emodb`).
    fold : Fold
        A fold of the paper protocol; its training rows are what the GANs learn from.
    profile : str
    seed : int
        The run seed (the GANs use :func:`~adcrnn_lib.augment.fold_seed` of it).
    results_dir : path, optional
        Root of the run folders.
    progress : bool
        tqdm bars while GANs train (only when they are not cached).

    Returns
    -------
    dict
        ``gans``: kind -> emotion -> ``{"key", "step", "history"}`` (``history``: the
        :data:`CURVES` lists); ``examples``: kind -> ``{"emotion", "step", "clip"}`` (``clip``:
        np.ndarray [shape=(16384,)], the first clip the fold's run uses of that GAN);
        ``cached``: whether it was read back from the file.
    """
    from ..augment import fold_seed
    from ..config import ExperimentConfig
    from ..experiments.results import run_dir
    from ..provenance import provenance
    from ..storage import write_json

    train = df.iloc[fold.train]
    generation_seed = fold_seed(seed, fold.k)
    expected = {kind: expected_gan_keys(train, kind=kind, seed=generation_seed, profile=profile) for kind in GAN_KINDS}
    path = run_dir(ExperimentConfig(profile=profile, augmentation="none", seed=seed), results_dir) / _file_name(fold.k)
    record = json.loads(path.read_text()) if path.is_file() else None
    cached = record is not None and {kind: {e: g["key"] for e, g in record["gans"].get(kind, {}).items()} for kind in GAN_KINDS} == expected
    if not cached:
        started = time.perf_counter()
        record = _train_examples(train, generation_seed=generation_seed, profile=profile, progress=progress)
        record.update(fold=fold.k, provenance=provenance(profile=profile, wall_time_s=time.perf_counter() - started, seed=seed))
        write_json(path, record)
    examples = {kind: {**{k: v for k, v in ex.items() if k != "clip_f32_base64"}, "clip": _decode(ex["clip_f32_base64"])} for kind, ex in record["examples"].items()}
    return {"gans": record["gans"], "examples": examples, "cached": cached}


def _train_examples(train: pd.DataFrame, *, generation_seed: int, profile: str, progress: bool) -> dict:
    """Train (or load from the cache) the fold's GANs; their curves and one screened clip per kind."""
    from ..augment.balance import gan_models
    from ..augment.gan_clips import generate_clips

    gans: dict[str, dict] = {}
    examples: dict[str, dict] = {}
    for kind in GAN_KINDS:
        gans[kind] = {}
        models = {}
        for emotion, model, missing, emotion_seed in gan_models(train, kind=kind, seed=generation_seed, profile=profile, progress=progress):
            gans[kind][emotion] = {"key": model.key, "step": int(model.gan.step), "history": _thin(model.gan.history)}
            models[emotion] = (model, missing, emotion_seed)
        emotion = EXAMPLE_EMOTION if EXAMPLE_EMOTION in models else next(iter(models))
        model, missing, emotion_seed = models[emotion]
        clip = generate_clips(model, missing, seed=emotion_seed)[0][0]  # the cached clips the run trains on
        examples[kind] = {"emotion": emotion, "step": int(model.gan.step), "clip_f32_base64": _encode(clip)}
    return {"gans": gans, "examples": examples}
