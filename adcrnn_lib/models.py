"""ADCRNN: attention-based dilated convolutional-recurrent network (paper section III-C, Fig. 5).

Written with ``keras`` and ``keras.ops`` only, so the same code runs on the TensorFlow backend (the
default) and on JAX.

Architecture, for an input of ``(300, 40, 3)`` and the ``paper`` widths::

    conv1          Conv2D 128, 3x3, stride 1, valid          -> (298, 38, 128)
    maxpool        MaxPool 2x4, stride 2x4, valid            -> (149, 9, 128)
    dilated_conv1  Conv2D 256, 3x3, same, dilation 2         -> (149, 9, 256)
    dilated_conv2  Conv2D 256, 3x3, same, dilation 2         -> (149, 9, 256)
    dilated_conv3  Conv2D 256, 3x3, same, dilation 2         -> (149, 9, 256)
    residual       dilated_conv3 + skip_projection(maxpool)  -> (149, 9, 256)
    time_major     reshape                                   -> (149, 2304)
    linear         Dense 512, then linear_bn (batch norm)    -> (149, 512)
    bilstm1        BiLSTM, dilation 1, 256 per direction     -> (149, 512)
    bilstm2        BiLSTM, dilation 2, 256 per direction     -> (149, 512)
    attention      eqs. 4-5                                  -> (512,)
    embedding      Dense 64 (the FC 64 of the paper)         -> (64,)
    dropout        0.5
    logits         Dense num_classes                         -> (7,)

Decisions where the paper is silent (see also the book's method chapter):

* **Activations**: leaky ReLU (slope 0.01) after each convolution, as ACRNN; none after the linear
  layer (it is followed by batch norm); ReLU on the 64-unit embedding.
* **Residual skip**: the three dilated convolutions change 128 channels to 256, so the skip is a
  1x1 convolution (``skip_projection``) of the max-pool output, added to the output of the third
  dilated convolution before its activation (as in ResNet's projection shortcut). No batch norm
  after the dilated convolutions, as the paper says.
* **"Each LSTM cell has 512 units ... 512-dimensional representations"** is read as 256 units per
  direction, so the concatenated forward and backward states are 512-dimensional.
* **Dilated BiLSTM**: a layer of dilation ``d`` links each state to the one ``d`` steps back (Chang
  et al., 2017). It is computed exactly as ``d`` interleaved subsequences (steps ``k, k+d, k+2d,
  ...``) run through one BiLSTM as a batch; when the length is not a multiple of ``d`` the shorter
  subsequences are padded and masked, so padding never enters a state.
* **Attention**: eq. 5's ``Z . h`` is read as a dot product (a scalar score per step): a trainable
  vector ``Z``, softmax over time, weighted sum of the BiLSTM states (eq. 4).
* **Without attention** (Table IV, model 1): the states are averaged over time.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path

import keras
from keras import layers, ops

from .exceptions import ParameterError
from .profiles import Profile, get_profile

__all__ = ["DilatedRNN", "Attention", "build_adcrnn", "dtype_policy", "bf16_supported", "disable_tf_remapper", "seed_keras"]


@keras.saving.register_keras_serializable(package="adcrnn")
class DilatedRNN(layers.Layer):
    """Run a sequence layer with dilation ``d``: on ``d`` interleaved subsequences as one batch.

    Parameters
    ----------
    layer : keras.layers.Layer
        A recurrent layer (e.g. ``Bidirectional(LSTM(..., return_sequences=True))``) mapping
        ``(batch, steps, features)`` to ``(batch, steps, units)``.
    dilation : int
        ``d >= 1``; ``1`` is the plain layer.

    Notes
    -----
    Input ``(B, T, F)`` is padded to ``T' = d * ceil(T / d)`` steps, reshaped so that
    subsequence ``k`` holds steps ``k, k + d, ...``, run as a batch of ``B * d`` sequences of
    ``T' / d`` steps with the padded steps masked, and put back in time order.
    """

    def __init__(self, layer: layers.Layer, dilation: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(dilation, int) or dilation < 1:
            raise ParameterError(f"dilation={dilation!r}; must be an integer >= 1")
        self.layer = layer
        self.dilation = dilation

    def build(self, input_shape) -> None:
        steps = input_shape[1]
        if steps is None:
            raise ParameterError("DilatedRNN needs a fixed number of time steps")
        d = self.dilation
        self.layer.build((None, -(-steps // d), input_shape[2]))

    def call(self, x, training=None):
        d = self.dilation
        if d == 1:
            return self.layer(x, training=training)
        steps, feats = x.shape[1], x.shape[2]
        pad = (-steps) % d
        sub = (steps + pad) // d
        if pad:
            x = ops.pad(x, [[0, 0], [0, pad], [0, 0]])
        x = ops.reshape(x, (-1, sub, d, feats))
        x = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, sub, feats))
        mask = None
        if pad:
            valid = ops.arange(sub * d) < steps  # time order, before interleaving
            valid = ops.reshape(ops.transpose(ops.reshape(valid, (sub, d)), (1, 0)), (1, d, sub))
            mask = ops.reshape(ops.broadcast_to(valid, (ops.shape(x)[0] // d, d, sub)), (-1, sub))
        y = self.layer(x, mask=mask, training=training) if mask is not None else self.layer(x, training=training)
        units = y.shape[-1]
        y = ops.transpose(ops.reshape(y, (-1, d, sub, units)), (0, 2, 1, 3))
        return ops.reshape(y, (-1, sub * d, units))[:, :steps]

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((input_shape[0], input_shape[1], input_shape[2]))
        return (input_shape[0], input_shape[1], inner[-1])

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer), "dilation": self.dilation}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["layer"] = keras.saving.deserialize_keras_object(config["layer"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="adcrnn")
class Attention(layers.Layer):
    """Attention pooling of eqs. 4-5: ``alpha = softmax_t(Z . h_t)``, output ``sum_t alpha_t h_t``.

    Parameters
    ----------
    return_weights : bool
        Also return the weights ``alpha``, shape ``(batch, steps)``.
    """

    def __init__(self, return_weights: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.return_weights = return_weights

    def build(self, input_shape) -> None:
        self.z = self.add_weight(name="Z", shape=(input_shape[-1], 1), initializer="glorot_uniform")

    def call(self, h):
        scores = ops.squeeze(ops.matmul(h, ops.cast(self.z, h.dtype)), axis=-1)
        alpha = ops.softmax(ops.cast(scores, "float32"), axis=-1)  # softmax over time, in float32
        context = ops.sum(h * ops.cast(alpha, h.dtype)[:, :, None], axis=1)
        return (context, alpha) if self.return_weights else context

    def compute_output_shape(self, input_shape):
        out = (input_shape[0], input_shape[-1])
        return (out, (input_shape[0], input_shape[1])) if self.return_weights else out

    def get_config(self) -> dict:
        return {**super().get_config(), "return_weights": self.return_weights}


def seed_keras(seed: int) -> None:
    """Seed Python, NumPy and the backend (:func:`keras.utils.set_random_seed`), and give Keras a
    stream of initializer seeds of its own.

    Keras draws the seed of every initializer built without one from Python's process-wide
    ``random`` module (``keras.src.random.seed_generator.make_default_seed``). Any other thread that
    draws from it between two layers changes the weights: a Dask worker's event loop does, so the
    same fold trained on a worker started from other weights than in a plain process. Keras gets
    a private ``random.Random(seed)`` instead, which yields exactly the draws the global module
    would have yielded with no other thread, so runs in a plain process are unchanged
    (``tests/test_distributed.py`` checks both).
    """
    keras.utils.set_random_seed(seed)
    from keras.src.random import seed_generator

    if not callable(getattr(seed_generator, "make_default_seed", None)) or not hasattr(seed_generator, "python_random"):
        raise RuntimeError(f"keras {keras.__version__}: keras.src.random.seed_generator no longer draws from python_random; update adcrnn_lib.models.seed_keras")
    seed_generator.python_random = random.Random(seed)


def disable_tf_remapper() -> None:
    """Turn off TensorFlow's grappler *remapper* (a no-op on other backends).

    TensorFlow 2.21's remapper fuses ``Conv2D -> BiasAdd (-> Add) -> LeakyRelu`` into one kernel
    and loses LeakyReLU's ``negative_slope`` on the way, computing the default 0.2 instead of the
    0.01 this model asks for. It does so only in functions traced for a fixed batch size: the first
    trace of ``fit``'s training step and of ``predict_on_batch`` at each shape, while the trace
    Keras relaxes to any batch size (after a last, smaller batch) computes 0.01. Left on, the same
    weights gave predictions differing by up to half their scale between batches of one epoch's
    validation, and training mixed both activations. Every model of this package is built after
    this call, so compiled and eager calls agree (``tests/test_models.py``).
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.optimizer.set_experimental_options({"remapping": False})


@functools.lru_cache(maxsize=1)
def bf16_supported() -> bool:
    """Whether this machine computes bfloat16 natively: a GPU backend device, or a CPU with
    AVX512-BF16 or AMX-BF16 (elsewhere bfloat16 is emulated and slower than float32)."""
    if keras.backend.backend() == "jax":
        import jax

        if any(dev.platform == "gpu" for dev in jax.devices()):
            return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def dtype_policy(profile: Profile) -> str:
    """``"mixed_bfloat16"`` when the profile asks for it and :func:`bf16_supported`, else ``"float32"``."""
    return "mixed_bfloat16" if profile.mixed_precision and bf16_supported() else "float32"


def build_adcrnn(
    input_shape: tuple[int, int, int] = (300, 40, 3),
    num_classes: int = 7,
    *,
    profile: str | Profile = "paper",
    attention: bool = True,
    dtype: str | None = None,
) -> keras.Model:
    """Build ADCRNN (see the module docstring for the layers and the decisions behind them).

    Parameters
    ----------
    input_shape : tuple of int
        ``(frames, mel_bands, 3)``.
    num_classes : int
        Number of emotions ``E``.
    profile : str or Profile
        Sets the widths (``paper``: 128, 256, 512, 256 per LSTM direction, 64) and the dtype policy.
    attention : bool
        Use the attention layer; ``False`` averages the BiLSTM states over time (Table IV, model 1).
    dtype : str, optional
        Keras dtype policy, overriding the profile's (e.g. ``"float32"``). The logits are float32
        whatever the policy.

    Returns
    -------
    keras.Model
        Input ``features``; outputs ``[logits, embedding]`` of shapes ``(batch, num_classes)`` and
        ``(batch, embedding_units)``.
    """
    disable_tf_remapper()
    prof = get_profile(profile)
    if len(input_shape) != 3:
        raise ParameterError(f"input_shape={input_shape!r}; expected (frames, mel_bands, channels)")
    if num_classes < 2:
        raise ParameterError(f"num_classes={num_classes}; must be >= 2")
    policy = dtype or dtype_policy(prof)

    def leaky(name: str) -> layers.Layer:
        return layers.LeakyReLU(negative_slope=0.01, name=name, dtype=policy)

    inputs = keras.Input(shape=input_shape, name="features")
    x = layers.Conv2D(prof.conv_filters, 3, padding="valid", name="conv1", dtype=policy)(inputs)
    x = leaky("conv1_act")(x)
    x = layers.MaxPooling2D((2, 4), strides=(2, 4), padding="valid", name="maxpool", dtype=policy)(x)
    skip = layers.Conv2D(prof.dilated_filters, 1, name="skip_projection", dtype=policy)(x)
    for i in (1, 2, 3):
        x = layers.Conv2D(prof.dilated_filters, 3, padding="same", dilation_rate=2, name=f"dilated_conv{i}", dtype=policy)(x)
        if i < 3:
            x = leaky(f"dilated_conv{i}_act")(x)
    x = layers.Add(name="residual", dtype=policy)([x, skip])
    x = leaky("residual_act")(x)
    steps, bands, channels = x.shape[1], x.shape[2], x.shape[3]
    x = layers.Reshape((steps, bands * channels), name="time_major", dtype=policy)(x)
    x = layers.Dense(prof.linear_units, name="linear", dtype=policy)(x)
    x = layers.BatchNormalization(momentum=prof.bn_momentum, name="linear_bn", dtype=policy)(x)
    for i, d in enumerate((1, 2), 1):
        lstm = layers.LSTM(prof.lstm_units, return_sequences=True, name=f"lstm{i}", dtype=policy)
        x = DilatedRNN(layers.Bidirectional(lstm, name=f"bilstm{i}_inner", dtype=policy), d, name=f"bilstm{i}", dtype=policy)(x)
    if attention:
        x = Attention(name="attention", dtype=policy)(x)
    else:
        x = layers.GlobalAveragePooling1D(name="mean_over_time", dtype=policy)(x)
    embedding = layers.Dense(prof.embedding_units, activation="relu", name="embedding", dtype=policy)(x)
    x = layers.Dropout(prof.dropout, name="dropout", dtype=policy)(embedding)
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    embedding_out = layers.Activation("linear", name="embedding_out", dtype="float32")(embedding)
    name = "adcrnn" if attention else "adcrnn_no_attention"
    return keras.Model(inputs, [logits, embedding_out], name=name)
