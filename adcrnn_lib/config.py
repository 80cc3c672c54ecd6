"""The one frozen, validated description of an experiment, and its stable hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from .augment import AUGMENTATIONS
from .exceptions import ParameterError
from .features import PARAMS
from .profiles import LEGACY_TRAINING, PROFILES, Profile, get_profile

__all__ = ["ExperimentConfig", "PROTOCOLS", "AUGMENTATIONS", "LOSSES", "RESULTS_VERSION", "check_choice", "check_seed", "check_notebook_parameters"]

#: Loss name -> (the output the center term acts on, the kind of center term); None for lf2 (softmax
#: alone). :mod:`adcrnn_lib.losses` builds them; the names live here, free of Keras.
LOSSES: dict[str, tuple[str, str] | None] = {
    "lf1": ("embedding", "center"),
    "lf2": None,
    "lf3": ("logits", "center"),
    "lf4": ("embedding", "contrastive"),
}

PROTOCOLS: tuple[str, ...] = ("paper", "loso")
#: Augmentations that train GANs; only their runs are keyed by the profile's GAN settings.
GAN_AUGMENTATIONS: tuple[str, ...] = ("wavegan", "specgan")
GAN_FIELD_PREFIXES: tuple[str, ...] = ("gan_", "wavegan_", "specgan_")
#: Bumped when the training or evaluation code changes results in a way the configuration does not show.
#: 2: TensorFlow's grappler remapper is off (:func:`~adcrnn_lib.models.disable_tf_remapper`); with
#: it, compiled training and prediction steps computed LeakyReLU with slope 0.2 instead of 0.01 in
#: some traces and not in others, so every run of version 1 trained and was scored inconsistently.
RESULTS_VERSION = 2


def check_choice(name: str, value: object, allowed) -> None:
    """Raise a ParameterError listing ``allowed`` unless ``value`` is one of them."""
    if value not in allowed:
        raise ParameterError(f"{name}={value!r}; allowed: {', '.join(map(str, allowed))}")


def check_notebook_parameters(*, data_dir: object, verify_checksums: object, seed: object) -> None:
    """Raise a ParameterError naming the first of a chapter's common parameters with a wrong type or value."""
    if not isinstance(data_dir, str):
        raise ParameterError(f"data_dir={data_dir!r}; must be a string (\"\" to search the usual places)")
    if not isinstance(verify_checksums, bool):
        raise ParameterError(f"verify_checksums={verify_checksums!r}; allowed: True, False")
    check_seed(seed)


def check_seed(seed: object) -> None:
    """Raise a ParameterError unless ``seed`` is an integer >= 0 (not a bool)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed={seed!r}; must be an integer >= 0")


@dataclass(frozen=True)
class ExperimentConfig:
    """What one cross-validated experiment is.

    Attributes
    ----------
    profile : {"smoke", "cpu", "paper"}
    protocol : {"paper", "loso"}
        The paper's stratified random 5 folds, or leave one speaker out.
    augmentation : str
        Training-set augmentation, one of :data:`AUGMENTATIONS`.
    loss : {"lf1", "lf2", "lf3", "lf4"}
    attention : bool
    seed : int
    speaker_norm : bool
        Standardize each utterance's features with its speaker's statistics (all of that
        speaker's utterances, no labels) before the training-fold normalization. Beyond the
        paper, off by default; it uses the test speaker's unlabeled audio, and a generated clip
        takes the statistics of its source's speaker (so it is not offered with the GANs, whose
        clips have many sources).
    data_dir : str, optional
        Where the corpus is; not part of the hash (the corpus is verified by checksum).
    overrides : tuple of (str, object) pairs
        Training settings of the profile replaced for this run (the training-budget study:
        epochs, schedule, selection rule, widths; see :data:`~adcrnn_lib.profiles.OVERRIDABLE`).
        A dict is accepted and stored as sorted pairs. Empty by default.
    """

    profile: str = "cpu"
    protocol: str = "paper"
    augmentation: str = "none"
    loss: str = "lf1"
    attention: bool = True
    seed: int = 0
    speaker_norm: bool = False
    data_dir: str | None = None
    overrides: tuple[tuple[str, object], ...] = ()

    def __post_init__(self) -> None:
        check_choice("profile", self.profile, tuple(PROFILES))
        if isinstance(self.overrides, dict):
            object.__setattr__(self, "overrides", tuple(sorted(self.overrides.items())))
        elif isinstance(self.overrides, (list, tuple)):
            try:
                pairs = tuple(sorted((str(k), v) for k, v in self.overrides))
            except (TypeError, ValueError):
                raise ParameterError(f"overrides={self.overrides!r}; expected a dict or (name, value) pairs") from None
            object.__setattr__(self, "overrides", pairs)
        else:
            raise ParameterError(f"overrides={self.overrides!r}; expected a dict or (name, value) pairs")
        self.settings()  # validates the overridden names and values
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_choice("augmentation", self.augmentation, AUGMENTATIONS)
        check_choice("loss", self.loss, tuple(LOSSES))
        if not isinstance(self.attention, bool):
            raise ParameterError(f"attention={self.attention!r}; allowed: True, False")
        check_seed(self.seed)
        if not isinstance(self.speaker_norm, bool):
            raise ParameterError(f"speaker_norm={self.speaker_norm!r}; allowed: True, False")
        if self.speaker_norm and self.augmentation in GAN_AUGMENTATIONS:
            raise ParameterError(f"speaker_norm=True with augmentation={self.augmentation!r}: a GAN clip has many source speakers; use none, time_shift or pitch_shift")
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ParameterError(f"data_dir={self.data_dir!r}; must be a string path or None")

    @property
    def results_group(self) -> str:
        """The folder under the results root that holds this run (its profile)."""
        return self.profile

    def settings(self) -> Profile:
        """The profile this run trains with: :attr:`profile` with :attr:`overrides` applied."""
        return get_profile(self.profile).with_overrides(self.overrides)

    def to_dict(self) -> dict:
        """The fields, for JSON (``overrides`` as a dict)."""
        d = dataclasses.asdict(self)
        d["overrides"] = dict(self.overrides)
        return d

    def key(self) -> str:
        """Stable 16-hex-digit hash of everything that shapes the results.

        It covers the fields (except ``data_dir``), every number of the profile as overridden, the
        feature parameters and :data:`RESULTS_VERSION`, so changing any of them starts a new run
        folder. Training settings still at their :data:`~adcrnn_lib.profiles.LEGACY_TRAINING`
        values are left out, and so is an empty ``overrides``, so runs from before those options
        keep their keys.
        """
        settings = self.settings().to_dict()
        if self.augmentation not in GAN_AUGMENTATIONS:  # GAN sizes do not shape runs without a GAN
            settings = {k: v for k, v in settings.items() if not k.startswith(GAN_FIELD_PREFIXES)}
        settings = {k: v for k, v in settings.items() if not (k in LEGACY_TRAINING and v == LEGACY_TRAINING[k])}
        skip = {"data_dir", "overrides"} | ({"speaker_norm"} if not self.speaker_norm else set())  # runs from before the option keep their keys
        payload = {
            **{k: v for k, v in self.to_dict().items() if k not in skip},
            "profile_settings": settings,
            "features": PARAMS.key(),
            "version": RESULTS_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
