"""The one frozen, validated description of an experiment, and its stable hash."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from .augment import AUGMENTATIONS
from .exceptions import ParameterError
from .features import PARAMS
from .losses import LOSSES
from .profiles import PROFILES, get_profile

__all__ = ["ExperimentConfig", "PROTOCOLS", "AUGMENTATIONS", "RESULTS_VERSION", "check_choice", "check_seed"]

PROTOCOLS: tuple[str, ...] = ("paper", "loso")
#: Augmentations that train GANs; only their runs are keyed by the profile's GAN settings.
GAN_AUGMENTATIONS: tuple[str, ...] = ("wavegan", "specgan")
GAN_FIELD_PREFIXES: tuple[str, ...] = ("gan_", "wavegan_", "specgan_")
#: Bumped when the training or evaluation code changes results in a way the configuration does not show.
RESULTS_VERSION = 1


def check_choice(name: str, value: object, allowed) -> None:
    """Raise a ParameterError listing ``allowed`` unless ``value`` is one of them."""
    if value not in allowed:
        raise ParameterError(f"{name}={value!r}; allowed: {', '.join(map(str, allowed))}")


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
    data_dir : str, optional
        Where the corpus is; not part of the hash (the corpus is verified by checksum).
    """

    profile: str = "cpu"
    protocol: str = "paper"
    augmentation: str = "none"
    loss: str = "lf1"
    attention: bool = True
    seed: int = 0
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_choice("profile", self.profile, tuple(PROFILES))
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_choice("augmentation", self.augmentation, AUGMENTATIONS)
        check_choice("loss", self.loss, tuple(LOSSES))
        if not isinstance(self.attention, bool):
            raise ParameterError(f"attention={self.attention!r}; allowed: True, False")
        check_seed(self.seed)
        if self.data_dir is not None and not isinstance(self.data_dir, str):
            raise ParameterError(f"data_dir={self.data_dir!r}; must be a string path or None")

    def to_dict(self) -> dict:
        """The fields, for JSON."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Stable 16-hex-digit hash of everything that shapes the results.

        It covers the fields (except ``data_dir``), every number of the profile, the feature
        parameters and :data:`RESULTS_VERSION`, so changing any of them starts a new run folder.
        """
        settings = get_profile(self.profile).to_dict()
        if self.augmentation not in GAN_AUGMENTATIONS:  # GAN sizes do not shape runs without a GAN
            settings = {k: v for k, v in settings.items() if not k.startswith(GAN_FIELD_PREFIXES)}
        payload = {
            **{k: v for k, v in self.to_dict().items() if k != "data_dir"},
            "profile_settings": settings,
            "features": PARAMS.key(),
            "version": RESULTS_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
