"""The JAX-backend checks, run by the tests in one subprocess (``KERAS_BACKEND=jax``).

Importing JAX and Keras once for all checks saves process start-ups. Each check prints
``<name> ok`` on success or its traceback on stderr, and the next still runs; the tests of
``tests/test_jax.py`` read their own line. Run from a temporary folder: the GAN check writes a checkpoint there.
"""

from __future__ import annotations

import sys
import traceback

import keras
import numpy as np


def models() -> None:
    """ADCRNN with each loss trains (the loss falls, the centers move) and the dilated BiLSTM matches its definition."""
    from adcrnn_lib.losses import attach_loss
    from adcrnn_lib.models import DilatedRNN, build_adcrnn

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.arange(64) % 4
    x = (rng.normal(size=(64, 40, 40, 3)) + y[:, None, None, None]).astype("float32")
    for loss in ("lf1", "lf2", "lf3", "lf4"):
        model = attach_loss(build_adcrnn((40, 40, 3), 4, profile="smoke"), loss)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        hist = model.fit([x, y], y, epochs=4, batch_size=16, verbose=0).history["loss"]
        assert hist[-1] < hist[0], (loss, hist)
        if loss != "lf2":
            assert np.abs(keras.ops.convert_to_numpy(model.get_layer("center_loss").centers)).sum() > 0
        print(loss, [round(v, 3) for v in hist])
    inner = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))
    xs = rng.normal(size=(2, 7, 2)).astype("float32")
    got = keras.ops.convert_to_numpy(DilatedRNN(inner, 2)(xs))
    ref = np.zeros_like(got)
    for k in range(2):
        ref[:, k::2] = keras.ops.convert_to_numpy(inner(xs[:, k::2]))
    np.testing.assert_allclose(got, ref, atol=1e-5)


def gan() -> None:
    """WGAN-GP trains, resumes from a checkpoint exactly, and its gradient penalty is right by hand."""
    from adcrnn_lib.augment.gan import WGANGP, GanSettings, gradient_penalty, wave_sampler

    s = dict(size=2, batch_size=4, critic_steps=2, checkpoint_every=1)
    sampler = wave_sampler([np.random.default_rng(i).normal(0, 0.1, 20000).astype("float32") for i in range(2)])
    straight = WGANGP(GanSettings("wavegan", steps=3, **s), seed=1)
    straight.train(sampler)
    WGANGP(GanSettings("wavegan", steps=1, **s), seed=1).train(sampler, checkpoint="ck.npz")
    resumed = WGANGP(GanSettings("wavegan", steps=3, **s), seed=1)
    resumed.train(sampler, checkpoint="ck.npz")
    assert resumed.history["critic_loss"] == straight.history["critic_loss"]
    assert np.all(np.isfinite(straight.history["gradient_penalty"]))
    critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    critic.layers[0].set_weights([np.array([[2.0], [1.0], [2.0]], "float32"), np.zeros(1, "float32")])
    assert abs(gradient_penalty(critic, np.ones((2, 3)), np.zeros((2, 3)), [0.2, 0.7]) - 4.0) < 1e-4


def timnet() -> None:
    """The TIM-Net calibration model trains on the JAX backend (its row is trained there), and its records say so."""
    from adcrnn_lib.experiments.timnet import build_timnet
    from adcrnn_lib.provenance import provenance

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.arange(32) % 4
    x = (rng.normal(size=(32, 24, 39)) + y[:, None, None]).astype("float32")
    model = build_timnet((24, 39), 4, dilations=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1))
    hist = model.fit(x, np.eye(4, dtype="float32")[y], epochs=5, batch_size=8, verbose=0).history["loss"]
    assert hist[-1] < hist[0], hist
    assert provenance(profile="timnet")["keras_backend"] == "jax"


if __name__ == "__main__":
    assert keras.backend.backend() == "jax", keras.backend.backend()
    for check in (models, gan, timnet):
        try:
            check()
            print(f"{check.__name__} ok", flush=True)
        except Exception:
            print(f"--- {check.__name__} failed", file=sys.stderr)
            traceback.print_exc()
