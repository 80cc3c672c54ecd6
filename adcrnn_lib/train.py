"""Training one model: segments in, the best-on-validation model out.

Model selection uses the validation utterances only (never the test fold): after every epoch the
validation segments are predicted, their logits averaged per utterance, and the unweighted accuracy
(UA) computed. The profile's ``selection`` rule then decides which weights a fold keeps: by default
those of the best epoch (the earliest, on ties), training stopping after ``profile.patience``
epochs without improvement; or those of the last epoch; or the mean of the last epochs' weights. A NaN or infinite loss stops training with
a :class:`~adcrnn_lib.exceptions.TrainingError`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from .exceptions import ParameterError, TrainingError
from .features import SEGMENT_FRAMES, Normalizer, segment_corpus
from .losses import attach_loss
from .metrics import pool_logits, scores
from .models import build_adcrnn, seed_keras
from .profiles import Profile, get_profile

__all__ = [
    "SegmentData",
    "make_segment_data",
    "TrainedModel",
    "compile_for_training",
    "train_model",
    "training_rows",
    "train_split",
    "predict_utterances",
    "set_determinism",
    "learning_rate",
    "make_optimizer",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentData:
    """Model-ready segments of a list of utterances.

    Attributes
    ----------
    x : np.ndarray [shape=(n_segments, frames, bands, 3), dtype=float32]
    y : np.ndarray [shape=(n_segments,), int]
        Class of each segment (its utterance's).
    utterance : np.ndarray [shape=(n_segments,), int]
        Position of each segment's utterance in the list.
    labels : np.ndarray [shape=(n_utterances,), int]
        Class of each utterance.
    """

    x: np.ndarray
    y: np.ndarray
    utterance: np.ndarray
    labels: np.ndarray

    @property
    def n_utterances(self) -> int:
        return len(self.labels)


def make_segment_data(
    features: Sequence[np.ndarray], labels: Sequence[int], normalizer: Normalizer, *, length: int = SEGMENT_FRAMES, hop: int | None = None
) -> SegmentData:
    """Normalize each utterance's features, cut them into segments of ``length`` frames (starts at
    most ``hop`` apart; see :func:`~adcrnn_lib.features.segment`), and label the segments."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(features) != len(labels):
        raise ParameterError(f"{len(features)} feature arrays but {len(labels)} labels")
    segs = segment_corpus([normalizer.transform(f) for f in features], length=length, hop=hop)
    return SegmentData(segs.x, labels[segs.utterance], segs.utterance, labels)


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and the backend (:func:`~adcrnn_lib.models.seed_keras`); on TensorFlow
    also ask for deterministic kernels."""
    seed_keras(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def predict_utterances(model: keras.Model, data: SegmentData, *, batch_size: int = 64) -> np.ndarray:
    """Utterance logits: the model's segment logits averaged per utterance, shape (n_utterances, n_classes)."""
    logits = []
    for start in range(0, len(data.x), batch_size):
        # predict_on_batch runs the compiled predict function: ~40x faster than an eager call
        out = model.predict_on_batch(data.x[start : start + batch_size])
        logits.append(np.asarray(out[0] if isinstance(out, (list, tuple)) else out))
    return pool_logits(np.concatenate(logits).astype(np.float64), data.utterance, data.n_utterances)


@dataclass
class TrainedModel:
    """A trained model and how it got there.

    Attributes
    ----------
    model : keras.Model
        Outputs ``[logits, embedding]``, holding the weights of ``best_epoch``.
    best_epoch : int
        1-based epoch whose weights were kept.
    best_val : dict
        Validation WA, UA and macro-F1 of that epoch.
    history : dict
        Per epoch: ``loss`` (training), ``val_wa``, ``val_ua``.
    n_train_segments : int
        Segments it was trained on.
    """

    model: keras.Model
    best_epoch: int
    best_val: dict[str, float]
    history: dict[str, list[float]] = field(default_factory=dict)
    n_train_segments: int = 0


class _Select(keras.callbacks.Callback):
    """Score validation UA after every epoch and keep the weights the profile's selection rule asks for.

    ``"best"``: the weights of the epoch with the highest validation UA (the earliest on ties),
    stopping after ``patience`` epochs without a better one. ``"last"``: every epoch runs and the
    final weights are kept. ``"average"``: every epoch runs and the kept weights are the mean of
    those after each of the last ``average_last`` epochs (batch-norm statistics included).
    A NaN or infinite loss stops training with a :class:`TrainingError`. With ``watch``, the WA
    and UA of another set are recorded after every epoch too (``watch_wa``, ``watch_ua``); they
    choose nothing.
    """

    def __init__(
        self,
        base: keras.Model,
        val: SegmentData,
        num_classes: int,
        patience: int,
        bar=None,
        *,
        selection: str = "best",
        epochs: int = 1,
        average_last: int = 1,
        watch: SegmentData | None = None,
    ) -> None:
        super().__init__()
        self.base, self.val, self.num_classes, self.patience, self.bar = base, val, num_classes, patience, bar
        self.selection, self.epochs, self.average_last, self.watch = selection, epochs, average_last, watch
        self.history: dict[str, list[float]] = {"loss": [], "val_wa": [], "val_ua": [], **({"watch_wa": [], "watch_ua": []} if watch is not None else {})}
        self.best_epoch, self.best_val, self.best_weights = 0, {"ua": -1.0}, None
        self._sum: list[np.ndarray] | None = None
        self._n_summed = 0

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingError(f"loss became {float(loss)} at batch {batch + 1} of epoch {len(self.history['loss']) + 1}; stopping this fold")

    def score(self, data: SegmentData | None = None) -> dict[str, float]:
        """WA, UA and macro-F1 of the base model's current weights on ``data`` (default: the validation set)."""
        data = self.val if data is None else data
        logits = predict_utterances(self.base, data)
        return scores(data.labels, logits.argmax(axis=1), self.num_classes)

    def on_epoch_end(self, epoch, logs=None):
        loss = float((logs or {}).get("loss", float("nan")))
        if not math.isfinite(loss):
            raise TrainingError(f"loss became {loss} in epoch {epoch + 1}; stopping this fold")
        val = self.score()
        self.history["loss"].append(loss)
        self.history["val_wa"].append(val["wa"])
        self.history["val_ua"].append(val["ua"])
        if self.watch is not None:
            watched = self.score(self.watch)
            self.history["watch_wa"].append(watched["wa"])
            self.history["watch_ua"].append(watched["ua"])
        if self.selection == "best":
            if val["ua"] > self.best_val["ua"]:
                self.best_epoch, self.best_val = epoch + 1, val
                self.best_weights = self.base.get_weights()
            elif epoch + 1 - self.best_epoch >= self.patience:
                self.model.stop_training = True
        else:
            self.best_epoch, self.best_val = epoch + 1, val
            if self.selection == "last":
                self.best_weights = None  # the model's own weights at the end
            elif epoch + 1 > self.epochs - self.average_last:
                weights = [np.asarray(w, dtype=np.float64) for w in self.base.get_weights()]
                self._sum = weights if self._sum is None else [a + b for a, b in zip(self._sum, weights)]
                self._n_summed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.3f}", val_ua=f"{val['ua']:.3f}", best=self.best_epoch)

    def finish(self) -> None:
        """Put the kept weights into the base model (and, for ``"average"``, score them)."""
        if not self.history["loss"]:  # pragma: no cover - at least one epoch always runs
            raise TrainingError("no epoch finished")
        if self.selection == "average":
            originals = self.base.get_weights()
            self.base.set_weights([(total / self._n_summed).astype(w.dtype) for total, w in zip(self._sum, originals)])
            self.best_val = self.score()
        elif self.best_weights is not None:
            self.base.set_weights(self.best_weights)


def learning_rate(prof: Profile, steps_per_epoch: int):
    """Adam's step for ``prof``: a float (``"constant"``) or a Keras schedule (``"cosine"``:
    linear warm-up over ``warmup_epochs``, then cosine decay to zero at the last step)."""
    if prof.lr_schedule == "constant":
        return prof.learning_rate
    warm = prof.warmup_epochs * steps_per_epoch
    total = prof.epochs * steps_per_epoch
    if warm == 0:
        return keras.optimizers.schedules.CosineDecay(prof.learning_rate, decay_steps=total)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warm, warmup_target=prof.learning_rate, warmup_steps=warm)


def make_optimizer(prof: Profile, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Adam (AdamW when ``prof.weight_decay > 0``) with the profile's learning-rate schedule."""
    lr = learning_rate(prof, steps_per_epoch)
    if prof.weight_decay > 0:
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=prof.weight_decay)
    return keras.optimizers.Adam(learning_rate=lr)


def compile_for_training(model: keras.Model, optimizer: keras.optimizers.Optimizer, loss) -> keras.Model:
    """``model.compile(optimizer, loss)``, with the optimizer's slot variables created now.

    Keras's TensorFlow trainer otherwise creates them inside the first trace of the training step,
    and TensorFlow then traces the step a second time. Built here, the step is traced once: the
    same arithmetic (predictions checked bit for bit against the two-trace runs), about 3 s less
    per smoke fold and 4 s per ``cpu`` fold on the project machine. Returns ``model``.
    """
    model.compile(optimizer=optimizer, loss=loss)
    model.optimizer.build(model.trainable_variables)
    return model


def train_model(
    train: SegmentData,
    val: SegmentData,
    *,
    profile: str | Profile = "cpu",
    loss: str = "lf1",
    attention: bool = True,
    seed: int = 0,
    num_classes: int = 7,
    progress: bool = True,
    description: str = "epochs",
    watch: SegmentData | None = None,
) -> TrainedModel:
    """Train ADCRNN on ``train`` and select the epoch on ``val``.

    Parameters
    ----------
    train, val : SegmentData
        Normalized segments; ``val`` is only used for model selection.
    watch : SegmentData, optional
        Scored after every epoch into the history (``watch_wa``, ``watch_ua``), choosing nothing.
    profile : str or Profile
        Widths, optimizer settings (step, schedule, weight decay), epochs, patience and the
        selection rule (see :class:`~adcrnn_lib.profiles.Profile`).
    loss : {"lf1", "lf2", "lf3", "lf4"}
    attention : bool
    seed : int
        Seeds weights, shuffling and dropout.
    num_classes : int
    progress : bool
        A tqdm bar over epochs.
    description : str
        The bar's label.

    Returns
    -------
    TrainedModel
    """
    from tqdm.auto import tqdm

    prof = get_profile(profile)
    if len(train.x) == 0 or len(val.x) == 0:
        raise ParameterError("train_model needs training and validation segments")
    set_determinism(seed)
    base = build_adcrnn(train.x.shape[1:], num_classes, profile=prof, attention=attention)
    trainer = attach_loss(base, loss, epsilon=prof.epsilon, alpha=prof.center_alpha)
    compile_for_training(trainer, make_optimizer(prof, math.ceil(len(train.x) / prof.batch_size)), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with tqdm(total=prof.epochs, desc=description, unit="epoch", disable=not progress, leave=False) as bar:
        select = _Select(base, val, num_classes, prof.patience, bar, selection=prof.selection, epochs=prof.epochs, average_last=prof.average_last, watch=watch)
        trainer.fit(
            [train.x, train.y],
            train.y,
            batch_size=prof.batch_size,
            epochs=prof.epochs,
            shuffle=True,
            callbacks=[select],
            verbose=0,
        )
    select.finish()
    return TrainedModel(base, select.best_epoch, select.best_val, select.history, int(len(train.x)))


def speaker_normalize(df, features: Sequence[np.ndarray]) -> tuple[list[np.ndarray], dict[str, Normalizer]]:
    """Every row's features standardized with its speaker's statistics, and those normalizers.

    See :func:`~adcrnn_lib.features.speaker_normalizers`: no labels are used, but a test speaker's
    unlabeled utterances are.
    """
    from .features import speaker_normalizers

    speakers = df["speaker"].astype(str).to_numpy()
    norms = speaker_normalizers(features, speakers)
    return [norms[s].transform(f) for f, s in zip(features, speakers)], norms


def training_rows(train: np.ndarray, val: np.ndarray, prof: Profile) -> np.ndarray:
    """The rows a split trains on: ``train``, and ``val`` too where the profile trains on its
    validation part (:attr:`~adcrnn_lib.profiles.Profile.validation`)."""
    return np.concatenate([train, val]) if prof.validation == "trained" else np.asarray(train)


def train_split(
    config,
    df,
    features: Sequence[np.ndarray],
    train: np.ndarray,
    val: np.ndarray,
    *,
    fold: int,
    seed: int,
    check: Callable[[list], None] | None = None,
    progress: bool = True,
    description: str = "epochs",
    speaker_norms: dict[str, Normalizer] | None = None,
) -> tuple[TrainedModel, Normalizer, list]:
    """Augment, normalize, segment and train on one training/validation split of the corpus.

    Parameters
    ----------
    config : ExperimentConfig
        Profile, augmentation, loss and attention.
    df : pandas.DataFrame
        The corpus table.
    features : sequence of np.ndarray
        Features of every row of ``df``.
    train, val : np.ndarray
        Row positions (:func:`training_rows`: with ``validation="trained"`` the model trains on both).
    fold : int
        Passed to the augmentation hook (``-1`` for a final model).
    seed : int
        Seeds the augmentation and the training.
    check : callable, optional
        Called with the generated clips before anything is trained (the leakage guard).
    progress : bool
    description : str
        The progress bar's label.
    speaker_norms : dict, optional
        Per-speaker normalizers (``config.speaker_norm``): ``features`` are then already
        speaker-normalized, and each generated clip is normalized with its source's speaker.

    Returns
    -------
    trained : TrainedModel
    normalizer : Normalizer
        Fitted on the training utterances and the generated clips.
    clips : list of GeneratedClip
    """
    from .augment import augment_training_set
    from .data import EMOTIONS
    from .features import log_mel_3d

    labels = df["emotion"].cat.codes.to_numpy().astype(np.int64)
    prof = config.settings()
    train = training_rows(train, val, prof)
    clips = augment_training_set(config.augmentation, df.iloc[train], seed=config.seed, fold=fold, profile=config.profile, progress=progress)
    if check is not None:
        check(clips)
    clip_feats = [log_mel_3d(c.audio) for c in clips]
    if speaker_norms is not None:
        speaker_of = dict(zip(df["utterance"].astype(str), df["speaker"].astype(str)))
        clip_feats = [speaker_norms[speaker_of[c.sources[0]]].transform(f) for c, f in zip(clips, clip_feats)]
    train_feats = [features[i] for i in train] + clip_feats
    train_labels = np.concatenate([labels[train], [EMOTIONS.index(c.emotion) for c in clips]]).astype(np.int64)
    normalizer = Normalizer.fit(train_feats, level=prof.level_norm)
    cut = {"length": prof.segment_frames, "hop": prof.segment_hop}
    trained = train_model(
        make_segment_data(train_feats, train_labels, normalizer, **cut),
        make_segment_data([features[i] for i in val], labels[val], normalizer, **cut),
        profile=prof,
        loss=config.loss,
        attention=config.attention,
        seed=seed,
        num_classes=len(EMOTIONS),
        progress=progress,
        description=description,
    )
    return trained, normalizer, clips
