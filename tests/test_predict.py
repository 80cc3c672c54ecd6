"""adcrnn train / adcrnn predict: a final model, any wav file in, emotions and probabilities out."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest

from adcrnn_lib import cli, data
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import DataError, ParameterError
from adcrnn_lib.predict import Predictor, predict_files, train_final

from .conftest import tone, write_wav


@pytest.fixture(scope="module")
def model_path(small_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "smoke.keras"
    return train_final(ExperimentConfig(profile="smoke", data_dir=str(small_corpus)), out, verify=False, progress=False)


def test_train_writes_model_and_metadata(model_path):
    meta = json.loads(model_path.with_name(model_path.name + ".json").read_text())
    assert meta["classes"] == list(data.EMOTIONS)
    assert meta["features"]["n_mels"] == 40 and meta["segment_frames"] == 300
    assert np.asarray(meta["normalizer"]["mean"]).shape == (40, 3)
    assert meta["config"]["profile"] == "smoke" and "git_commit" in meta["provenance"]


def test_predict_44k_stereo(model_path, tmp_path):
    y = librosa.resample(tone(240, 2.0), orig_sr=16000, target_sr=44100)
    path = write_wav(tmp_path / "any_name.wav", np.stack([y, 0.5 * y], axis=1), sr=44100)
    predictor = Predictor.load(model_path)
    out = predictor.predict_file(path)
    assert out["emotion"] in data.EMOTIONS
    assert set(out["probabilities"]) == set(data.EMOTIONS)
    assert sum(out["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert out["emotion"] == max(out["probabilities"], key=out["probabilities"].get)
    # the same audio at 16 kHz mono gives nearly the same answer
    mono = predictor.predict_file(write_wav(tmp_path / "mono.wav", librosa.resample(0.75 * y, orig_sr=44100, target_sr=16000)))
    assert np.allclose(list(mono["probabilities"].values()), list(out["probabilities"].values()), atol=0.02)


def test_long_audio_is_pooled_over_segments(model_path):
    predictor = Predictor.load(model_path)
    probs = predictor.predict_audio(tone(200, 7.5))
    assert probs.shape == (7,) and probs.sum() == pytest.approx(1)


def test_a_bad_file_does_not_stop_the_others(model_path, tmp_path):
    good = write_wav(tmp_path / "good.wav", tone(200, 1.0))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio" * 50)
    results = predict_files([bad, good, tmp_path / "missing.wav"], Predictor.load(model_path))
    assert "unreadable or corrupt" in results[0]["error"] and str(bad) in results[0]["error"]
    assert results[1]["emotion"] in data.EMOTIONS
    assert "no such file" in results[2]["error"]


def test_cli_predict(model_path, tmp_path, capsys):
    good = write_wav(tmp_path / "good.wav", tone(200, 1.0))
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    assert cli.main(["predict", str(good), str(bad), "--model", str(model_path), "--json"]) == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert results[0]["file"] == str(good) and results[0]["emotion"] in data.EMOTIONS
    assert "empty file" in results[1]["error"]
    assert f"{bad}: empty file" in captured.err
    assert cli.main(["predict", str(good), "--model", str(model_path)]) == 0
    assert capsys.readouterr().out.startswith(f"{good}: ")


def test_model_files_are_checked(model_path, tmp_path):
    with pytest.raises(DataError, match="no such model file"):
        Predictor.load(tmp_path / "none.keras")
    lonely = tmp_path / "lonely.keras"
    lonely.write_bytes(model_path.read_bytes())
    with pytest.raises(DataError, match="metadata missing"):
        Predictor.load(lonely)
    with pytest.raises(ParameterError, match="must end in .keras"):
        train_final(ExperimentConfig(profile="smoke"), tmp_path / "model.h5")
