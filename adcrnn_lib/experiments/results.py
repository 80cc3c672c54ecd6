"""The results store: where a run's files live, here and in the committed reference.

A run is one configuration's folds on disk: ``<root>/<results_group>/<key>/`` holds
``config.json`` (what was trained) and one ``fold-<k>.json`` per finished fold. ``<root>`` is this
checkout's results (``results/runs``, or ``$ADCRNN_RESULTS_DIR``) or the committed reference
(``results/reference``, or ``$ADCRNN_REFERENCE_DIR``). Reading and checking the records themselves
is :mod:`~adcrnn_lib.experiments.cv`'s (``load_result``, ``record_problem``); finding a run here or
in the reference, with that precedence, is :func:`~adcrnn_lib.experiments.grid.find_run`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..profiles import get_profile
from ..storage import CHECKOUT_ROOT, write_json

__all__ = ["RESULTS_ENV_VAR", "REFERENCE_ENV_VAR", "CONFIG_FILE", "results_root", "reference_root", "run_dir", "fold_path", "fold_paths", "write_run_config", "n_folds"]

RESULTS_ENV_VAR = "ADCRNN_RESULTS_DIR"
REFERENCE_ENV_VAR = "ADCRNN_REFERENCE_DIR"
#: What a run folder says it holds: the configuration, its key, and what else its trainer records.
CONFIG_FILE = "config.json"


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """``results_dir``, else ``$ADCRNN_RESULTS_DIR``, else ``results/runs`` in the checkout."""
    if results_dir is not None:
        return Path(results_dir)
    env = os.environ.get(RESULTS_ENV_VAR)
    return Path(env) if env else CHECKOUT_ROOT / "results" / "runs"


def reference_root() -> Path:
    """``$ADCRNN_REFERENCE_DIR``, else ``results/reference`` of the checkout: the committed reference (fold JSON only)."""
    env = os.environ.get(REFERENCE_ENV_VAR)
    return Path(env) if env else CHECKOUT_ROOT / "results" / "reference"


def run_dir(config, results_dir: str | os.PathLike | None = None) -> Path:
    """The folder of one configuration's files: ``<root>/<results_group>/<key>``.

    ``results_group`` is the profile for ADCRNN runs and ``"baseline"`` or ``"timnet"`` for the others.
    """
    return results_root(results_dir) / config.results_group / config.key()


def fold_path(folder: str | os.PathLike, k: int) -> Path:
    """The record of fold ``k`` in a run folder."""
    return Path(folder) / f"fold-{k}.json"


def fold_paths(folder: str | os.PathLike) -> dict[int, Path]:
    """Fold number -> record file, for every fold file in ``folder``, in fold order (none when the folder is missing)."""
    found = {}
    for path in Path(folder).glob("fold-*.json"):
        k = path.stem.split("-", 1)[1]
        if k.isdigit():
            found[int(k)] = path
    return dict(sorted(found.items()))


def write_run_config(folder: str | os.PathLike, config, **extra) -> None:
    """Write the run folder's ``config.json``: the configuration, its key and ``extra`` (e.g. the profile's settings)."""
    write_json(Path(folder) / CONFIG_FILE, {"config": config.to_dict(), "config_key": config.key(), **extra})


def n_folds(config, n_speakers: int) -> int:
    """How many folds ``config`` has: one per speaker under ``"loso"``, else the baseline's or its profile's ``n_splits``."""
    if config.protocol == "loso":
        return n_speakers
    n_splits = getattr(config, "n_splits", None)  # baselines and TIM-Net carry their fold count
    return int(n_splits) if n_splits is not None else get_profile(config.profile).n_splits
