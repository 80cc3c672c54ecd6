"""The results store (:mod:`adcrnn_lib.experiments.results`): where runs live and what a run folder holds."""

from __future__ import annotations

import json

from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.experiments.baselines import BaselineConfig
from adcrnn_lib.experiments.results import CONFIG_FILE, fold_path, fold_paths, n_folds, reference_root, results_root, run_dir, write_run_config
from adcrnn_lib.storage import CHECKOUT_ROOT


def test_roots_follow_the_argument_then_the_environment_then_the_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("ADCRNN_RESULTS_DIR", raising=False)
    monkeypatch.delenv("ADCRNN_REFERENCE_DIR", raising=False)
    assert results_root() == CHECKOUT_ROOT / "results" / "runs" and reference_root() == CHECKOUT_ROOT / "results" / "reference"
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("ADCRNN_REFERENCE_DIR", str(tmp_path / "ref"))
    assert results_root() == tmp_path / "env" and reference_root() == tmp_path / "ref"
    assert results_root(tmp_path / "arg") == tmp_path / "arg"


def test_a_run_folder_is_its_group_and_key_and_holds_its_config_and_folds(tmp_path):
    config = ExperimentConfig(profile="smoke", seed=3)
    folder = run_dir(config, tmp_path)
    assert folder == tmp_path / "smoke" / config.key()
    assert run_dir(BaselineConfig(features="egemaps"), tmp_path).parent.name == "baseline"
    write_run_config(folder, config, profile={"epochs": 1})
    written = json.loads((folder / CONFIG_FILE).read_text())
    assert written == {"config": config.to_dict(), "config_key": config.key(), "profile": {"epochs": 1}}
    for k in (10, 2, 0):
        fold_path(folder, k).write_text("{}")
    (folder / "fold-x.json").write_text("{}")  # not a fold number: not a fold
    assert list(fold_paths(folder)) == [0, 2, 10] and fold_paths(folder)[10] == folder / "fold-10.json"
    assert fold_paths(tmp_path / "missing") == {}


def test_fold_counts_by_protocol_and_kind():
    assert n_folds(ExperimentConfig(profile="smoke"), 10) == 2  # the smoke profile's n_splits
    assert n_folds(ExperimentConfig(profile="cpu"), 10) == 5
    assert n_folds(ExperimentConfig(profile="cpu", protocol="loso"), 10) == 10  # one per speaker
    assert n_folds(BaselineConfig(features="egemaps", n_splits=3), 10) == 3
