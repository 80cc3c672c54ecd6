"""SpecGAN (Donahue et al., ICLR 2019; the paper's Table III): spectrograms, their codec, the networks.

The paper's text says "FFT size of 128", but a 16 ms window at 16 kHz is 256 samples; WaveGAN's
paper gets its 128 frequency bins from a 256-point FFT, and that is followed here:

* STFT with a 256-sample (16 ms) Hann window and a 128-sample (8 ms) hop; the Nyquist bin is dropped,
  leaving 128 bins; 16384 samples give 128 frames (the last frame dropped);
* log magnitude, ``log(|X| + 1e-6)``;
* each frequency bin normalized to zero mean and unit variance with the training clips' statistics,
  clipped to 3 standard deviations, and divided by 3 into [-1, 1] (:class:`SpectrogramCodec`);
* back to audio: undo the scaling, exponentiate, and 16 iterations of librosa's Griffin-Lim.

The generator maps ``z`` (100, uniform in [-1, 1]) through Dense to 4 x 4 x 16D and five transposed
2D convolutions (5 x 5, stride 2) to 128 x 128 x 1 with tanh; the discriminator mirrors it with five
2D convolutions and LeakyReLU 0.2, no batch norm and no phase shuffle (as in Table III).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from ..exceptions import ParameterError
from ..models import disable_tf_remapper
from .wavegan import LATENT_DIM, SLICE_SAMPLES

__all__ = ["N_FFT", "HOP", "BINS", "FRAMES", "log_spectrogram", "SpectrogramCodec", "build_specgan_generator", "build_specgan_discriminator"]

N_FFT = 256
HOP = 128
BINS = 128
FRAMES = 128
_EPS = 1e-6
GRIFFIN_LIM_ITERATIONS = 16


def log_spectrogram(y: np.ndarray, *, whole: bool = False) -> np.ndarray:
    """Log-magnitude spectrogram of one clip, shape (128 frames, 128 bins), float32.

    ``y`` is padded or cut to 16384 samples first; with ``whole=True`` the whole signal is
    transformed instead, giving ``len(y) // 128`` frames (at least 128, padding short signals).
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    y = np.pad(y, (0, max(0, SLICE_SAMPLES - y.size)))
    if not whole:
        y = y[:SLICE_SAMPLES]
    frames = y.size // HOP
    spec = librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann", center=True)
    return np.log(np.abs(spec[:BINS, :frames]).T + _EPS).astype(np.float32)


@dataclass(frozen=True)
class SpectrogramCodec:
    """Per-bin normalization of log spectrograms to [-1, 1], and back to audio.

    Attributes
    ----------
    mean, std : np.ndarray [shape=(128,)]
        Per-frequency-bin statistics of the training spectrograms.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, spectrograms: np.ndarray) -> SpectrogramCodec:
        """Statistics of training spectrograms of shape (n, 128 frames, 128 bins)."""
        spectrograms = np.asarray(spectrograms, dtype=np.float64)
        if spectrograms.ndim != 3 or spectrograms.shape[2] != BINS:
            raise ParameterError(f"expected spectrograms of shape (n, frames, {BINS}), got {spectrograms.shape}")
        mean = spectrograms.mean(axis=(0, 1))
        std = np.maximum(spectrograms.std(axis=(0, 1)), 1e-6)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def encode(self, spectrogram: np.ndarray) -> np.ndarray:
        """Log spectrogram -> [-1, 1]: z-score per bin, clip to 3 standard deviations, divide by 3."""
        return (np.clip((spectrogram - self.mean) / self.std, -3.0, 3.0) / 3.0).astype(np.float32)

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """[-1, 1] -> log spectrogram (exact inverse of :meth:`encode` inside the clipping range)."""
        return (np.asarray(encoded, dtype=np.float32) * 3.0 * self.std + self.mean).astype(np.float32)

    def to_audio(self, encoded: np.ndarray, *, n_iter: int = GRIFFIN_LIM_ITERATIONS) -> np.ndarray:
        """Encoded spectrogram (128, 128) -> 16384 samples, phase estimated by Griffin-Lim."""
        return griffin_lim(np.exp(self.decode(encoded)) - _EPS, n_iter=n_iter)


def griffin_lim(magnitude: np.ndarray, *, n_iter: int = GRIFFIN_LIM_ITERATIONS) -> np.ndarray:
    """Magnitudes of shape (128 frames, 128 bins) -> 16384 samples (librosa's Griffin-Lim)."""
    import librosa

    mag = np.maximum(np.asarray(magnitude, dtype=np.float32), 0.0).T  # (bins, frames)
    mag = np.concatenate([mag, np.zeros((N_FFT // 2 + 1 - BINS, mag.shape[1]), np.float32)])  # restore Nyquist
    mag = np.concatenate([mag, np.zeros((mag.shape[0], 1), np.float32)], axis=1)  # restore the last frame
    y = librosa.griffinlim(mag, n_iter=n_iter, hop_length=HOP, n_fft=N_FFT, window="hann", center=True, length=SLICE_SAMPLES)
    return y.astype(np.float32)


def build_specgan_generator(d: int = 64, *, channels: int = 1, dtype: str | None = None, name: str = "specgan_generator") -> keras.Model:
    """Table III's generator: ``(batch, 100)`` -> ``(batch, 128, 128, channels)``. ``dtype`` is the Keras dtype policy of every layer but the output (``None``: float32; ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights), which stays float32."""
    disable_tf_remapper()  # the same kernels in every process, whatever was built before
    if d < 1:
        raise ParameterError(f"model size d={d}; must be >= 1")
    z = keras.Input((LATENT_DIM,), name="z")
    x = layers.Dense(256 * d, dtype=dtype, name="dense")(z)
    x = layers.Reshape((4, 4, 16 * d), dtype=dtype, name="reshape")(x)
    x = layers.ReLU(dtype=dtype, name="relu1")(x)
    widths = [8 * d, 4 * d, 2 * d, d, channels]
    for i, width in enumerate(widths, 1):
        x = layers.Conv2DTranspose(width, 5, strides=2, padding="same", dtype=dtype, name=f"tconv{i}")(x)
        x = layers.ReLU(dtype=dtype, name=f"relu{i + 1}")(x) if i < len(widths) else layers.Activation("tanh", name="tanh")(x)
    return keras.Model(z, x, name=name)


def build_specgan_discriminator(d: int = 64, *, channels: int = 1, dtype: str | None = None, name: str = "specgan_discriminator") -> keras.Model:
    """Table III's discriminator (critic): ``(batch, 128, 128, channels)`` -> ``(batch, 1)``. ``dtype`` is the Keras dtype policy of every layer but the output (``None``: float32; ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights), which stays float32."""
    disable_tf_remapper()  # the same kernels in every process, whatever was built before
    if d < 1:
        raise ParameterError(f"model size d={d}; must be >= 1")
    x_in = keras.Input((FRAMES, BINS, channels), name="spectrogram")
    x = x_in
    for i, width in enumerate([d, 2 * d, 4 * d, 8 * d, 16 * d], 1):
        x = layers.Conv2D(width, 5, strides=2, padding="same", dtype=dtype, name=f"conv{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, dtype=dtype, name=f"lrelu{i}")(x)
    x = layers.Reshape((256 * d,), dtype=dtype, name="reshape")(x)
    return keras.Model(x_in, layers.Dense(1, name="critic")(x), name=name)

