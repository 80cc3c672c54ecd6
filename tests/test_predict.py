"""adcrnn train / adcrnn predict: a final model, any wav file in, emotions and probabilities out."""

from __future__ import annotations

import json

import keras
import librosa
import numpy as np
import pytest

from adcrnn_lib import cli, data
from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import DataError, ParameterError
from adcrnn_lib.features import log_mel_3d
from adcrnn_lib.level import QUIET_MARGIN_DB, apply_gain, measure_level
from adcrnn_lib.predict import Predictor, predict_files, train_final

from .helpers.audio import tone, write_wav


@pytest.fixture(scope="module")
def trained(small_corpus, tmp_path_factory):
    """A smoke model made by ``adcrnn train``, and the in-memory model and normalizer it saved."""
    import adcrnn_lib.predict as predict_module

    out = tmp_path_factory.mktemp("model") / "smoke.keras"
    kept = {}
    real = predict_module.train_split

    def keep(*args, **kwargs):
        kept["model"], kept["normalizer"], _ = result = real(*args, **kwargs)
        return result

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(predict_module, "train_split", keep)
        assert cli.main(["train", "--profile", "smoke", "--data-dir", str(small_corpus), "--no-verify", "--out", str(out)]) == 0
    return out, kept["model"].model, kept["normalizer"]


@pytest.fixture(scope="module")
def model_path(trained):
    return trained[0]


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
    assert out["file"] == str(path) and list(out["probabilities"]) == list(data.EMOTIONS)
    # what the model heard: the channels' mean (0.75 y) at 16 kHz, i.e. the same sound as a 16 kHz mono file
    heard = librosa.resample(0.75 * y, orig_sr=44100, target_sr=16000)
    expected = _by_hand(predictor.model, _meta(model_path), heard)
    np.testing.assert_allclose(list(out["probabilities"].values()), expected, atol=1e-4)  # rounded to 4 decimals; PCM_16 noise
    assert out["emotion"] == data.EMOTIONS[int(np.argmax(expected))]


def _meta(model_path) -> dict:
    return json.loads(model_path.with_name(model_path.name + ".json").read_text())


def _segments(meta: dict, y: np.ndarray) -> np.ndarray:
    """The model inputs of ``y``, by hand: log-Mel normalized with the stored statistics, cut into
    segments of the stored length (300 frames unless said) whose starts are spread evenly, at most
    the stored hop apart (one zero-padded segment for a short clip)."""
    length = meta.get("segment_frames", 300)
    hop = meta.get("segment_hop", length)  # as Predictor.load reads metadata without a hop
    x = (log_mel_3d(y) - np.asarray(meta["normalizer"]["mean"])) / np.asarray(meta["normalizer"]["std"])
    n = -(-(len(x) - length) // hop) + 1
    starts = np.round(np.linspace(0, len(x) - length, n)).astype(int) if len(x) > length else [0]
    return np.stack([np.pad(x[s : s + length], ((0, max(0, length - len(x))), (0, 0), (0, 0))) for s in starts]).astype("float32")


def _by_hand(model, meta: dict, y: np.ndarray) -> np.ndarray:
    """Class probabilities of ``y``: the model called eagerly on each segment alone, the logits
    averaged, then a softmax (compiled and eager calls agree: ``test_models.py::test_graph_and_eager_agree``)."""
    logits = np.mean([keras.ops.convert_to_numpy(model(seg[None], training=False)[0])[0].astype(np.float64) for seg in _segments(meta, y)], axis=0)
    e = np.exp(logits - logits.max())
    return e / e.sum()


@pytest.mark.parametrize("seconds", [1.0, 7.5])  # one zero-padded segment; three overlapping ones
def test_prediction_is_the_mean_of_the_segment_logits(model_path, seconds):
    predictor = Predictor.load(model_path)
    y = tone(200, seconds)
    np.testing.assert_allclose(predictor.predict_audio(y), _by_hand(predictor.model, _meta(model_path), y), rtol=1e-5, atol=1e-7)


def test_saved_model_predicts_as_the_trained_one(trained, small_corpus):
    """``adcrnn predict`` with the saved files gives what the trained model in memory gives."""
    model_path, model, normalizer = trained
    predictor = Predictor.load(model_path)
    np.testing.assert_array_equal(predictor.normalizer.mean, normalizer.mean)
    np.testing.assert_array_equal(predictor.normalizer.std, normalizer.std)
    for name in ("03a01W", "08a02F"):  # corpus files of two emotions
        path = next(small_corpus.glob(f"{name}*.wav"))
        y = data.load_audio(path)
        expected = _by_hand(model, {"normalizer": normalizer.to_dict()}, y)
        out = predictor.predict_file(path)
        np.testing.assert_allclose(list(out["probabilities"].values()), expected, atol=5.1e-5)  # rounded to 4 decimals
        assert out["emotion"] == data.EMOTIONS[int(np.argmax(expected))]


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


def _copy_model(model_path, folder, *, model_bytes: bytes | None = None, meta=None) -> object:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "copy.keras"
    out.write_bytes(model_path.read_bytes() if model_bytes is None else model_bytes)
    text = model_path.with_name(model_path.name + ".json").read_text()
    out.with_name(out.name + ".json").write_text(text if meta is None else meta(json.loads(text)))
    return out


def _set(meta: dict, key: str, value) -> str:
    meta[key] = value
    return json.dumps(meta)


@pytest.mark.parametrize(
    "case, meta, message",
    [
        ("truncated JSON", lambda m: json.dumps(m)[:200], r"copy\.keras\.json: not valid adcrnn model metadata"),
        ("no normalizer", lambda m: json.dumps({k: v for k, v in m.items() if k != "normalizer"}), r"copy\.keras\.json: not valid adcrnn model metadata \('normalizer'\)"),
        ("unknown feature setting", lambda m: _set(m, "features", {**m["features"], "n_fft_x": 1}), r"copy\.keras\.json: not valid adcrnn model metadata"),
        ("another n_mels", lambda m: _set(m, "features", {**m["features"], "n_mels": 20}), r"copy\.keras\.json: normalizer mean has shape \(40, 3\), but the features have shape \(frames, 20, 3\)"),
        ("another segment length", lambda m: _set(m, "segment_frames", 200), r"copy\.keras\.json: the model takes segments of shape \(300, 40, 3\)"),
        ("other classes", lambda m: _set(m, "classes", m["classes"][:6]), r"copy\.keras\.json: 6 classes listed, but the model has 7 outputs"),
    ],
)
def test_bad_metadata_is_named(model_path, tmp_path, case, meta, message, capsys):
    bad = _copy_model(model_path, tmp_path, meta=meta)
    with pytest.raises(DataError, match=message):
        Predictor.load(bad)
    # on the command line: one clear error, exit 2, before any file is read
    good = write_wav(tmp_path / "good.wav", tone(200, 1.0))
    assert cli.main(["predict", str(good), "--model", str(bad)]) == 2
    assert f"{bad}.json" in capsys.readouterr().err


def test_unreadable_model_file_is_named(model_path, tmp_path):
    for content in (b"", b"PK\x03\x04 not really a zip", model_path.read_bytes()[:2000]):
        bad = _copy_model(model_path, tmp_path, model_bytes=content)
        with pytest.raises(DataError, match=rf"{bad}: cannot load the model"):
            Predictor.load(bad)


def test_a_just_trained_model_predicts_with_its_own_segment_length(trained):
    """The GAN quality report wraps a model just trained (the cpu profile's take 100-frame segments,
    not the paper's 300) in a Predictor: ``from_training`` cuts segments as the configuration does,
    and a Predictor told another length stops with a clear error instead of TensorFlow's reshape error."""
    from adcrnn_lib.models import build_adcrnn

    _, _, normalizer = trained
    config = ExperimentConfig(profile="smoke", overrides={"segment_frames": 100, "segment_hop": 50})
    model = build_adcrnn((100, normalizer.mean.shape[0], 3), len(data.EMOTIONS), profile="smoke")
    predictor = Predictor.from_training(model, normalizer, config)
    assert (predictor.segment_frames, predictor.segment_hop) == (100, 50)
    y = tone(200, 2.5)  # 251 frames (centred): 5 segments of 100, at most 50 frames apart
    np.testing.assert_allclose(predictor.predict_audio(y), _by_hand(model, {"normalizer": normalizer.to_dict(), "segment_frames": 100, "segment_hop": 50}, y), rtol=1e-5, atol=1e-7)
    with pytest.raises(ParameterError, match="takes segments of 100 frames, not segment_frames=300"):
        Predictor(model, normalizer, predictor.params, list(data.EMOTIONS))


def test_predict_reports_the_level_it_saw_and_warns_when_clipped(model_path, small_corpus, tmp_path, capsys):
    meta = json.loads(model_path.with_name(model_path.name + ".json").read_text())
    levels = [measure_level(data.load_audio(p)).rms_dbfs for p in sorted(small_corpus.glob("*.wav"))]
    low, high = meta["training_rms_dbfs"]
    assert min(levels) - 0.01 <= low <= high <= max(levels) + 0.01  # the training part's range, from the corpus's files
    quiet = write_wav(tmp_path / "quiet.wav", apply_gain(tone(200, 1.0), low - QUIET_MARGIN_DB - 10 - measure_level(tone(200, 1.0)).rms_dbfs))
    clipped = write_wav(tmp_path / "clipped.wav", np.sign(tone(200, 1.0)) * 0.99999)
    assert cli.main(["predict", str(quiet), str(clipped), "--model", str(model_path), "--json"]) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert results[0]["level"]["rms_dbfs"] == pytest.approx(low - QUIET_MARGIN_DB - 10, abs=0.1)
    assert results[0]["warnings"][0].startswith("quiet:") and results[1]["warnings"][0].startswith("clipped:")
    assert f"adcrnn: warning: {quiet}: quiet:" in captured.err and f"adcrnn: warning: {clipped}: clipped:" in captured.err


def test_a_model_trained_with_level_normalization_predicts_the_same_at_every_gain(small_corpus, tmp_path, model_path):
    """``adcrnn train --set level_norm=utterance``: the setting reaches the model's metadata and
    ``Predictor.load``, and a synthetic utterance gets the same probabilities at every gain of the
    level check; the profile's own model (the module's, without it) does not."""
    from adcrnn_lib.level import CHECK_GAINS_DB

    out = tmp_path / "level.keras"
    assert cli.main(["train", "--profile", "smoke", "--data-dir", str(small_corpus), "--no-verify", "--set", "level_norm=utterance", "--out", str(out)]) == 0
    meta = json.loads(out.with_name(out.name + ".json").read_text())
    assert meta["config"]["overrides"] == {"level_norm": "utterance"} and meta["normalizer"]["level"] == "utterance"
    steady, plain = Predictor.load(out), Predictor.load(model_path)
    assert steady.normalizer.level == "utterance" and plain.normalizer.level == "none"
    y = 0.5 * tone(170, 2.0, seed=5)
    for gain in CHECK_GAINS_DB:
        np.testing.assert_allclose(steady.predict_audio(apply_gain(y, gain)), steady.predict_audio(y), atol=1e-4)
    assert np.abs(plain.predict_audio(apply_gain(y, -24)) - plain.predict_audio(y)).max() > 1e-3
