"""Named compute profiles: ``smoke`` (tests), ``cpu`` (the default, the whole book on 2 cores) and
``paper`` (the paper's hyperparameters exactly).

A profile changes sizes, epoch and step counts, never the method: every profile builds the same
layers, losses and folds. All such numbers live here and nowhere else.

How each ``cpu`` setting was chosen is measured, and glued, in the book's training-budget chapter
(the study of :data:`~adcrnn_lib.experiments.grid.STUDY_LEVERS`) and, for the GANs, in the augmentation
chapter (the GAN quality report and budget ladder). The dated record of those measurements, as
they were made, is in ``CHANGELOG.md`` ("How the cpu profile was chosen").

"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

from .exceptions import ParameterError

__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile", "LR_SCHEDULES", "SELECTIONS", "LEVEL_NORMS", "VALIDATIONS", "OVERRIDABLE", "LEGACY_TRAINING"]

#: Learning-rate schedules of :attr:`Profile.lr_schedule`.
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: Model-selection rules of :attr:`Profile.selection`.
SELECTIONS: tuple[str, ...] = ("best", "last", "average")
#: How the recording level is taken out of the features (:attr:`Profile.level_norm`,
#: :class:`~adcrnn_lib.features.Normalizer`).
LEVEL_NORMS: tuple[str, ...] = ("none", "utterance", "gain")
#: What a fold does with its validation part (:attr:`Profile.validation`).
VALIDATIONS: tuple[str, ...] = ("held_out", "trained")
#: Training settings a run may override (``ExperimentConfig.overrides``): sizes and the optimizer,
#: never the folds (``n_splits``), the loss weights or the GANs.
OVERRIDABLE: tuple[str, ...] = (
    "conv_filters",
    "dilated_filters",
    "linear_units",
    "lstm_units",
    "learning_rate",
    "batch_size",
    "epochs",
    "patience",
    "bn_momentum",
    "lr_schedule",
    "warmup_epochs",
    "selection",
    "average_last",
    "weight_decay",
    "segment_frames",
    "segment_hop",
    "level_norm",
    "validation",
)
#: Settings added after the first results, at the values every earlier run trained with. A
#: configuration's hash leaves them out while they have these values, so earlier runs keep their keys.
LEGACY_TRAINING: dict[str, object] = {
    "bn_momentum": 0.99,
    "lr_schedule": "constant",
    "warmup_epochs": 0,
    "selection": "best",
    "average_last": 5,
    "weight_decay": 0.0,
    "segment_frames": 300,
    "segment_hop": 300,
    "level_norm": "none",
    "validation": "held_out",
}


@dataclass(frozen=True)
class Profile:
    """The sizes and step counts of one compute budget.

    Attributes
    ----------
    name : str
        ``"smoke"``, ``"cpu"`` or ``"paper"``.
    description : str
        What the profile is for, shown in the book's provenance.
    conv_filters, dilated_filters : int
        Channels of the first convolution (paper: 128) and of the dilated ones (256).
    linear_units : int
        Width of the linear layer before the BiLSTMs (512).
    lstm_units : int
        LSTM units per direction (256, so 512 concatenated).
    embedding_units : int
        Width of the FC layer the center loss acts on (64).
    dropout : float
        Dropout after the FC layer (0.5).
    learning_rate : float
        Adam's learning rate (1e-4).
    batch_size : int
        Mini-batch size (16).
    epochs : int
        Most epochs per fold; the best epoch on the validation split is kept.
    patience : int
        Stop a fold after this many epochs without a better validation UA.
    n_splits : int
        Folds of the paper's protocol (5).
    mixed_precision : bool
        Mixed bfloat16 compute, float32 variables, logits and losses.
    epsilon : float
        Weight of the center term in Lf1, Lf3, Lf4 (eq. 8; not given in the paper).
    center_alpha : float
        Rate of the center update (Wen et al. 2016 use 0.5).
    gan_size : int
        Model size D of WaveGAN and SpecGAN (Tables II and III: 64).
    gan_batch_size : int
        GAN mini-batch (64).
    wavegan_steps, specgan_steps : int
        Generator updates per GAN (90,000 and 35,000 in the paper); each takes
        ``gan_critic_steps`` critic updates.
    gan_critic_steps : int
        Critic updates per generator update (WGAN-GP: 5).
    gan_checkpoint_every : int
        Generator steps between checkpoints; a killed GAN training resumes from the last one.
    bn_momentum : float
        Momentum of the moving statistics of the batch norm after the linear layer (paper: not
        given; Keras's default 0.99).
    lr_schedule : {"constant", "cosine"}
        Adam's step over training: constant, or a linear warm-up over ``warmup_epochs`` then a
        cosine decay to zero at the last epoch (paper: not given; constant).
    warmup_epochs : int
        Epochs of linear warm-up (``"cosine"`` only).
    selection : {"best", "last", "average"}
        Which weights a fold keeps: those of the best validation epoch (the earliest on ties;
        training stops after ``patience`` epochs without a better one), those of the last epoch,
        or the mean of the weights of the last ``average_last`` epochs (paper: not given; best).
    average_last : int
        Epochs averaged by ``selection="average"``.
    weight_decay : float
        Decoupled weight decay (AdamW) per step, relative to the learning rate; 0 is plain Adam
        (paper: not given; 0).
    segment_frames : int
        Frames per model input segment (paper: not given; ACRNN's 300, 3 s).
    segment_hop : int
        Largest step between the starts of an utterance's segments, at most ``segment_frames``
        (300: segments just cover the utterance, as ACRNN; half the length: they overlap by half).
    level_norm : {"none", "utterance", "gain"}
        How the recording level is taken out of the features (the paper leaves it open):
        ``"none"``; ``"utterance"``: each utterance's static log-Mel channel loses its own mean
        per band (its long-term spectrum too) before the training fold's z-scoring; ``"gain"``:
        it loses one number, its mean over frames and bands, so the spectrum's shape stays. A
        gain then changes nothing (:class:`~adcrnn_lib.features.Normalizer`).
    validation : {"held_out", "trained"}
        What a fold does with its validation part (an eighth of its training utterances):
        ``"held_out"`` keeps it out of training, to choose the epoch and draw learning curves;
        ``"trained"`` trains on it too (its scores after each epoch are then of seen utterances
        and are only logged), allowed only with a ``selection`` that reads no validation score
        (``"last"``, ``"average"``).
    """

    name: str
    description: str
    conv_filters: int = 128
    dilated_filters: int = 256
    linear_units: int = 512
    lstm_units: int = 256
    embedding_units: int = 64
    dropout: float = 0.5
    learning_rate: float = 1e-4
    batch_size: int = 16
    epochs: int = 100
    patience: int = 20
    n_splits: int = 5
    mixed_precision: bool = False
    epsilon: float = 0.1
    center_alpha: float = 0.5
    gan_size: int = 64
    gan_batch_size: int = 64
    wavegan_steps: int = 90_000
    specgan_steps: int = 35_000
    gan_critic_steps: int = 5
    gan_checkpoint_every: int = 1_000
    bn_momentum: float = 0.99
    lr_schedule: str = "constant"
    warmup_epochs: int = 0
    selection: str = "best"
    average_last: int = 5
    weight_decay: float = 0.0
    segment_frames: int = 300
    segment_hop: int = 300
    level_norm: str = "none"
    validation: str = "held_out"

    def __post_init__(self) -> None:
        if self.level_norm not in LEVEL_NORMS:
            raise ParameterError(f"level_norm={self.level_norm!r}; allowed: {', '.join(LEVEL_NORMS)}")
        if self.validation not in VALIDATIONS:
            raise ParameterError(f"validation={self.validation!r}; allowed: {', '.join(VALIDATIONS)}")
        if self.validation == "trained" and self.selection == "best":
            raise ParameterError("validation='trained' with selection='best' would choose the epoch on utterances it trained on; use selection='last' or 'average'")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ParameterError(f"lr_schedule={self.lr_schedule!r}; allowed: {', '.join(LR_SCHEDULES)}")
        if self.selection not in SELECTIONS:
            raise ParameterError(f"selection={self.selection!r}; allowed: {', '.join(SELECTIONS)}")
        if isinstance(self.bn_momentum, bool) or not isinstance(self.bn_momentum, (int, float)) or not 0.0 <= self.bn_momentum < 1.0:
            raise ParameterError(f"bn_momentum={self.bn_momentum!r}; must be a number in [0, 1)")
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) or not 0.0 <= self.weight_decay < 1.0:
            raise ParameterError(f"weight_decay={self.weight_decay!r}; must be a number in [0, 1)")
        for name in ("epochs", "patience", "batch_size", "average_last", "segment_frames", "segment_hop"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name}={value!r}; must be an integer >= 1")
        if isinstance(self.warmup_epochs, bool) or not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.epochs:
            raise ParameterError(f"warmup_epochs={self.warmup_epochs!r}; must be an integer in [0, epochs={self.epochs})")
        if self.segment_hop > self.segment_frames:
            raise ParameterError(f"segment_hop={self.segment_hop} is more than segment_frames={self.segment_frames}")
        if self.selection == "average" and self.average_last > self.epochs:
            raise ParameterError(f"average_last={self.average_last} is more than epochs={self.epochs}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ParameterError(f"learning_rate={self.learning_rate!r}; must be a number > 0")

    def to_dict(self) -> dict:
        """All fields, for provenance records."""
        return asdict(self)

    def with_overrides(self, overrides: Mapping[str, object] | Iterable[tuple[str, object]]) -> Profile:
        """This profile with some training settings replaced (validated; see :data:`OVERRIDABLE`).

        Raises
        ------
        ParameterError
            For a field that is not in :data:`OVERRIDABLE` or a value the profile refuses.
        """
        changes = dict(overrides)
        bad = sorted(set(changes) - set(OVERRIDABLE))
        if bad:
            raise ParameterError(f"cannot override {', '.join(bad)}; allowed: {', '.join(OVERRIDABLE)}")
        return replace(self, **changes) if changes else self


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke",
        "CI and tests: tiny widths, one epoch, 2 folds of the paper protocol, seconds.",
        conv_filters=4,
        dilated_filters=8,
        linear_units=16,
        lstm_units=8,
        embedding_units=8,
        epochs=1,
        patience=1,
        n_splits=2,  # CI budget: the whole book's grid in minutes; cpu and paper keep the paper's 5
        mixed_precision=False,
        gan_size=2,
        gan_batch_size=4,
        wavegan_steps=2,
        specgan_steps=2,
        gan_critic_steps=1,
        gan_checkpoint_every=1,
    ),
    "cpu": Profile(
        "cpu",
        # the description is part of every run's key (Profile.to_dict): editing it starts every cpu run anew
        "The default: the whole book on 2 CPU cores; narrower layers, fewer epochs, Adam 1e-3 and batch 32.",
        conv_filters=16,  # measured: half the earlier 32/64, 2.4x faster epochs at no measured loss (CHANGELOG.md, "How the cpu profile was chosen")
        dilated_filters=32,
        linear_units=128,
        lstm_units=64,
        embedding_units=64,
        learning_rate=1e-3,  # measured: the paper's 1e-4 does not converge in a CPU budget (CHANGELOG.md, "How the cpu profile was chosen")
        batch_size=32,
        epochs=15,  # measured (CHANGELOG.md, "How the cpu profile was chosen"): with 1 s segments, 15 epochs score as 30 (+0.6 WA [-0.9, +2.1]) at half the cost
        patience=4,  # unused by the "average" selection; part of the run keys, so left as it was
        lr_schedule="cosine",  # measured (CHANGELOG.md, "How the cpu profile was chosen"): warm-up free cosine decay to zero over all its epochs
        selection="average",  # measured (CHANGELOG.md, "How the cpu profile was chosen"): the mean of the last 5 epochs' weights
        average_last=5,
        mixed_precision=False,  # measured: no faster in bfloat16 at these widths (CHANGELOG.md, "How the cpu profile was chosen")
        bn_momentum=0.9,  # measured: 0.99 left validation at chance for epochs, and one fold stopped there (CHANGELOG.md, "How the cpu profile was chosen")
        segment_frames=100,  # measured with the recipe above (CHANGELOG.md, "How the cpu profile was chosen"): 1 s segments, +2.7 WA points over 3 s
        segment_hop=100,  # measured (CHANGELOG.md, "How the cpu profile was chosen"): not overlapping, 0.61x the fold time of half overlap, -1.4 WA [-3.6, +0.7]
        gan_size=8,  # measured: D=64 takes about 45 s per generator step on 2 cores (CHANGELOG.md, "How the cpu profile was chosen")
        gan_batch_size=32,
        wavegan_steps=20,
        specgan_steps=20,
        gan_checkpoint_every=5,
    ),
    "paper": Profile(
        "paper",
        "The paper's hyperparameters exactly: Adam 1e-4, batch 16, dropout 0.5, 5 folds (GPU-days).",
        mixed_precision=True,
    ),
}
DEFAULT_PROFILE = "cpu"


def get_profile(name: str | Profile) -> Profile:
    """Return the profile called ``name``; a :class:`ParameterError` lists the allowed names."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ParameterError(f"profile={name!r}; allowed: {', '.join(PROFILES)}") from None
