"""The numbers the paper reports (Pham, Dang and Nguyen), to print beside ours, always labelled.

Nothing here is computed: these are the paper's Tables IV, V and VI as published. The paper calls
its metric "accuracy" without saying weighted or unweighted; with EmoDB's class imbalance this is
most likely the weighted accuracy (WA, the share of test utterances classified correctly), so the
book prints them in the WA column and leaves UA empty. Each is mean +- std over its 5 random folds.
"""

from __future__ import annotations

__all__ = ["PAPER_SOURCE", "PAPER_COLUMN", "TABLE_IV", "TABLE_V", "TABLE_VI", "paper_label", "paper_cell"]

PAPER_SOURCE = "Pham, Dang and Nguyen, Hybrid Data Augmentation and Deep Attention-based Dilated Convolutional-Recurrent Neural Networks for Speech Emotion Recognition"

#: Table IV (WaveGAN data): (attention, loss) -> (mean, std) accuracy in %.
TABLE_IV: dict[tuple[bool, str], tuple[float, float]] = {
    (False, "lf1"): (67.74, 5.89),  # model 1: Block 2 + Block 3 + Lf1 (no attention)
    (True, "lf2"): (84.87, 2.84),
    (True, "lf1"): (88.60, 2.98),
    (True, "lf3"): (87.57, 2.52),
    (True, "lf4"): (91.90, 0.86),
}

#: Table V (loss Lf1): augmentation -> (mean, std) accuracy in %.
TABLE_V: dict[str, tuple[float, float]] = {
    "none": (85.66, 1.85),
    "time_shift": (86.84, 2.15),
    "pitch_shift": (87.12, 0.84),
    "wavegan": (88.47, 2.76),
    "specgan": (87.32, 1.23),
}

#: Table VI: method -> accuracy in % (the first two are results the paper cites from other papers).
TABLE_VI: dict[str, float] = {
    "ACRNN, Chen et al. 2018 (cited by the paper)": 82.82,
    "ADRNN, Meng et al. 2019 (cited by the paper)": 85.39,
    "ADCRNN + WaveGAN + Lf1 (the paper)": 88.60,
    "ADCRNN + WaveGAN + Lf4 (the paper)": 91.90,
}


def paper_label(mean: float, std: float | None = None) -> str:
    """``"88.60 ± 2.98 (paper)"``: a paper number as the book prints it."""
    return f"{mean:.2f} ± {std:.2f} (paper)" if std is not None else f"{mean:.2f} (paper)"


#: The header of the paper's column in a results table: its cells need no label of their own.
PAPER_COLUMN = "the paper's accuracy (%)"


def paper_cell(mean: float, std: float | None = None) -> str:
    """``"88.6 ± 3.0"``: a paper number in a results table's :data:`PAPER_COLUMN`, one decimal like ours."""
    return f"{mean:.1f} ± {std:.1f}" if std is not None else f"{mean:.1f}"
