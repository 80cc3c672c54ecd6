"""WaveGAN and SpecGAN networks (Tables II and III), phase shuffle, the spectrogram codec."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adcrnn_lib.augment.specgan import SpectrogramCodec, build_specgan_discriminator, build_specgan_generator, griffin_lim, log_spectrogram
from adcrnn_lib.augment.wavegan import PhaseShuffle, build_wavegan_discriminator, build_wavegan_generator

D = 64
# Table II, D = 64: (layer, output shape without the batch) and kernel shape where the table gives one
WAVEGAN_G = [("dense", (256 * D,)), ("reshape", (16, 16 * D)), ("tconv1", (64, 8 * D)), ("tconv2", (256, 4 * D)), ("tconv3", (1024, 2 * D)), ("tconv4", (4096, D)), ("tconv5", (16384, 1))]
WAVEGAN_D = [("conv1", (4096, D)), ("conv2", (1024, 2 * D)), ("conv3", (256, 4 * D)), ("conv4", (64, 8 * D)), ("conv5", (16, 16 * D)), ("reshape", (256 * D,)), ("critic", (1,))]
SPECGAN_G = [("dense", (256 * D,)), ("reshape", (4, 4, 16 * D)), ("tconv1", (8, 8, 8 * D)), ("tconv2", (16, 16, 4 * D)), ("tconv3", (32, 32, 2 * D)), ("tconv4", (64, 64, D)), ("tconv5", (128, 128, 1))]
SPECGAN_D = [("conv1", (64, 64, D)), ("conv2", (32, 32, 2 * D)), ("conv3", (16, 16, 4 * D)), ("conv4", (8, 8, 8 * D)), ("conv5", (4, 4, 16 * D)), ("reshape", (256 * D,)), ("critic", (1,))]


@pytest.mark.parametrize(
    "build, table",
    [(build_wavegan_generator, WAVEGAN_G), (build_wavegan_discriminator, WAVEGAN_D), (build_specgan_generator, SPECGAN_G), (build_specgan_discriminator, SPECGAN_D)],
)
def test_layer_shapes_match_the_tables(build, table):
    model = build(D)
    for name, shape in table:
        assert tuple(model.get_layer(name).output.shape[1:]) == shape, name


def test_kernel_sizes_match_the_tables():
    g, d = build_wavegan_generator(D), build_wavegan_discriminator(D)
    assert tuple(g.get_layer("tconv1").kernel.shape) == (25, 8 * D, 16 * D)  # (25, 16D, 8D) in Table II's order
    assert tuple(d.get_layer("conv1").kernel.shape) == (25, 1, D)
    assert [type(layer).__name__ for layer in d.layers].count("PhaseShuffle") == 4
    assert not any("Normalization" in type(layer).__name__ for model in (g, d) for layer in model.layers)
    sg = build_specgan_generator(D)
    assert tuple(sg.get_layer("tconv1").kernel.shape) == (5, 5, 8 * D, 16 * D)


def test_generators_produce_bounded_output():
    z = np.random.default_rng(0).uniform(-1, 1, (2, 100)).astype("float32")
    for build in (build_wavegan_generator, build_specgan_generator):
        out = keras.ops.convert_to_numpy(build(4)(z))
        assert np.all(np.abs(out) <= 1.0)


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 2])
def test_phase_shuffle_shifts_with_reflection(k):
    x = np.arange(1, 11, dtype="float32")[None, :, None]
    out = keras.ops.convert_to_numpy(PhaseShuffle(2).shift(x, k))[0, :, 0]
    padded = np.pad(x[0, :, 0], 2, mode="reflect")
    np.testing.assert_array_equal(out, padded[2 - k : 2 - k + 10])
    assert out.shape == (10,)
    if k > 0:
        np.testing.assert_array_equal(out[k:], x[0, : 10 - k, 0])  # content moved k steps later


def test_phase_shuffle_in_training_stays_within_n():
    x = np.arange(1, 33, dtype="float32").reshape(1, 32, 1)
    layer = PhaseShuffle(2, seed=3)
    seen = set()
    for _ in range(40):
        out = keras.ops.convert_to_numpy(layer(x, training=True))
        assert out.shape == x.shape
        k = int(round(16 - out[0, 15, 0]))  # out[t] = x[t - k], and x[t] = t + 1
        assert -2 <= k <= 2
        np.testing.assert_array_equal(out, keras.ops.convert_to_numpy(layer.shift(x, k)))
        seen.add(k)
    assert len(seen) > 1
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)


def _signal(seconds_samples=16384, sr=16000):
    t = np.arange(seconds_samples) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t + 2 * np.sin(2 * np.pi * 3 * t)) + 0.1 * np.sin(2 * np.pi * 660 * t)).astype(np.float32)


def test_spectrogram_shape_and_codec_round_trip(rng):
    spec = log_spectrogram(_signal())
    assert spec.shape == (128, 128) and spec.dtype == np.float32
    train = np.stack([log_spectrogram(_signal() * g + 0.01 * rng.standard_normal(16384).astype(np.float32)) for g in (0.5, 1.0, 2.0)])
    codec = SpectrogramCodec.fit(train)
    encoded = codec.encode(train[1])
    assert encoded.min() >= -1 and encoded.max() <= 1
    inside = np.abs((train[1] - codec.mean) / codec.std) < 3  # clipping is the only loss
    np.testing.assert_allclose(codec.decode(encoded)[inside], train[1][inside], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(codec.decode(encoded)[~inside] != train[1][~inside], True)


def test_griffin_lim_reconstructs_the_magnitudes():
    """Stated minimum: 15 dB magnitude SNR after the paper's 16 Griffin-Lim iterations."""
    y = _signal()
    mag = np.exp(log_spectrogram(y)) - 1e-6
    y_hat = griffin_lim(mag, n_iter=16)
    assert y_hat.shape == (16384,)
    mag_hat = np.exp(log_spectrogram(y_hat)) - 1e-6
    snr = 10 * np.log10(np.sum(mag**2) / np.sum((mag - mag_hat) ** 2))
    assert snr >= 15
