"""A constructed GAN quality record: what the grid's fold-0 quality report writes, with chosen shares."""

from __future__ import annotations

from adcrnn_lib.augment.balance import AUGMENTED_EMOTIONS
from adcrnn_lib.experiments.quality import quality_report_path
from adcrnn_lib.storage import write_json

__all__ = ["write_quality_record"]


def write_quality_record(profile: str, *, seed: int = 0, shares: dict[str, float] | None = None, steps: int = 20, results_dir=None):
    """Write fold 0's quality report of ``profile`` and ``seed``: every augmented emotion's GAN of each kind with intended share ``shares[kind]``."""
    shares = shares or {"wavegan": 0.0, "specgan": 0.0}
    rows = [
        {"GAN": kind, "emotion": emotion, "steps": steps, "intended_share": share, "inception_score": 1.0}
        for kind, share in shares.items()
        for emotion in AUGMENTED_EMOTIONS
    ]
    path = quality_report_path(profile, seed=seed, results_dir=results_dir)
    write_json(path, rows)
    return path
