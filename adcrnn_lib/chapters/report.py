"""Table cells for the book's results chapters: mean +- std, paired differences, verdicts.

Every number is formatted from a :class:`~adcrnn_lib.experiments.cv.CVResult`; paper numbers come in from
:mod:`adcrnn_lib.chapters.paper` and are labelled as the paper's by :func:`~adcrnn_lib.chapters.paper.paper_label`.
:func:`for_page` and :func:`split_differences` shape a table for a page no wider than the article
column (``_static/tables.css``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..experiments.cv import CVResult, compare, pool_seeds
from .paper import PAPER_COLUMN, paper_cell

__all__ = ["mean_std", "result_cells", "seed_spread", "paired_cells", "verdict", "results_table", "best_of", "for_page", "split_differences"]


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
    ``versus_name`` (verdict against it, e.g. the best baseline), and ``extra``, further cells
    (column -> text) placed after the scores (e.g. how well a row's GANs learned).

    A list of runs is pooled over seeds x folds (:func:`~adcrnn_lib.experiments.cv.pool_seeds`): WA and UA
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
        cells.update(row.get("extra", {}))
        out.append(cells)
    table = pd.DataFrame(out).fillna("").set_index("")
    verdicts = [c for c in table.columns if c.startswith("vs ")]
    return table[[c for c in table.columns if c not in verdicts] + verdicts]


def best_of(results: dict, metric: str = "ua"):
    """The key of the result with the highest mean ``metric`` over folds."""
    return max(results, key=lambda k: results[k].summary()[metric]["mean"])


#: A number cell a page must not break over lines: "66.0 ± 5.0", "+1.2 [-0.4, +2.9], p=0.210", "[-0.4, +2.9]".
NUMBER_CELL = re.compile(r"[-+]?\d+(\.\d+)? ± \d+(\.\d+)?|([-+]?\d+(\.\d+)? )?\[[-+]?\d+(\.\d+)?, [-+]?\d+(\.\d+)?\](, p=\d\.\d+)?")


def for_page(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` as a page shows it: number cells (:data:`NUMBER_CELL`) kept on one line by
    non-breaking spaces, so that a narrow column wraps labels and words, never a number; and the
    index's name moved into the header's corner, so that the header is one row, not two.

    For display only: the page's text reads the same (a non-breaking space is a space to a reader).
    """
    shown = table.copy()
    for column in shown.columns:
        if not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: v.replace(" ", "\u00a0") if isinstance(v, str) and NUMBER_CELL.fullmatch(v) else v)
    if shown.index.nlevels == 1 and shown.columns.nlevels == 1:
        shown.columns.name, shown.index.name = shown.index.name or None, None
    return shown


def split_differences(table: pd.DataFrame) -> list[pd.DataFrame]:
    """A results table as the tables a page shows: the scores, then the paired differences, if any.

    The second holds the columns of :func:`paired_cells` (``"... vs NAME (points)"``) for the rows
    that have one; the first, every other column (the paper's, WA, UA, seeds, verdicts). Each is
    :func:`for_page`; a notebook shows them with ``display(*report.split_differences(table))``.
    """
    paired = [c for c in table.columns if " vs " in str(c) and str(c).endswith("(points)")]
    rows = (table[paired] != "").any(axis=1) if paired else pd.Series(False, index=table.index)
    tables = [for_page(table.drop(columns=paired))]
    if rows.any():
        tables.append(for_page(table.loc[rows, paired]))
    return tables
