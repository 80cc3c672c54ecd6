"""WaveGAN (Donahue, McAuley and Puckette, ICLR 2019; the paper's Table II), in ``keras.ops``.

Generator: ``z`` of 100 dimensions, uniform in [-1, 1] -> Dense to 16 x 16D -> ReLU -> five
transposed 1D convolutions (kernel 25, stride 4) with ReLU between them -> tanh: 16384 samples
(1.024 s at 16 kHz). Discriminator: five 1D convolutions (kernel 25, stride 4), LeakyReLU 0.2, phase
shuffle (n = 2) after the first four, no batch norm, Dense to one critic value. ``D`` is the model
size (64 in the paper). Where the paper's table and the WaveGAN paper differ in details, the
WaveGAN paper and its public code are followed: ``same`` padding, one phase per batch.

This module holds the networks; training (WGAN-GP) lives in :mod:`adcrnn_lib.augment.gan`.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from ..exceptions import ParameterError
from ..models import disable_tf_remapper

__all__ = ["SLICE_SAMPLES", "LATENT_DIM", "PhaseShuffle", "build_wavegan_generator", "build_wavegan_discriminator"]

#: Samples per generated clip (1.024 s at 16 kHz).
SLICE_SAMPLES = 16384
#: Dimensions of the latent vector z.
LATENT_DIM = 100
_KERNEL = 25
_STRIDE = 4


@keras.saving.register_keras_serializable(package="adcrnn")
class PhaseShuffle(layers.Layer):
    """Shift the time axis by a random ``k`` in ``[-n, n]``, filling with reflection (training only).

    As in WaveGAN's code, one ``k`` is drawn per batch. Input and output are ``(batch, steps,
    channels)``; outside training the layer is the identity.

    Parameters
    ----------
    n : int
        Largest shift in steps.
    seed : int, optional
        Seed of the shift generator.
    """

    def __init__(self, n: int = 2, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(n, int) or n < 0:
            raise ParameterError(f"n={n!r}; must be an integer >= 0")
        self.n = n
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def shift(self, x, k):
        """``x`` shifted by ``k`` steps (content moves later for ``k > 0``), reflection-padded."""
        steps = x.shape[1]
        padded = ops.pad(x, [[0, 0], [self.n, self.n], [0, 0]], mode="reflect")
        start = ops.cast(self.n - k, "int32")
        return ops.slice(padded, [0, start, 0], [ops.shape(x)[0], steps, x.shape[2]])

    def call(self, x, training=None):
        if not training or self.n == 0:
            return x
        k = keras.random.randint((), -self.n, self.n + 1, seed=self.seed_generator)
        return self.shift(x, k)

    def get_config(self) -> dict:
        return {**super().get_config(), "n": self.n, "seed": self.seed}


def build_wavegan_generator(d: int = 64, *, channels: int = 1, dtype: str | None = None, name: str = "wavegan_generator") -> keras.Model:
    """Table II's generator for model size ``d``: ``(batch, 100)`` -> ``(batch, 16384, channels)``. ``dtype`` is the Keras dtype policy of every layer but the output (``None``: float32; ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights), which stays float32."""
    disable_tf_remapper()  # the same kernels in every process, whatever was built before
    if d < 1:
        raise ParameterError(f"model size d={d}; must be >= 1")
    z = keras.Input((LATENT_DIM,), name="z")
    x = layers.Dense(256 * d, dtype=dtype, name="dense")(z)
    x = layers.Reshape((16, 16 * d), dtype=dtype, name="reshape")(x)
    x = layers.ReLU(dtype=dtype, name="relu1")(x)
    widths = [8 * d, 4 * d, 2 * d, d, channels]
    for i, width in enumerate(widths, 1):
        x = layers.Conv1DTranspose(width, _KERNEL, strides=_STRIDE, padding="same", dtype=dtype, name=f"tconv{i}")(x)
        x = layers.ReLU(dtype=dtype, name=f"relu{i + 1}")(x) if i < len(widths) else layers.Activation("tanh", name="tanh")(x)
    return keras.Model(z, x, name=name)


def build_wavegan_discriminator(d: int = 64, *, channels: int = 1, phase_shuffle: int = 2, seed: int | None = None, dtype: str | None = None, name: str = "wavegan_discriminator") -> keras.Model:
    """Table II's discriminator (critic): ``(batch, 16384, channels)`` -> ``(batch, 1)``. ``dtype`` is the Keras dtype policy of every layer but the output (``None``: float32; ``"mixed_bfloat16"`` computes in bfloat16 with float32 weights), which stays float32."""
    disable_tf_remapper()  # the same kernels in every process, whatever was built before
    if d < 1:
        raise ParameterError(f"model size d={d}; must be >= 1")
    x_in = keras.Input((SLICE_SAMPLES, channels), name="audio")
    x = x_in
    widths = [d, 2 * d, 4 * d, 8 * d, 16 * d]
    for i, width in enumerate(widths, 1):
        x = layers.Conv1D(width, _KERNEL, strides=_STRIDE, padding="same", dtype=dtype, name=f"conv{i}")(x)
        x = layers.LeakyReLU(negative_slope=0.2, dtype=dtype, name=f"lrelu{i}")(x)
        if i < len(widths):
            x = PhaseShuffle(phase_shuffle, seed=None if seed is None else seed + i, dtype=dtype, name=f"phase_shuffle{i}")(x)
    x = layers.Reshape((256 * d,), dtype=dtype, name="reshape")(x)
    return keras.Model(x_in, layers.Dense(1, name="critic")(x), name=name)
