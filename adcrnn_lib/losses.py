"""The four loss functions of the paper (section IV-B), in ``keras.ops`` only.

* ``lf1``: softmax cross-entropy + epsilon x center loss on the 64-d embedding (eqs. 6-8), the
  paper's own;
* ``lf2``: softmax cross-entropy only;
* ``lf3``: softmax cross-entropy + epsilon x center loss on the ``E`` class logits, as ADRNN
  (Meng et al. 2019);
* ``lf4``: softmax cross-entropy + epsilon x contrastive-center loss on the embedding (Qi and Su
  2017): the squared distance to the own center over the summed squared distances to the other
  centers plus ``delta`` (1).

How the centers move
--------------------
With the center-update rule of Wen et al. (2016), not by gradient: after each training batch,
``c_j <- c_j - alpha * sum_{i: y_i = j} (c_j - x_i) / (1 + n_j)`` with ``alpha = 0.5``. Why: the
centers then track the class means of the current features at a rate that does not depend on the
optimizer; learned by Adam at the paper's learning rate of 1e-4, a center would move by about 1e-4
per step and lag far behind the features (the common bug of centers that never move). The same
rule serves lf4, whose contrastive denominator then pushes each feature away from the *other*
centers through the gradient on the features. Centers start at zero, as in Wen et al., and are
stored as non-trainable weights, so they are saved with the model and updated on both backends.

Scale: eqs. 6-7 sum over the mini-batch; here every term is averaged over it instead (Keras's
convention for the cross-entropy), so epsilon does not depend on the batch size.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .config import LOSSES  # defined beside the other experiment choices, so that reading runs never imports Keras
from .exceptions import ParameterError

__all__ = [
    "LOSSES",
    "center_loss",
    "contrastive_center_loss",
    "update_centers",
    "CenterLoss",
    "attach_loss",
]



def _squared_distances(x, centers):
    """``||x_i - c_j||^2`` for every sample ``i`` and center ``j``: shape (batch, classes)."""
    return ops.sum(ops.square(x[:, None, :] - centers[None, :, :]), axis=-1)


def center_loss(x, labels, centers):
    """Eq. 7 averaged over the batch: ``mean_i 1/2 ||x_i - c_{y_i}||^2``.

    Parameters
    ----------
    x : tensor [shape=(batch, dim)]
    labels : tensor [shape=(batch,), int]
    centers : tensor [shape=(classes, dim)]
    """
    own = ops.take(centers, ops.cast(labels, "int32"), axis=0)
    return 0.5 * ops.mean(ops.sum(ops.square(x - own), axis=-1))


def contrastive_center_loss(x, labels, centers, *, delta: float = 1.0):
    """Qi and Su (2017) averaged over the batch.

    ``mean_i 1/2 ||x_i - c_{y_i}||^2 / (sum_{j != y_i} ||x_i - c_j||^2 + delta)``.
    """
    d2 = _squared_distances(x, centers)
    onehot = ops.one_hot(ops.cast(labels, "int32"), ops.shape(centers)[0], dtype=d2.dtype)
    own = ops.sum(d2 * onehot, axis=-1)
    others = ops.sum(d2 * (1.0 - onehot), axis=-1)
    return 0.5 * ops.mean(own / (others + delta))


def update_centers(x, labels, centers, *, alpha: float = 0.5):
    """One step of Wen et al.'s rule: ``c_j - alpha * sum_{y_i=j}(c_j - x_i) / (1 + n_j)``.

    Classes absent from the batch keep their center.
    """
    onehot = ops.one_hot(ops.cast(labels, "int32"), ops.shape(centers)[0], dtype=centers.dtype)
    counts = ops.sum(onehot, axis=0)[:, None]
    sums = ops.matmul(ops.transpose(onehot), ops.cast(x, centers.dtype))
    return centers - alpha * (counts * centers - sums) / (1.0 + counts)


@keras.saving.register_keras_serializable(package="adcrnn")
class CenterLoss(layers.Layer):
    """Adds ``epsilon`` x a center term on ``features`` to the model's loss; passes ``output`` on.

    Called as ``CenterLoss(...)([features, labels, output])``. In training it also moves the
    centers with :func:`update_centers`, using the features before this batch's gradient step.

    Parameters
    ----------
    num_classes : int
    kind : {"center", "contrastive"}
    epsilon : float
        Weight of the term, in (0, 1).
    alpha : float
        Center update rate, in (0, 1].
    delta : float
        The contrastive-center loss's constant.
    """

    def __init__(self, num_classes: int, *, kind: str = "center", epsilon: float = 0.1, alpha: float = 0.5, delta: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("center", "contrastive"):
            raise ParameterError(f"kind={kind!r}; allowed: 'center', 'contrastive'")
        if not 0.0 < epsilon < 1.0:
            raise ParameterError(f"epsilon={epsilon}; the paper takes it in (0, 1)")
        if not 0.0 < alpha <= 1.0:
            raise ParameterError(f"alpha={alpha}; must be in (0, 1]")
        self.num_classes, self.kind, self.epsilon, self.alpha, self.delta = num_classes, kind, epsilon, alpha, delta

    def build(self, input_shape) -> None:
        dim = input_shape[0][-1]
        self.centers = self.add_weight(name="centers", shape=(self.num_classes, dim), initializer="zeros", trainable=False, dtype="float32")

    def call(self, inputs, training=None):
        features, labels, output = inputs
        x = ops.cast(features, "float32")
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        centers = ops.stop_gradient(ops.convert_to_tensor(self.centers))
        if self.kind == "center":
            term = center_loss(x, labels, centers)
        else:
            term = contrastive_center_loss(x, labels, centers, delta=self.delta)
        self.add_loss(self.epsilon * term)
        if training:
            self.centers.assign(update_centers(ops.stop_gradient(x), labels, centers, alpha=self.alpha))
        return output

    def compute_output_shape(self, input_shape):
        return input_shape[2]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "kind": self.kind,
            "epsilon": self.epsilon,
            "alpha": self.alpha,
            "delta": self.delta,
        }


def attach_loss(model: keras.Model, loss: str, *, epsilon: float = 0.1, alpha: float = 0.5, delta: float = 1.0) -> keras.Model:
    """Wrap a model of :func:`~adcrnn_lib.models.build_adcrnn` for training with ``loss``.

    Parameters
    ----------
    model : keras.Model
        Outputs ``[logits, embedding]``.
    loss : {"lf1", "lf2", "lf3", "lf4"}
    epsilon, alpha, delta : float
        See :class:`CenterLoss`.

    Returns
    -------
    keras.Model
        Inputs ``[features, label]``, output the logits; the center term (if any) is added with
        ``add_loss``. Compile it with a from-logits sparse cross-entropy; it shares its weights
        with ``model``, which is what is kept for inference.
    """
    if loss not in LOSSES:
        raise ParameterError(f"loss={loss!r}; allowed: {', '.join(LOSSES)}")
    logits, embedding = model.outputs
    label = keras.Input(shape=(), dtype="int32", name="label")
    spec = LOSSES[loss]
    if spec is not None:
        on, kind = spec
        features = embedding if on == "embedding" else logits
        logits = CenterLoss(logits.shape[-1], kind=kind, epsilon=epsilon, alpha=alpha, delta=delta, name="center_loss")(
            [features, label, logits]
        )
    return keras.Model([model.inputs[0], label], logits, name=f"{model.name}_{loss}")
