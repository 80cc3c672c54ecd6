"""The ``adcrnn`` command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from adcrnn_lib import _quiet, cli, data
from adcrnn_lib.experiments import cv


def test_data_info(synthetic_corpus, capsys):
    assert cli.main(["data", "info", "--data-dir", str(synthetic_corpus), "--no-verify"]) == 0
    out = capsys.readouterr().out
    n = len(list(synthetic_corpus.glob("*.wav")))
    assert f"utterances: {n}  speakers: 10" in out
    assert str(synthetic_corpus) in out and "anger" in out


def test_data_info_without_corpus(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "_project_dirs", lambda: [tmp_path])
    assert cli.main(["data", "info"]) == 2
    err = capsys.readouterr().err
    assert "EmoDB was not found" in err and "adcrnn data download" in err


def test_unknown_profile_is_refused_before_work(capsys, synthetic_corpus):
    assert cli.main(["book", "--profile", "fast", "--data-dir", str(synthetic_corpus)]) == 2
    assert "allowed: smoke, cpu, paper" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("adcrnn")  # what pip install -e . puts next to the interpreter
    assert script.is_file(), f"{script} missing: the package's console script is not installed"
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert all(cmd in proc.stdout for cmd in ("data", "book", "cv", "train", "predict", "baseline"))


def _means(out: str) -> dict[str, float]:
    """``{"wa": 41.2, ...}`` from the summary lines of ``adcrnn cv`` / ``adcrnn baseline``."""
    return {m: float(v) for m, v in re.findall(r"^(wa|ua|macro_f1)\s+(-?\d+\.\d+) \+- ", out, flags=re.M)}


@pytest.mark.parametrize("run", ["paper_run", "loso_run"])
def test_cv_command_reads_the_same_run(run, request, small_corpus, monkeypatch, capsys):
    """The options name the same configuration as the library call: every fold is found, none trained."""
    result = request.getfixturevalue(run)
    result = result[0] if isinstance(result, tuple) else result
    monkeypatch.setattr(cv, "run_fold", lambda *a, **k: pytest.fail("adcrnn cv built another configuration"))
    args = ["cv", "--profile", "smoke", "--data-dir", str(small_corpus), "--no-verify", "--results-dir", str(result.run_dir.parents[1])]
    if run == "loso_run":
        args += ["--protocol", "loso", "--augmentation", "time_shift", "--speaker-norm"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"results: {result.run_dir}" in out
    means = _means(out)
    for metric, s in result.summary().items():
        assert means[metric] == pytest.approx(100 * s["mean"], abs=0.006)
    assert len(re.findall(r"^\s*\d+\s+\d+\s+0\.\d{4}", out, flags=re.M)) == len(result.folds)  # one table row per fold


def test_cv_and_train_options_build_the_configuration(paper_run, small_corpus, tmp_path, monkeypatch, capsys):
    from adcrnn_lib import predict
    from adcrnn_lib.config import ExperimentConfig

    seen = []
    monkeypatch.setattr(cv, "run_cv", lambda config, **kw: seen.append((config, kw)) or paper_run)
    options = ["--profile", "smoke", "--loss", "lf4", "--no-attention", "--seed", "3", "--data-dir", str(small_corpus), "--no-verify"]
    assert cli.main(["cv", *options, "--results-dir", str(tmp_path)]) == 0
    expected = ExperimentConfig(profile="smoke", loss="lf4", attention=False, seed=3, data_dir=str(small_corpus))
    assert seen == [(expected, {"results_dir": str(tmp_path), "verify": False})]
    monkeypatch.setattr(predict, "train_final", lambda config, out, **kw: seen.append((config, out, kw)) or Path(out))
    assert cli.main(["train", *options, "--out", str(tmp_path / "m.keras")]) == 0
    assert seen[-1] == (expected, str(tmp_path / "m.keras"), {"verify": False})
    assert f"model saved: {tmp_path / 'm.keras'}" in capsys.readouterr().out
    assert cli.main(["cv", "--profile", "smoke", "--loss", "lf9", "--data-dir", str(small_corpus)]) == 2
    assert "loss='lf9'; allowed: lf1, lf2, lf3, lf4" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["-v", "cv"], ["cv", "--verbose"], ["train", "-v", "--out", "m.keras"], ["-v", "book"]])
def test_verbose_flag_before_or_after_the_command(argv):
    assert cli._parser().parse_args(argv).verbose
    assert not cli._parser().parse_args(argv[1:] if argv[0] == "-v" else argv[:1] + argv[2:]).verbose


def test_runtime_log_level_of_the_command(monkeypatch):
    """Quiet by default (the runtime's harmless E0000 lines hidden), everything with --verbose, the user's level above both."""
    monkeypatch.setattr(_quiet, "_USER_LEVEL", None)
    assert (_quiet.command_log_level(), _quiet.command_log_level(verbose=True)) == ("3", "0")
    monkeypatch.setattr(_quiet, "_USER_LEVEL", "1")
    assert (_quiet.command_log_level(), _quiet.command_log_level(verbose=True)) == ("1", "1")


#: A glog/absl record of TensorFlow's C++ runtime, anywhere in a line (tqdm's bar shares the line).
RUNTIME_RECORD = re.compile(r"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]")


@pytest.mark.slow
def test_train_prints_no_runtime_errors(small_corpus, tmp_path):
    """adcrnn train, as a user runs it (no TF_CPP_MIN_LOG_LEVEL): TensorFlow's runtime "E0000" lines
    (NodeDef mentions attribute use_unbounded_threadpool, oneDNN DT_BOOL) do not reach the terminal."""
    env = {k: v for k, v in os.environ.items() if k != _quiet.LOG_LEVEL_VAR}
    script = Path(sys.executable).with_name("adcrnn")
    args = [str(script), "train", "--profile", "smoke", "--data-dir", str(small_corpus), "--no-verify", "--out", str(tmp_path / "m.keras")]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert RUNTIME_RECORD.search(proc.stderr) is None, proc.stderr


@pytest.mark.emodb
def test_data_info_real(emodb_dir, capsys):
    assert cli.main(["data", "info", "--data-dir", str(emodb_dir)]) == 0
    out = capsys.readouterr().out
    assert "utterances: 535  speakers: 10  audio: 1487.1 s" in out
    assert "every file matches its checksum" in out
