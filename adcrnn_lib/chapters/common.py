"""What every chapter shares: the :class:`Findings` a chapter function returns, the book's names for
Table V's rows and Table IV's models, and the cells and tables several chapters show.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["Page", "start_page", "check_flag", "AUGMENTATION_NAMES", "MODEL_NAMES", "Findings", "hda_title", "shown_path", "glue_facts", "pct", "ua_cell", "wa_cell", "paired_ua_cell", "fold_table", "fold_scores", "PROTOCOL_NAMES"]


#: Table V's rows as the book names them.
AUGMENTATION_NAMES: dict[str, str] = {
    "none": "no augmentation",
    "time_shift": "time shifting",
    "pitch_shift": "pitch shifting",
    "wavegan": "WaveGAN",
    "specgan": "SpecGAN",
}


#: Table IV's models 1-5 as the book names them: (attention, loss) -> name.
MODEL_NAMES: dict[tuple[bool, str], str] = {
    (False, "lf1"): "no attention (mean over time) + Lf1",
    (True, "lf2"): "attention + Lf2 (softmax)",
    (True, "lf1"): "attention + Lf1 (center, 64-d)",
    (True, "lf3"): "attention + Lf3 (center, logits)",
    (True, "lf4"): "attention + Lf4 (contrastive-center)",
}


@dataclass
class Findings:
    """What a results chapter shows: runs, the main table, glued facts, anything else it draws."""

    results: dict
    table: pd.DataFrame
    facts: dict[str, object]
    extra: dict = field(default_factory=dict)


def hda_title(augmentation: str) -> str:
    """The title of Table V's page for one augmentation: ``"Table V, time shifting: confusion matrix"``."""
    return f"Table V, {AUGMENTATION_NAMES[augmentation]}: confusion matrix"


def shown_path(path: str | os.PathLike | None, *, start: str | os.PathLike | None = None) -> str:
    """A path as a page may show it: relative to ``start`` (default: the working folder), never absolute.

    ``""`` or None (the corpus was searched for) gives ``"(searched)"``; a path that cannot be made
    relative (another drive) gives its last two parts.
    """
    if not path:
        return "(searched)"
    try:
        return os.path.relpath(path, start or os.getcwd())
    except ValueError:
        return os.path.join("...", *os.path.normpath(path).split(os.sep)[-2:])


def glue_facts(facts: dict[str, object]) -> None:
    """Glue every fact for the page's prose (``{glue:text}`key```), without displaying it."""
    from myst_nb import glue

    for key, value in facts.items():
        glue(key, value, display=False)


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


def ua_cell(result) -> str:
    return pct(result.summary()["ua"]["mean"])


def wa_cell(result) -> str:
    return pct(result.summary()["wa"]["mean"])


def paired_ua_cell(base, other) -> str:
    """``other - base`` in UA points, as a table's paired cell."""
    from . import report

    return report.paired_cells(base, other, name="base")["UA vs base (points)"]


# --------------------------------------------------------------------------------------------
# Chapters 1 and 2: the corpus and the augmenters
# --------------------------------------------------------------------------------------------
def fold_table(df: pd.DataFrame, folds) -> pd.DataFrame:
    """One row per fold: train / validation / test sizes, test speakers, test utterances per emotion."""
    from ..data import EMOTION_ABBREVIATIONS, EMOTIONS

    rows = []
    for f in folds:
        test = df.iloc[f.test]
        speakers = ", ".join(sorted(test["speaker"].unique())) if test["speaker"].nunique() <= 2 else "all"
        counts = {a: int((test["emotion"] == e).sum()) for a, e in zip(EMOTION_ABBREVIATIONS, EMOTIONS)}
        rows.append({"fold": f.k, "train": len(f.train), "validation": len(f.val), "test": len(f.test), "test speakers": speakers, **counts})
    return pd.DataFrame(rows).set_index("fold")


def fold_scores(result) -> pd.DataFrame:
    """One row per fold: test utterances, WA, UA and macro-F1 in % (one decimal), best epoch, wall time.

    A result pooled over seeds (:func:`~adcrnn_lib.experiments.cv.pool_seeds`) gets one row per seed and
    fold, indexed ``(seed, fold)``.
    """
    t = result.table()
    seeds = [r.get("config", {}).get("seed") for r in result.folds]
    if len(set(seeds)) > 1:
        t.index = pd.MultiIndex.from_arrays([seeds, t.index], names=["seed", "fold"])
    out = pd.DataFrame({"test utterances": t["test"]}) if "test" in t else pd.DataFrame(index=t.index)
    for column, name in (("wa", "WA (%)"), ("ua", "UA (%)"), ("macro_f1", "macro-F1 (%)")):
        out[name] = (100 * t[column]).map(lambda v: f"{v:.1f}")
    if "best_epoch" in t:
        out["best epoch"] = t["best_epoch"]
    if "wall_time_s" in t:
        out["wall time (s)"] = t["wall_time_s"].map(lambda v: f"{v:.1f}")
    return out


# --------------------------------------------------------------------------------------------
# The baseline chapter
# --------------------------------------------------------------------------------------------
PROTOCOL_NAMES = {"paper": "random 5-fold (the paper's protocol)", "loso": "leave one speaker out"}


@dataclass
class Page:
    """One chapter's run: its profile, the corpus parameter as given, its seed and when it started.

    Returned by :func:`start_page`; :meth:`provenance` makes the table every page ends with.
    """

    profile: object  # a Profile
    data_dir: str
    seed: int | None
    started: float
    extra: dict = field(default_factory=dict)

    def provenance(self, **extra) -> pd.DataFrame:
        """The page's provenance table: profile, commit, machine, versions, its wall time so far,
        the corpus as the reader gave it (:func:`shown_path`), its seed, and ``extra``."""
        import time

        from ..provenance import provenance, provenance_table

        seed = {} if self.seed is None else {"seed": self.seed}
        record = provenance(profile=self.profile.name, wall_time_s=time.perf_counter() - self.started, data_dir=shown_path(self.data_dir), **seed, **self.extra, **extra)
        return provenance_table(record)


def check_flag(name: str, value: object) -> None:
    """Raise a ParameterError unless a chapter's parameter ``name`` is True or False."""
    from ..exceptions import ParameterError

    if not isinstance(value, bool):
        raise ParameterError(f"{name}={value!r}; allowed: True, False")


def start_page(profile: str, *, data_dir: object, verify_checksums: object, seed: object = None) -> Page:
    """Check a chapter's common parameters and start its clock.

    Raises a :class:`~adcrnn_lib.exceptions.ParameterError` naming the first parameter with a wrong
    type or value (an unknown profile too); ``seed=None`` for a chapter without one.
    """
    import time

    from ..config import check_notebook_parameters
    from ..profiles import get_profile

    check_notebook_parameters(data_dir=data_dir, verify_checksums=verify_checksums, seed=0 if seed is None else seed)
    return Page(get_profile(profile), data_dir, seed, time.perf_counter())

