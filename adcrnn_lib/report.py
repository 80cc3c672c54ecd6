"""Table cells for the book's results chapters: mean +- std, paired differences, verdicts.

Every number is formatted from a :class:`~adcrnn_lib.cv.CVResult`; paper numbers come in from
:mod:`adcrnn_lib.paper` and are labelled as the paper's by :func:`~adcrnn_lib.paper.paper_label`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .cv import CVResult, compare, pool_seeds
from .paper import PAPER_COLUMN, paper_cell

__all__ = ["mean_std", "result_cells", "seed_spread", "paired_cells", "verdict", "results_table", "best_of"]


def mean_std(result: CVResult, metric: str) -> str:
    """``"69.7 ± 6.2"``: the mean and sample std over folds, in %, one decimal (one line in a table)."""
    s = result.summary()[metric]
    return f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f}"


def result_cells(result: CVResult) -> dict[str, str]:
    """``{"WA (%)", "UA (%)"}`` cells of one result."""
    return {"WA (%)": mean_std(result, "wa"), "UA (%)": mean_std(result, "ua")}


def seed_spread(runs, metric: str = "ua") -> str:
    """``"1.3"``: the sample std (ddof=1) of the per-seed means of ``metric``, in points; ``"-"`` for one seed.

    Beside the std over folds, it is the part of the spread that changing the seed alone adds.
    """
    runs = list(runs)
    if len(runs) < 2:
        return "-"
    return f"{100 * np.std([r.summary()[metric]['mean'] for r in runs], ddof=1):.1f}"


def paired_cells(base: CVResult, other: CVResult, *, name: str) -> dict[str, str]:
    """``other - base`` in WA and UA points with the 95% bootstrap interval and the t-test p: ``"+1.2 [-0.4, +2.9], p=0.210"``."""
    c = compare(base, other)
    return {
        f"{m.upper()} vs {name} (points)": f"{100 * c[m]['diff']:+.1f} [{100 * c[m]['ci_low']:+.1f}, {100 * c[m]['ci_high']:+.1f}], p={c[m]['p']:.3f}"
        for m in ("wa", "ua")
    }


def verdict(base: CVResult, other: CVResult, *, metric: str = "ua") -> str:
    """Whether ``other`` beats ``base``: the sign of the paired bootstrap interval of ``metric``."""
    c = compare(base, other)[metric]
    if c["ci_low"] > 0:
        return "better"
    if c["ci_high"] < 0:
        return "worse"
    return "no clear difference"


def results_table(rows: list[dict]) -> pd.DataFrame:
    """A results table from row dicts.

    Each row: ``label``; ``result`` (a CVResult, a list of them, one per seed, or None for a
    paper-only row); optionally ``paper`` (``(mean, std)`` or a float, in its own column labelled
    as the paper's), ``base`` with ``base_name`` (paired difference against it) and ``versus`` with
    ``versus_name`` (verdict against it, e.g. the best baseline).

    A list of runs is pooled over seeds x folds (:func:`~adcrnn_lib.cv.pool_seeds`): WA and UA
    are then mean ± std over seeds x folds, ``base`` and ``versus`` must list the same seeds, and
    the table gains the columns ``seeds`` and ``UA seed spread`` (:func:`seed_spread`).
    """
    out = []
    multi = any(isinstance(row.get("result"), (list, tuple)) for row in rows)
    for row in rows:
        cells = {"": row["label"]}
        paper = row.get("paper")
        if paper is not None:
            cells[PAPER_COLUMN] = paper_cell(*paper) if isinstance(paper, tuple) else paper_cell(paper)
        result = row.get("result")
        if result is not None:
            runs = list(result) if isinstance(result, (list, tuple)) else [result]
            result = pool_seeds(runs)
            cells.update(result_cells(result))
            if multi:
                cells["seeds"] = str(len(runs))
                cells["UA seed spread (points)"] = seed_spread(runs)
            if row.get("base") is not None and row["base"] is not row.get("result"):
                cells.update(paired_cells(pool_seeds(row["base"]), result, name=row["base_name"]))
            if row.get("versus") is not None and row["versus"] is not row.get("result"):
                cells[f"vs {row['versus_name']} (UA)"] = verdict(pool_seeds(row["versus"]), result)
        out.append(cells)
    table = pd.DataFrame(out).fillna("").set_index("")
    verdicts = [c for c in table.columns if c.startswith("vs ")]
    return table[[c for c in table.columns if c not in verdicts] + verdicts]


def best_of(results: dict, metric: str = "ua"):
    """The key of the result with the highest mean ``metric`` over folds."""
    return max(results, key=lambda k: results[k].summary()[metric]["mean"])
