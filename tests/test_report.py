"""adcrnn_lib.report: the verdicts and paired cells the book prints, on results whose answer is known."""

from __future__ import annotations

import math
import re
import statistics

import numpy as np
import pytest
from scipy import stats

from adcrnn_lib import report
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.cv import CVResult

from .conftest import constructed_records

CONFIG = ExperimentConfig(profile="smoke")
N_FOLDS, N_TEST = 3, 140  # 20 test utterances of each emotion per fold


def _truth(k: int) -> tuple[list[str], np.ndarray]:
    return [f"f{k}u{i:03d}" for i in range(N_TEST)], np.arange(N_TEST) % 7


def _result(right) -> CVResult:
    """A result whose fold ``k`` is right exactly on the utterances where ``right(k, i)`` holds."""
    folds = []
    for k in range(N_FOLDS):
        ids, y = _truth(k)
        pred = np.array([t if right(k, i) else (t + 1) % 7 for i, t in enumerate(y)])
        folds.append((ids, y, pred))
    return CVResult(CONFIG, constructed_records(CONFIG, folds), None)


BASE = _result(lambda k, i: i % 2 == 0)  # WA = UA = 50 % in every fold
# below 14 m, every emotion has m odd utterances: fixing them adds m / 20 to every class's recall (WA = UA gain)
BETTER = _result(lambda k, i: i % 2 == 0 or i < 14 * (2 + k))  # fixes 14, 21, 28 of base's 70 errors
SWAPPED = _result(lambda k, i: (i % 2 == 0 and i >= 14) or (i % 2 == 1 and i < 14))  # 7 fixed, 7 broken: no net change


def test_verdicts_on_known_differences():
    assert report.verdict(BASE, BETTER) == "better"
    assert report.verdict(BETTER, BASE) == "worse"
    assert report.verdict(BASE, SWAPPED) == "no clear difference"
    assert report.verdict(BASE, BASE) == "no clear difference"


def test_verdict_follows_the_metric_asked_for():
    # "other" says the majority class every time: more utterances right, far fewer classes
    ids, y = [f"u{i:03d}" for i in range(300)], np.where(np.arange(300) < 210, 0, 1 + np.arange(300) % 6)
    base_pred = np.where((y == 0) & (np.arange(300) % 10 >= 3), 1, y)  # 30 % of class 0 right, every minority utterance right
    base = CVResult(CONFIG, constructed_records(CONFIG, [(ids, y, base_pred)] * 2), None)
    majority = CVResult(CONFIG, constructed_records(CONFIG, [(ids, y, np.zeros(300, int))] * 2), None)
    assert base.summary()["wa"]["mean"] < majority.summary()["wa"]["mean"] and base.summary()["ua"]["mean"] > majority.summary()["ua"]["mean"]
    assert report.verdict(base, majority, metric="wa") == "better"
    assert report.verdict(base, majority) == "worse"  # the book's verdicts are on UA


def test_paired_cells_state_the_known_difference():
    cells = report.paired_cells(BASE, BETTER, name="base")
    assert list(cells) == ["WA vs base (points)", "UA vs base (points)"]
    gains = [(2 + k) / 20 for k in range(N_FOLDS)]
    t = statistics.mean(gains) / (statistics.stdev(gains) / math.sqrt(N_FOLDS))
    p = 2 * stats.t.sf(t, N_FOLDS - 1)
    for cell in cells.values():  # WA and UA gain the same here
        diff, low, high, p_cell = (float(v) for v in re.fullmatch(r"([+-]\d+\.\d+) \[([+-]\d+\.\d+), ([+-]\d+\.\d+)\], p=(\d\.\d+)", cell).groups())
        assert diff == pytest.approx(100 * statistics.mean(gains), abs=0.051)
        assert 0 < low < diff < high
        assert p_cell == pytest.approx(p, abs=0.0006)
    back = report.paired_cells(BETTER, BASE, name="better")["WA vs better (points)"]
    assert back.startswith(f"{-100 * statistics.mean(gains):+.1f} [-")
