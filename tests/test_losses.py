"""adcrnn_lib.losses: NumPy references, centers that really move, training lowers each loss."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from adcrnn_lib import losses
from adcrnn_lib.exceptions import ParameterError
from adcrnn_lib.models import build_adcrnn
from adcrnn_lib.train import compile_for_training


def _np(t):
    return keras.ops.convert_to_numpy(t)


@pytest.fixture
def batch(rng):
    x = rng.normal(size=(12, 5)).astype("float32")
    y = rng.integers(0, 4, size=12)
    c = rng.normal(size=(4, 5)).astype("float32")
    return x, y, c


def test_center_loss_reference(batch):
    x, y, c = batch
    ref = np.mean([0.5 * np.sum((x[i] - c[y[i]]) ** 2) for i in range(len(x))])
    assert float(_np(losses.center_loss(x, y, c))) == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize("delta", [1.0, 0.1])
def test_contrastive_center_loss_reference(batch, delta):
    x, y, c = batch
    terms = []
    for i in range(len(x)):
        own = np.sum((x[i] - c[y[i]]) ** 2)
        others = sum(np.sum((x[i] - c[j]) ** 2) for j in range(len(c)) if j != y[i])
        terms.append(0.5 * own / (others + delta))
    assert float(_np(losses.contrastive_center_loss(x, y, c, delta=delta))) == pytest.approx(np.mean(terms), rel=1e-5)


def test_update_centers_reference(batch):
    x, y, c = batch
    y = y.copy()
    y[y == 3] = 0  # class 3 absent from the batch
    ref = c.copy()
    for j in range(len(c)):
        members = x[y == j]
        ref[j] = c[j] - 0.5 * np.sum(c[j] - members, axis=0) / (1 + len(members))
    got = _np(losses.update_centers(x, y, c, alpha=0.5))
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got[3], c[3])


def test_centers_move_to_their_class_means(rng):
    means = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]], dtype="float32")
    layer = losses.CenterLoss(3, epsilon=0.5, alpha=0.5)
    for _ in range(60):
        y = rng.integers(0, 3, size=24)
        x = (means[y] + 0.1 * rng.normal(size=(24, 3))).astype("float32")
        layer([x, y, x], training=True)
    np.testing.assert_allclose(_np(layer.centers), means, atol=0.1)
    before = _np(layer.centers).copy()
    layer([x, y, x], training=False)  # inference leaves the centers alone
    np.testing.assert_array_equal(_np(layer.centers), before)


@pytest.mark.parametrize("kwargs, message", [({"epsilon": 0.0}, "epsilon"), ({"epsilon": 1.5}, "epsilon"), ({"alpha": 0.0}, "alpha"), ({"kind": "triplet"}, "kind")])
def test_center_loss_layer_rejects(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        losses.CenterLoss(3, **kwargs)


def test_attach_loss_rejects_unknown():
    with pytest.raises(ParameterError, match="allowed: lf1, lf2, lf3, lf4"):
        losses.attach_loss(build_adcrnn((40, 40, 3), 3, profile="smoke"), "lf5")


@pytest.mark.parametrize("loss", ["lf1", "lf2", "lf3", "lf4"])
def test_training_lowers_the_loss(loss, monkeypatch):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = np.arange(64) % 4
    x = (rng.normal(size=(64, 40, 40, 3)) + y[:, None, None, None]).astype("float32")
    base = build_adcrnn((40, 40, 3), 4, profile="smoke")
    model = losses.attach_loss(base, loss, epsilon=0.1)
    compile_for_training(model, keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    traces = []  # train_step's Python body runs once per trace (or once per batch on an eager backend)
    monkeypatch.setattr(type(model), "train_step", lambda self, data, _step=type(model).train_step: traces.append(1) or _step(self, data))
    hist = model.fit([x, y], y, epochs=4, batch_size=16, verbose=0).history["loss"]
    assert hist[-1] < hist[0]
    if keras.backend.backend() == "tensorflow":
        assert len(traces) == 1  # the optimizer's slots exist before the first trace, so TensorFlow does not trace again
    if loss == "lf2":
        assert not any(layer.name == "center_loss" for layer in model.layers) and not model.losses
    else:
        layer = model.get_layer("center_loss")
        assert layer.kind == ("contrastive" if loss == "lf4" else "center")
        # lf3 keeps one center per class in logit space, lf1 and lf4 in embedding space
        embedding_dim = base.outputs[1].shape[-1]
        assert embedding_dim != 4  # so the two cases can be told apart
        assert _np(layer.centers).shape == (4, 4 if loss == "lf3" else embedding_dim)
        assert np.abs(_np(layer.centers)).sum() > 0  # the centers moved away from zero


def test_center_term_is_in_the_training_loss():
    keras.utils.set_random_seed(0)
    base = build_adcrnn((40, 40, 3), 3, profile="smoke", dtype="float32")
    model = losses.attach_loss(base, "lf1", epsilon=0.5)
    x = np.random.default_rng(0).normal(size=(6, 40, 40, 3)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2])
    model([x, y], training=False)
    (term,) = model.losses
    emb = _np(base(x, training=False)[1])
    centers = _np(model.get_layer("center_loss").centers)
    ref = 0.5 * np.mean(np.sum((emb - centers[y]) ** 2, axis=1))
    assert float(_np(term)) == pytest.approx(0.5 * ref, rel=1e-4)
