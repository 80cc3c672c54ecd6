"""Named compute profiles: ``smoke`` (tests), ``cpu`` (the default, the whole book on 2 cores) and
``paper`` (the paper's hyperparameters exactly).

A profile changes sizes, epoch and step counts, never the method. This module holds every such
number in one place; later chapters (model, training, GANs) add their fields here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exceptions import ParameterError

__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """The sizes and step counts of one compute budget.

    Attributes
    ----------
    name : str
        ``"smoke"``, ``"cpu"`` or ``"paper"``.
    description : str
        What the profile is for, shown in the book's provenance.
    """

    name: str
    description: str


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "CI and tests: tiny sizes, one epoch, seconds to minutes."),
    "cpu": Profile("cpu", "The default: the whole book on 2 CPU cores."),
    "paper": Profile("paper", "The paper's hyperparameters exactly (GPU-days)."),
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
