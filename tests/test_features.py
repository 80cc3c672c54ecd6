"""adcrnn_lib.features: 3D log-Mel, segments, normalization and the disk cache."""

from __future__ import annotations

import os
import shutil

import librosa
import numpy as np
import pytest

from adcrnn_lib import features
from adcrnn_lib.exceptions import DataError, ParameterError
from adcrnn_lib.features import FeatureCache, FeatureParams, Normalizer

from .helpers.audio import tone, write_wav


def _regression_delta(x: np.ndarray, n: int = 2) -> np.ndarray:
    """python_speech_features' delta, written out: sum_k k (x[t+k] - x[t-k]) / (2 sum_k k^2), edges repeated."""
    padded = np.pad(x, ((n, n), (0, 0)), mode="edge")
    num = sum(k * (padded[n + k : n + k + len(x)] - padded[n - k : n - k + len(x)]) for k in range(1, n + 1))
    return num / (2 * sum(k * k for k in range(1, n + 1)))


@pytest.mark.parametrize("n", [400, 401, 16000, 23456])
def test_log_mel_3d_shape(n, rng):
    f = features.log_mel_3d(rng.standard_normal(n).astype(np.float32))
    assert f.shape == (1 + n // 160, 40, 3)
    assert f.dtype == np.float32 and np.all(np.isfinite(f))


def test_log_mel_3d_matches_librosa_directly():
    y = tone(180, 1.3, seed=4)
    stft = librosa.stft(y, n_fft=512, hop_length=160, win_length=400, window="hamming", center=True, pad_mode="constant")
    mel = librosa.feature.melspectrogram(S=np.abs(stft) ** 2, sr=16000, n_mels=40, fmin=300, fmax=8000, htk=True, norm=None)
    static = np.log(np.maximum(mel, 1e-10)).T
    ours = features.log_mel_3d(y)
    np.testing.assert_allclose(ours[:, :, 0], static, rtol=1e-4, atol=1e-3)
    # the deltas are python_speech_features' regression over +-2 frames, the delta-delta that of the delta
    np.testing.assert_allclose(ours[:, :, 1], _regression_delta(ours[:, :, 0].astype(np.float64)), atol=1e-3)
    np.testing.assert_allclose(ours[:, :, 2], _regression_delta(ours[:, :, 1].astype(np.float64)), atol=1e-3)


def test_mel_bands_span_300_to_8000_hz():
    sr = 16000
    t = np.arange(sr) / sr
    centres = librosa.mel_frequencies(n_mels=42, fmin=300, fmax=8000, htk=True)[1:-1]
    for f0 in (400.0, 1000.0, 4000.0):
        band = np.argmax(features.log_mel_3d(np.sin(2 * np.pi * f0 * t).astype(np.float32))[50, :, 0])
        assert band == np.argmin(np.abs(centres - f0))
    below = features.log_mel_3d(np.sin(2 * np.pi * 100 * t).astype(np.float32))[50, :, 0]
    inside = features.log_mel_3d(np.sin(2 * np.pi * 1000 * t).astype(np.float32))[50, :, 0]
    assert below.max() < inside.max() - 5  # a 100 Hz tone is outside the filterbank


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"y": np.zeros((2, 800), np.float32)}, "mono"),
        ({"y": np.ones(300, np.float32)}, "shorter than one 400-sample window"),
        ({"y": np.full(800, np.nan, np.float32)}, "NaN"),
        ({"y": np.ones(800, np.float32), "sr": 8000}, "resample"),
    ],
)
def test_log_mel_3d_rejects(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        features.log_mel_3d(**kwargs)


# ------------------------------------------------------------------------------------------
# segments
# ------------------------------------------------------------------------------------------
def _frames(t: int) -> np.ndarray:
    return (np.arange(t, dtype=np.float32)[:, None, None] + 1) * np.ones((1, 40, 3), np.float32)


def test_segment_pads_short_utterances():
    seg = features.segment(_frames(120))
    assert seg.shape == (1, 300, 40, 3)
    np.testing.assert_array_equal(seg[0, :120], _frames(120))
    assert not seg[0, 120:].any()


@pytest.mark.parametrize("t, n", [(300, 1), (301, 2), (600, 2), (900, 3), (1000, 4)])
def test_segment_splits_long_utterances_without_dropping_frames(t, n):
    seg = features.segment(_frames(t))
    assert seg.shape == (n, 300, 40, 3)
    starts = seg[:, 0, 0, 0].astype(int) - 1
    assert starts[0] == 0 and starts[-1] == t - 300  # covers the first and the last frame
    assert np.all(np.diff(starts) <= 300)  # no gap between segments
    for s, start in zip(seg, starts):
        np.testing.assert_array_equal(s, _frames(t)[start : start + 300])


def test_segment_corpus_keeps_utterance_index():
    out = features.segment_corpus([_frames(100), _frames(700), _frames(300)])
    assert out.x.shape == (5, 300, 40, 3)
    np.testing.assert_array_equal(out.utterance, [0, 1, 1, 1, 2])


# ------------------------------------------------------------------------------------------
# normalization
# ------------------------------------------------------------------------------------------
def test_normalizer_uses_training_frames_only(rng):
    train = [rng.normal(5.0, 2.0, (t, 40, 3)).astype(np.float32) for t in (50, 400, 90)]
    test = [rng.normal(-3.0, 0.5, (80, 40, 3)).astype(np.float32)]
    norm = Normalizer.fit(train)
    z = np.concatenate([norm.transform(f) for f in train])
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-3)
    assert norm.transform(test[0]).mean() < -3  # test data are not re-centred on themselves
    again = Normalizer.from_dict(norm.to_dict())
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_array_equal(again.std, norm.std)


def test_normalizer_weights_every_frame_equally():
    a, b = np.zeros((10, 40, 3), np.float32), np.ones((30, 40, 3), np.float32)
    np.testing.assert_allclose(Normalizer.fit([a, b]).mean, 0.75)


# ------------------------------------------------------------------------------------------
# cache
# ------------------------------------------------------------------------------------------
@pytest.fixture
def wavs(tmp_path):
    return [write_wav(tmp_path / f"a{i}.wav", tone(150 + 30 * i, 0.4 + 0.1 * i, seed=i)) for i in range(4)]


def test_cache_hit_skips_computation(tmp_path, wavs, monkeypatch):
    first = features.extract_features(wavs, cache=tmp_path / "c", progress=False)

    def boom(*args, **kwargs):
        raise AssertionError("log_mel_3d called on a cache hit")

    monkeypatch.setattr(features, "log_mel_3d", boom)
    second = features.extract_features(wavs, cache=tmp_path / "c", progress=False)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    subset = features.extract_features(wavs[1:3], cache=tmp_path / "c", progress=False)  # per-file entries
    np.testing.assert_array_equal(subset[0], first[1])


def test_cache_matches_uncached(tmp_path, wavs):
    cached = features.extract_features(wavs, cache=tmp_path / "c", progress=False)
    plain = features.extract_features(wavs, cache=False, progress=False)
    for a, b in zip(cached, plain):
        np.testing.assert_array_equal(a, b)


def test_cache_is_keyed_by_content_and_parameters(tmp_path, wavs):
    cache = FeatureCache(tmp_path / "c")
    before = cache.get(wavs[0])
    st = wavs[0].stat()
    write_wav(wavs[0], tone(400, 0.4, seed=9))  # same path and length, other samples
    os.utime(wavs[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # stamped as a later write (file-system clocks are coarse)
    assert wavs[0].stat().st_size == st.st_size
    after = FeatureCache(tmp_path / "c").get(wavs[0])
    assert after.shape == before.shape and not np.allclose(after, before)
    np.testing.assert_array_equal(after, features.extract_features([wavs[0]], cache=False, progress=False)[0])
    twin = shutil.copy(wavs[0], tmp_path / "twin.wav")  # the same bytes under another name: the same entry
    assert FeatureCache(tmp_path / "c").content_key(twin) == FeatureCache(tmp_path / "c").content_key(wavs[0])
    other = FeatureCache(tmp_path / "c", params=FeatureParams(n_mels=20))
    assert other.dir != cache.dir and other.get(wavs[0]).shape[1] == 20


def test_cache_resumes_after_a_bad_file(tmp_path, wavs, monkeypatch):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"")
    with pytest.raises(DataError, match="bad.wav: empty file"):
        features.extract_features([*wavs[:2], bad, *wavs[2:]], cache=tmp_path / "c", progress=False)
    calls = []
    real = features.log_mel_3d
    monkeypatch.setattr(features, "log_mel_3d", lambda *a, **k: calls.append(1) or real(*a, **k))
    features.extract_features(wavs, cache=tmp_path / "c", progress=False)
    assert len(calls) == 2  # the two files before the bad one were kept


def test_damaged_bundle_is_rebuilt(tmp_path, wavs):
    first = features.extract_features(wavs, cache=tmp_path / "c", progress=False)
    (bundle,) = (tmp_path / "c").rglob("bundles/*.npz")
    bundle.write_bytes(b"garbage")
    again = features.extract_features(wavs, cache=tmp_path / "c", progress=False)
    np.testing.assert_array_equal(again[3], first[3])


def test_default_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCRNN_CACHE_DIR", str(tmp_path / "mine"))
    assert features.default_cache_dir() == tmp_path / "mine"
    assert FeatureCache().dir.is_relative_to(tmp_path / "mine")


@pytest.mark.emodb
def test_real_emodb_features(emodb_dir):
    from adcrnn_lib import data

    df = data.load_emodb(emodb_dir, verify=False).iloc[::50]
    feats = features.extract_features(df["path"].tolist(), progress=False)
    for f, dur in zip(feats, df["duration"]):
        assert f.shape == (1 + int(round(dur * 16000)) // 160, 40, 3)
        assert np.all(np.isfinite(f))
