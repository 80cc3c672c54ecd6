"""adcrnn_lib.models: shapes, parameter count, dilated BiLSTM, attention, gradients, saving, JAX."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from adcrnn_lib.models import Attention, DilatedRNN, bf16_supported, build_adcrnn
from adcrnn_lib.profiles import PROFILES


def _paper_param_count(frames=300, bands=40, classes=7) -> int:
    """ADCRNN's parameters with the paper's widths, derived layer by layer."""
    conv = lambda k, cin, cout: k * k * cin * cout + cout  # noqa: E731
    dense = lambda cin, cout: cin * cout + cout  # noqa: E731
    lstm = lambda cin, h: 4 * h * (cin + h + 1)  # noqa: E731  kernel, recurrent kernel, bias
    pooled_bands = (bands - 2) // 4  # valid 3x3 conv, then max-pool 2x4
    total = conv(3, 3, 128)  # conv1
    total += conv(1, 128, 256)  # skip projection 128 -> 256
    total += conv(3, 128, 256) + 2 * conv(3, 256, 256)  # three dilated convolutions
    total += dense(pooled_bands * 256, 512) + 4 * 512  # linear + batch norm (gamma, beta, mean, var)
    total += 2 * lstm(512, 256) + 2 * lstm(512, 256)  # two BiLSTMs, 256 per direction
    total += 512  # attention vector Z
    total += dense(512, 64) + dense(64, classes)  # FC 64 and the logits
    return total


def test_paper_parameter_count():
    model = build_adcrnn(profile="paper", dtype="float32")
    assert model.count_params() == _paper_param_count() == 5_877_767


@pytest.mark.parametrize("profile", list(PROFILES))
def test_output_shapes(profile):
    model = build_adcrnn((300, 40, 3), 7, profile=profile)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 7), (None, PROFILES[profile].embedding_units)]
    assert model.get_layer("maxpool").output.shape[1:3] == (149, 9)
    assert model.get_layer("bilstm2").output.shape[1:] == (149, 2 * PROFILES[profile].lstm_units)


def test_forward_pass_and_dtypes():
    model = build_adcrnn((60, 40, 3), 5, profile="cpu")
    logits, emb = model(np.random.default_rng(0).normal(size=(2, 60, 40, 3)).astype("float32"))
    assert logits.shape == (2, 5) and emb.shape == (2, 64)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"
    expected = "bfloat16" if PROFILES["cpu"].mixed_precision and bf16_supported() else "float32"
    assert model.get_layer("conv1").compute_dtype == expected
    assert model.get_layer("conv1").variable_dtype == "float32"


def test_no_attention_model_pools_by_mean():
    model = build_adcrnn((60, 40, 3), 7, profile="smoke", attention=False)
    names = [layer.name for layer in model.layers]
    assert "mean_over_time" in names and "attention" not in names


def _interleaved_reference(inner, x: np.ndarray, d: int) -> np.ndarray:
    """Run ``inner`` on each subsequence x[:, k::d] separately and put the outputs back in order."""
    out = None
    for k in range(d):
        y = keras.ops.convert_to_numpy(inner(x[:, k::d]))
        if out is None:
            out = np.zeros((x.shape[0], x.shape[1], y.shape[-1]), np.float32)
        out[:, k::d] = y
    return out


@pytest.mark.parametrize("steps, d", [(12, 1), (12, 2), (13, 2), (14, 3), (7, 4)])
def test_dilated_bilstm_equals_interleaved_subsequences(steps, d):
    keras.utils.set_random_seed(1)
    inner = layers.Bidirectional(layers.LSTM(5, return_sequences=True))
    dilated = DilatedRNN(inner, d)
    x = np.random.default_rng(2).normal(size=(3, steps, 4)).astype("float32")
    got = keras.ops.convert_to_numpy(dilated(x))
    np.testing.assert_allclose(got, _interleaved_reference(inner, x, d), atol=1e-5)


def test_dilation_links_states_d_steps_apart():
    """With dilation 2 a forward LSTM's output at step t depends on steps t, t-2, ... only."""
    keras.utils.set_random_seed(3)
    dilated = DilatedRNN(layers.LSTM(3, return_sequences=True), 2)
    x = np.random.default_rng(4).normal(size=(1, 8, 2)).astype("float32")
    base = keras.ops.convert_to_numpy(dilated(x))
    x2 = x.copy()
    x2[0, 3] += 5.0  # perturb an odd step
    moved = np.abs(keras.ops.convert_to_numpy(dilated(x2)) - base).max(axis=-1)[0]
    np.testing.assert_array_equal(moved[[0, 1, 2, 4, 6]], 0)  # earlier steps and the even chain untouched
    assert np.all(moved[[3, 5, 7]] > 0)


def test_attention_weights_sum_to_one_and_match_eqs_4_5(rng):
    att = Attention(return_weights=True)
    h = rng.normal(size=(4, 9, 6)).astype("float32")
    context, alpha = (keras.ops.convert_to_numpy(t) for t in att(h))
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    z = keras.ops.convert_to_numpy(att.z)[:, 0]
    scores = h @ z
    ref_alpha = np.exp(scores - scores.max(1, keepdims=True))
    ref_alpha /= ref_alpha.sum(1, keepdims=True)
    np.testing.assert_allclose(alpha, ref_alpha, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, (ref_alpha[:, :, None] * h).sum(1), rtol=1e-5, atol=1e-5)


def test_every_trainable_weight_gets_a_gradient():
    import tensorflow as tf

    from adcrnn_lib.losses import attach_loss

    keras.utils.set_random_seed(0)
    model = attach_loss(build_adcrnn((40, 40, 3), 7, profile="smoke", dtype="float32"), "lf1")
    x = np.random.default_rng(0).normal(size=(8, 40, 40, 3)).astype("float32")
    y = np.arange(8) % 7
    with tf.GradientTape() as tape:
        logits = model([x, y], training=True)
        loss = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        loss = tf.reduce_mean(loss) + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_weights)
    missing = [w.path for w, g in zip(model.trainable_weights, grads) if g is None or not np.any(g.numpy())]
    assert missing == []
    assert len(model.trainable_weights) > 20


def test_graph_and_eager_agree():
    """The model computes the same compiled (training, prediction) as called eagerly (and on JAX), at any batch size.

    On TensorFlow 2.21 this needs the grappler remapper off (models.disable_tf_remapper): with it,
    the first trace at a fixed batch size computed LeakyReLU with slope 0.2 instead of 0.01.
    """
    keras.utils.set_random_seed(0)
    model = build_adcrnn((300, 40, 3), 7, profile="smoke", dtype="float32")
    x = np.random.default_rng(0).normal(size=(3, 300, 40, 3)).astype("float32")
    eager = keras.ops.convert_to_numpy(model(x, training=False)[0])
    alone = np.concatenate([np.asarray(model.predict_on_batch(x[i : i + 1])[0]) for i in range(3)])  # first trace: batch 1
    together = np.asarray(model.predict_on_batch(x)[0])
    np.testing.assert_allclose(alone, eager, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(together, eager, rtol=1e-4, atol=1e-5)


def test_save_and_load_in_safe_mode(tmp_path):
    model = build_adcrnn((40, 40, 3), 7, profile="smoke")
    x = np.random.default_rng(0).normal(size=(2, 40, 40, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path, safe_mode=True)
    for a, b in zip(model.predict(x, verbose=0), again.predict(x, verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
