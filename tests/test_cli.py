"""The ``adcrnn`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from adcrnn_lib import cli, data


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
    proc = subprocess.run([sys.executable, "-m", "adcrnn_lib.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "data" in proc.stdout and "book" in proc.stdout


@pytest.mark.emodb
def test_data_info_real(emodb_dir, capsys):
    assert cli.main(["data", "info", "--data-dir", str(emodb_dir)]) == 0
    out = capsys.readouterr().out
    assert "utterances: 535  speakers: 10  audio: 1487.1 s" in out
    assert "every file matches its checksum" in out
