"""How good, and how new, are the GANs' clips? (Beyond the paper, which shows spectrograms only.)

For each emotion's GAN of one training fold:

* **classifier score**: the share of generated clips that an ADCRNN trained on the fold's *real*
  training utterances assigns to the intended emotion, and an inception-score-style spread,
  ``exp(mean_x KL(p(y|x) || p(y)))``, between 1 (every clip gets the same class distribution) and 7
  (every clip is confidently one class and the classes are used equally);
* **memorization**: the log-Mel distance from each generated clip to its nearest training clip,
  against the distances from each training clip to its nearest *other* training clip; a GAN that
  copies its data has generated-to-train distances far below the train-to-train ones. Both sides
  use the first 1.024 s of a clip (the GANs' length) and the static log-Mel channel. A flag says
  "listen to the pair", not "copied": featureless, quiet clips of an undertrained GAN also sit close
  to the quiet parts of training clips;
* **screening**: clips rejected as non-finite, silent or clipped
  (:func:`~adcrnn_lib.augment.gan_clips.screen_clip`), from the generation counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import EMOTIONS

__all__ = ["classifier_scores", "clip_features", "nearest_distances", "memorization", "gan_quality", "fold_quality_report", "quality_report_path", "paper_fold_quality", "gan_learning", "gan_learning_sentence"]


def classifier_scores(probs: np.ndarray, intended: str) -> dict[str, float]:
    """``{"intended_share", "inception_score"}`` of class probabilities ``(n_clips, 7)``."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(EMOTIONS) or not len(probs):
        raise ValueError(f"expected probabilities of shape (n, {len(EMOTIONS)}), got {probs.shape}")
    share = float(np.mean(probs.argmax(axis=1) == EMOTIONS.index(intended)))
    p = np.clip(probs, 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return {"intended_share": share, "inception_score": float(np.exp(kl.mean()))}


def clip_features(audios: list[np.ndarray]) -> np.ndarray:
    """Flattened static log-Mel of the first 16384 samples of each clip (zero-padded), ``(n, d)``."""
    from ..augment.wavegan import SLICE_SAMPLES
    from ..features import log_mel_3d

    rows = []
    for y in audios:
        y = np.pad(np.asarray(y, np.float32), (0, max(0, SLICE_SAMPLES - len(y))))[:SLICE_SAMPLES]
        rows.append(log_mel_3d(y)[:, :, 0].ravel())
    return np.stack(rows)


def nearest_distances(queries: np.ndarray, references: np.ndarray, *, exclude_self: bool = False) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row.

    With ``exclude_self`` the two arrays are the same set and each row's distance to itself is
    skipped (train-to-train).
    """
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(queries, references)
    if exclude_self:
        if d.shape[0] != d.shape[1] or d.shape[0] < 2:
            raise ValueError("exclude_self needs the same set of at least two rows on both sides")
        np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def memorization(generated: list[np.ndarray], training: list[np.ndarray]) -> dict[str, float]:
    """Nearest-neighbour distances of generated clips to the training clips, against train-to-train.

    Returns
    -------
    dict
        ``gen_to_train_median``, ``train_to_train_median`` (log-Mel units), their ratio, and
        ``share_closer_than_train_p5``: the share of generated clips nearer to a training clip
        than 95% of training clips are to their nearest other training clip (near-copies).
    """
    gen, train = clip_features(generated), clip_features(training)
    g = nearest_distances(gen, train)
    t = nearest_distances(train, train, exclude_self=True)
    return {
        "gen_to_train_median": float(np.median(g)),
        "train_to_train_median": float(np.median(t)),
        "ratio": float(np.median(g) / np.median(t)),
        "share_closer_than_train_p5": float(np.mean(g < np.percentile(t, 5))),
    }


def gan_quality(train: pd.DataFrame, kind: str, predict, *, seed: int, fold: int, profile: str = "cpu", progress: bool = False) -> pd.DataFrame:
    """The quality table of one fold's GANs of ``kind``, one row per augmented emotion.

    The GANs and clips are the ones :func:`~adcrnn_lib.augment.augment_training_set` makes for
    this fold and seed (loaded from the cache when that run is done, trained otherwise).

    Parameters
    ----------
    train : pandas.DataFrame
        The fold's training rows.
    kind : {"wavegan", "specgan"}
    predict : callable
        Audio -> class probabilities (7,), e.g. a
        :class:`~adcrnn_lib.predict.Predictor`'s ``predict_audio`` for an ADCRNN trained on the
        same real training rows.
    seed, fold : int
        As given to :func:`~adcrnn_lib.augment.augment_training_set`.

    Returns
    -------
    pandas.DataFrame
        Index ``emotion``; columns: clips kept, drawn, rejected per reason, the classifier
        scores and the memorization distances.
    """
    from ..augment import fold_seed
    from ..augment.balance import gan_models
    from ..augment.gan_clips import generate_clips
    from ..data import load_audio

    rows = []
    for emotion, model, missing, gan_seed in gan_models(train, kind=kind, seed=fold_seed(seed, fold), profile=profile, progress=progress):
        clips, counts = generate_clips(model, missing, seed=gan_seed)
        real = [load_audio(p) for p in train.loc[train["emotion"].astype(str) == emotion, "path"]]
        probs = np.stack([predict(y) for y in clips])
        rows.append(
            {
                "emotion": emotion,
                "steps": model.gan.step,
                "kept": counts["accepted"],
                "drawn": counts["drawn"],
                "nonfinite": counts["nonfinite"],
                "silent": counts["silent"],
                "clipped": counts["clipped"],
                **classifier_scores(probs, emotion),
                **memorization(clips, real),
            }
        )
    return pd.DataFrame(rows).set_index("emotion")


def fold_quality_report(df: pd.DataFrame, fold, *, profile: str = "cpu", seed: int = 0, results_dir=None, progress: bool = False) -> pd.DataFrame:
    """Both GANs' quality tables for one fold of the paper protocol, cached with the fold's runs.

    The classifier is an ADCRNN of ``profile`` trained without augmentation on the fold's real
    training utterances (model selection on its validation split), exactly as fold ``fold.k`` of
    the ``none`` run trains it. The table is written to that run's folder as
    ``gan-quality-fold<k>.json``, so a rebuild reads it back instead of training again.

    Returns
    -------
    pandas.DataFrame
        Index (``GAN``, ``emotion``), columns as :func:`gan_quality`.
    """
    import json

    from ..config import ExperimentConfig
    from ..features import extract_features
    from ..predict import Predictor
    from ..storage import write_json
    from ..train import train_split

    path = quality_report_path(profile, seed=seed, fold=fold.k, results_dir=results_dir)
    config = ExperimentConfig(profile=profile, augmentation="none", seed=seed)
    if path.is_file():
        rows = json.loads(path.read_text())
    else:
        feats = extract_features(df["path"].tolist(), progress=progress)
        trained, normalizer, _ = train_split(config, df, feats, fold.train, fold.val, fold=fold.k, seed=seed + fold.k, progress=progress)
        predictor = Predictor.from_training(trained.model, normalizer, config)  # the profile's segment length (cpu: 100 frames)
        train = df.iloc[fold.train]
        rows = []
        for kind in ("wavegan", "specgan"):
            table = gan_quality(train, kind, predictor.predict_audio, seed=seed, fold=fold.k, profile=profile, progress=progress)
            rows += [{"GAN": kind, **row} for row in table.reset_index().to_dict(orient="records")]
        write_json(path, rows)
    return pd.DataFrame(rows).set_index(["GAN", "emotion"])


def quality_report_path(profile: str, *, seed: int = 0, fold: int = 0, results_dir=None):
    """Where :func:`fold_quality_report` keeps fold ``fold``'s table: beside Table V's ``none`` run."""
    from ..config import ExperimentConfig
    from .results import run_dir

    return run_dir(ExperimentConfig(profile=profile, augmentation="none", seed=seed), results_dir) / f"gan-quality-fold{fold}.json"


def paper_fold_quality(profile: str = "cpu", data_dir=None, *, seed: int = 0, fold: int = 0, results_dir=None, verify: bool = True, progress: bool = False) -> pd.DataFrame:
    """:func:`fold_quality_report` for fold ``fold`` of ``profile``'s paper-protocol folds (the grid's).

    What the book's grid runs once its GAN folds are done (so the GANs are read from the cache),
    and what the augmentation chapter then reads back.
    """
    from ..config import ExperimentConfig
    from ..data import load_emodb
    from .cv import folds_of

    df = load_emodb(data_dir, verify=verify)
    folds = folds_of(ExperimentConfig(profile=profile, seed=seed), df)  # the grid's paper folds
    return fold_quality_report(df, folds[fold], profile=profile, seed=seed, results_dir=results_dir, progress=progress)


#: Chance for the intended share: one emotion in seven.
CHANCE = 1 / 7
#: The GAN kinds as the pages name them.
GAN_NAMES = {"wavegan": "WaveGAN", "specgan": "SpecGAN"}


def gan_learning(profile: str, *, seed: int = 0, fold: int = 0, results_dir=None) -> dict[str, dict] | None:
    """How well each GAN kind learned, from fold ``fold``'s stored quality report (None when there is none).

    Returns
    -------
    dict or None
        kind -> ``{"median_share"`` (the median over the augmented emotions of the share of their
        clips the real-speech classifier assigns to the intended emotion), ``"above_chance"`` (those
        emotions whose share beats :data:`CHANCE`), ``"emotions"`` (how many), ``"steps"`` (generator
        steps), ``"learned"`` (whether the median beats chance)``}``.
    """
    import json

    path = quality_report_path(profile, seed=seed, fold=fold, results_dir=results_dir)
    if not path.is_file():
        return None
    table = pd.DataFrame(json.loads(path.read_text()))
    out = {}
    for kind, rows in table.groupby("GAN", sort=False):
        median = float(rows["intended_share"].median())
        out[kind] = {
            "median_share": median,
            "above_chance": rows.loc[rows["intended_share"] > CHANCE, "emotion"].tolist(),
            "emotions": len(rows),
            "steps": int(rows["steps"].max()),
            "learned": median > CHANCE,
        }
    return out


def gan_learning_sentence(learning: dict[str, dict] | None, *, profile: str, fold: int = 0) -> str:
    """One sentence on what the GANs behind the GAN rows produced (see :func:`gan_learning`)."""
    if not learning:
        return f"No GAN quality record of the {profile} profile is here, so nothing is said of how well its GANs learned."
    parts = []
    for kind, got in learning.items():
        above = ", ".join(got["above_chance"]) or "none"
        parts.append(
            f"{GAN_NAMES.get(kind, kind)} {100 * got['median_share']:.0f} % after {got['steps']} generator steps "
            f"(emotions above chance, 1 in 7: {above})"
        )
    learned = [k for k, got in learning.items() if got["learned"]]
    verdict = (
        "so these GANs did not learn, and every row trained on their clips tests the pipeline, not GAN augmentation"
        if not learned
        else "so the GANs of " + " and ".join(GAN_NAMES.get(k, k) for k in learned) + " produced clips the judge recognizes above chance"
    )
    return (
        f"On fold {fold}, the ADCRNN trained on that fold's real speech assigns to the intended emotion a median share of the "
        f"clips of {' and '.join(parts)}, {verdict}."
    )
