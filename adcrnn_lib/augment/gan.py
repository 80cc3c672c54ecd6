"""WGAN-GP training of WaveGAN and SpecGAN, on the TensorFlow or the JAX backend.

Training follows Donahue et al. (ICLR 2019), which the paper cites for both GANs: the WGAN-GP
objective (Gulrajani et al. 2017) with a gradient penalty of weight 10, Adam (1e-4, beta1 0.5,
beta2 0.9), five critic updates per generator update and batches of 64. Latent vectors are uniform
in [-1, 1]. Training examples are random 16384-sample slices of the emotion's training utterances
(zero-padded when an utterance is shorter); for SpecGAN they are random 128-frame windows of the
utterances' encoded log spectrograms, which is the same as slicing the audio at a multiple of the
8 ms hop.

Keras 3 has no backend-neutral gradient, so :class:`WGANGP` holds one small step function per
backend: nested ``tf.GradientTape`` on TensorFlow, nested ``jax.grad`` over ``stateless_call`` on
JAX. Everything else (the networks, the losses written with ``keras.ops``, the sampling of ``z``,
of the interpolation weights and of the slices from a NumPy generator) is shared, so a run is
reproducible from its seed and a checkpoint restores it exactly.

Checkpoints (``.npz``, written atomically) hold both networks' variables, both optimizers' state,
the phase-shuffle random state, the NumPy generator's state, the step and the loss history; a
killed training resumes from the last one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from keras import ops

from ..exceptions import ParameterError, TrainingError
from ..models import seed_keras
from ..storage import atomic_write

__all__ = [
    "GAN_KINDS",
    "GAN_PRECISIONS",
    "GanSettings",
    "gradient_penalty",
    "WGANGP",
    "build_gan",
    "wave_sampler",
    "spectrogram_sampler",
]

#: The GANs this module trains.
GAN_KINDS: tuple[str, ...] = ("wavegan", "specgan")
#: The networks' computation: float32, or bfloat16 with float32 weights (Keras's mixed policy).
GAN_PRECISIONS: tuple[str, ...] = ("float32", "mixed_bfloat16")
#: On TensorFlow, a training of fewer critic updates than this (``steps * critic_steps``) runs its
#: step functions eagerly: tracing them costs more than it saves (the smoke profile's GANs). The
#: same settings always take the same path, so a resumed training matches a straight one.
TRACED_FROM_UPDATES: int = 10


@dataclass(frozen=True)
class GanSettings:
    """Sizes and optimizer of one WGAN-GP training.

    Attributes
    ----------
    kind : {"wavegan", "specgan"}
    size : int
        Model size D (64 in Tables II and III).
    batch_size : int
    steps : int
        Generator updates.
    critic_steps : int
        Critic updates per generator update (5).
    checkpoint_every : int
        Generator updates between checkpoints.
    gp_weight : float
        Weight of the gradient penalty (10).
    learning_rate, beta_1, beta_2 : float
        Adam, for both networks (1e-4, 0.5, 0.9).
    precision : {"float32", "mixed_bfloat16"}
        The networks' computation (weights, optimizer state and losses stay float32). bfloat16
        uses the CPU's native instructions where it has them (AVX512-BF16, AMX) and is a training
        detail the paper leaves open, measured in ``benchmarks/bench_gan.py``.
    """

    kind: str
    size: int = 64
    batch_size: int = 64
    steps: int = 90_000
    critic_steps: int = 5
    checkpoint_every: int = 1_000
    gp_weight: float = 10.0
    learning_rate: float = 1e-4
    beta_1: float = 0.5
    beta_2: float = 0.9
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.kind not in GAN_KINDS:
            raise ParameterError(f"GAN kind={self.kind!r}; allowed: {', '.join(GAN_KINDS)}")
        if self.precision not in GAN_PRECISIONS:
            raise ParameterError(f"GAN precision={self.precision!r}; allowed: {', '.join(GAN_PRECISIONS)}")
        for name in ("size", "batch_size", "steps", "critic_steps", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"GAN {name}={value!r}; must be an integer >= 1")

    @classmethod
    def from_profile(cls, kind: str, profile) -> GanSettings:
        """The settings a compute profile gives ``kind`` (see :mod:`adcrnn_lib.profiles`)."""
        from ..profiles import get_profile

        p = get_profile(profile)
        steps = p.wavegan_steps if kind == "wavegan" else p.specgan_steps
        return cls(kind, size=p.gan_size, batch_size=p.gan_batch_size, steps=steps, critic_steps=p.gan_critic_steps, checkpoint_every=p.gan_checkpoint_every)

    def to_dict(self) -> dict:
        """The settings as a dict; ``precision`` only when it is not float32, so that the keys and
        checkpoints of GANs trained before the field existed stay valid."""
        out = asdict(self)
        if out["precision"] == "float32":
            del out["precision"]
        return out


def build_gan(settings: GanSettings, *, seed: int = 0) -> tuple[keras.Model, keras.Model]:
    """The generator and critic of ``settings.kind`` at model size ``settings.size``."""
    dtype = None if settings.precision == "float32" else settings.precision
    if settings.kind == "wavegan":
        from .wavegan import build_wavegan_discriminator, build_wavegan_generator

        return build_wavegan_generator(settings.size, dtype=dtype), build_wavegan_discriminator(settings.size, seed=seed, dtype=dtype)
    from .specgan import build_specgan_discriminator, build_specgan_generator

    return build_specgan_generator(settings.size, dtype=dtype), build_specgan_discriminator(settings.size, dtype=dtype)


def _penalty_from_gradients(grads):
    """mean((||grad||_2 - 1)^2) over the batch, the norm taken over all non-batch axes."""
    axes = tuple(range(1, len(grads.shape)))
    norm = ops.sqrt(ops.sum(ops.square(grads), axis=axes) + 1e-12)
    return ops.mean(ops.square(norm - 1.0))


def _interpolate(real, fake, eps):
    shape = (-1,) + (1,) * (len(real.shape) - 1)
    eps = ops.reshape(ops.convert_to_tensor(eps, dtype=real.dtype), shape)
    return eps * real + (1.0 - eps) * fake


def gradient_penalty(critic: keras.Model, real, fake, eps) -> float:
    """WGAN-GP's penalty ``mean((||grad_x critic(x_hat)||_2 - 1)^2)`` at ``x_hat = eps real + (1 - eps) fake``.

    Eager helper for inspection and tests (the training steps compute the same quantity inside
    their compiled functions).

    Parameters
    ----------
    critic : keras.Model
    real, fake : array
        Batches of the critic's input shape.
    eps : array [shape=(batch,)]
        Interpolation weights in [0, 1].
    """
    real = ops.convert_to_tensor(np.asarray(real, np.float32))
    fake = ops.convert_to_tensor(np.asarray(fake, np.float32))
    x_hat = _interpolate(real, fake, np.asarray(eps, np.float32))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x_hat)
            out = critic(x_hat, training=False)
        grads = tape.gradient(out, x_hat)
    elif backend == "jax":
        import jax

        tv = [v.value for v in critic.trainable_variables]
        ntv = [v.value for v in critic.non_trainable_variables]
        grads = jax.grad(lambda x: critic.stateless_call(tv, ntv, x, training=False)[0].sum())(x_hat)
    else:  # pragma: no cover - only TF and JAX are supported
        raise TrainingError(f"GAN training supports the tensorflow and jax backends, not {backend}")
    return float(ops.convert_to_numpy(_penalty_from_gradients(grads)))


class WGANGP:
    """A generator, a critic, their optimizers, and the WGAN-GP training loop.

    Parameters
    ----------
    settings : GanSettings
    seed : int
        Seeds the networks' initial weights, phase shuffle and every random draw of training.
    """

    def __init__(self, settings: GanSettings, *, seed: int = 0) -> None:
        from .wavegan import LATENT_DIM

        self.settings = settings
        self.seed = seed
        seed_keras(seed)  # a private stream of initializer seeds: the same weights on a Dask worker
        self.generator, self.critic = build_gan(settings, seed=seed)
        self.latent_dim = LATENT_DIM
        self.g_opt = self._adam("generator_adam")
        self.d_opt = self._adam("critic_adam")
        self.g_opt.build(self.generator.trainable_variables)
        self.d_opt.build(self.critic.trainable_variables)
        self.rng = np.random.default_rng(seed)
        self.step = 0
        self.history: dict[str, list[float]] = {"step": [], "critic_loss": [], "wasserstein": [], "gradient_penalty": [], "generator_loss": []}
        self._steps = None

    def _adam(self, name: str) -> keras.optimizers.Optimizer:
        s = self.settings
        return keras.optimizers.Adam(s.learning_rate, beta_1=s.beta_1, beta_2=s.beta_2, name=name)

    # --- random draws (NumPy, so they are backend-neutral and checkpointed) ---------------------
    def sample_z(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` latent vectors, uniform in [-1, 1]."""
        return (rng or self.rng).uniform(-1.0, 1.0, (n, self.latent_dim)).astype(np.float32)

    # --- the per-backend step functions -----------------------------------------------------
    def _losses(self, d_real, d_fake, gp):
        wasserstein = ops.mean(d_real) - ops.mean(d_fake)
        return -wasserstein + self.settings.gp_weight * gp, wasserstein

    def _build_tf(self):
        import tensorflow as tf

        G, D = self.generator, self.critic

        @tf.function(reduce_retracing=True)
        def critic_step(real, z, eps):
            with tf.GradientTape() as tape:
                fake = G(z, training=True)
                d_real = D(real, training=True)
                d_fake = D(fake, training=True)
                x_hat = _interpolate(real, fake, eps)
                with tf.GradientTape() as inner:
                    inner.watch(x_hat)
                    d_hat = D(x_hat, training=True)
                gp = _penalty_from_gradients(inner.gradient(d_hat, x_hat))
                loss, wasserstein = self._losses(d_real, d_fake, gp)
            grads = tape.gradient(loss, D.trainable_variables)
            self.d_opt.apply_gradients(zip(grads, D.trainable_variables))
            return loss, wasserstein, gp

        @tf.function(reduce_retracing=True)
        def generator_step(z):
            with tf.GradientTape() as tape:
                loss = -ops.mean(D(G(z, training=True), training=True))
            grads = tape.gradient(loss, G.trainable_variables)
            self.g_opt.apply_gradients(zip(grads, G.trainable_variables))
            return loss

        s = self.settings
        if s.steps * s.critic_steps < TRACED_FROM_UPDATES:
            return critic_step.python_function, generator_step.python_function
        return critic_step, generator_step

    def _build_jax(self):
        import jax

        G, D = self.generator, self.critic

        def critic_loss(d_tv, d_ntv, g_tv, g_ntv, real, z, eps):
            fake, _ = G.stateless_call(g_tv, g_ntv, z, training=True)
            d_real, d_ntv = D.stateless_call(d_tv, d_ntv, real, training=True)
            d_fake, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            x_hat = _interpolate(real, fake, eps)
            grads = jax.grad(lambda x: D.stateless_call(d_tv, d_ntv, x, training=True)[0].sum())(x_hat)
            gp = _penalty_from_gradients(grads)
            loss, wasserstein = self._losses(d_real, d_fake, gp)
            return loss, (d_ntv, wasserstein, gp)

        @jax.jit
        def critic_step(d_tv, d_ntv, d_ov, g_tv, g_ntv, real, z, eps):
            (loss, (d_ntv, wasserstein, gp)), grads = jax.value_and_grad(critic_loss, has_aux=True)(d_tv, d_ntv, g_tv, g_ntv, real, z, eps)
            d_tv, d_ov = self.d_opt.stateless_apply(d_ov, grads, d_tv)
            return d_tv, d_ntv, d_ov, loss, wasserstein, gp

        def generator_loss(g_tv, g_ntv, d_tv, d_ntv, z):
            fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
            out, d_ntv = D.stateless_call(d_tv, d_ntv, fake, training=True)
            return -out.mean(), (g_ntv, d_ntv)

        @jax.jit
        def generator_step(g_tv, g_ntv, g_ov, d_tv, d_ntv, z):
            (loss, (g_ntv, d_ntv)), grads = jax.value_and_grad(generator_loss, has_aux=True)(g_tv, g_ntv, d_tv, d_ntv, z)
            g_tv, g_ov = self.g_opt.stateless_apply(g_ov, grads, g_tv)
            return g_tv, g_ntv, g_ov, d_ntv, loss

        def values(variables):
            return [v.value for v in variables]

        def run(real, z, eps):
            d_tv, d_ntv, d_ov, loss, w, gp = critic_step(
                values(D.trainable_variables), values(D.non_trainable_variables), values(self.d_opt.variables),
                values(G.trainable_variables), values(G.non_trainable_variables), real, z, eps,
            )
            for group, new in ((D.trainable_variables, d_tv), (D.non_trainable_variables, d_ntv), (self.d_opt.variables, d_ov)):
                for var, value in zip(group, new):
                    var.assign(value)
            return loss, w, gp

        def gen(z):
            g_tv, g_ntv, g_ov, d_ntv, loss = generator_step(
                values(G.trainable_variables), values(G.non_trainable_variables), values(self.g_opt.variables),
                values(D.trainable_variables), values(D.non_trainable_variables), z,
            )
            for group, new in ((G.trainable_variables, g_tv), (G.non_trainable_variables, g_ntv), (self.g_opt.variables, g_ov), (D.non_trainable_variables, d_ntv)):
                for var, value in zip(group, new):
                    var.assign(value)
            return loss

        return run, gen

    def _step_functions(self):
        if self._steps is None:
            backend = keras.backend.backend()
            if backend == "tensorflow":
                self._steps = self._build_tf()
            elif backend == "jax":
                self._steps = self._build_jax()
            else:
                raise TrainingError(f"GAN training supports the tensorflow and jax backends, not {backend}")
        return self._steps

    def train_step(self, sampler: Callable[[np.random.Generator, int], np.ndarray]) -> dict[str, float]:
        """One generator update after ``critic_steps`` critic updates; returns the losses."""
        critic_step, generator_step = self._step_functions()
        b = self.settings.batch_size
        for _ in range(self.settings.critic_steps):
            real = sampler(self.rng, b)
            z = self.sample_z(b)
            eps = self.rng.uniform(0.0, 1.0, b).astype(np.float32)
            loss, w, gp = critic_step(real, z, eps)
        g_loss = generator_step(self.sample_z(b))
        self.step += 1
        out = {"critic_loss": float(loss), "wasserstein": float(w), "gradient_penalty": float(gp), "generator_loss": float(g_loss)}
        if not all(np.isfinite(list(out.values()))):
            raise TrainingError(f"{self.settings.kind}: non-finite loss at step {self.step}: {out}")
        return out

    def train(
        self,
        sampler: Callable[[np.random.Generator, int], np.ndarray],
        *,
        checkpoint: str | os.PathLike | None = None,
        progress: bool = False,
        desc: str | None = None,
    ) -> dict[str, list[float]]:
        """Train to ``settings.steps`` generator updates, resuming from and writing ``checkpoint``.

        Parameters
        ----------
        sampler : callable
            ``sampler(rng, batch)`` returns a batch of real examples in the critic's input shape.
        checkpoint : path, optional
            ``.npz`` file; restored first when it exists, rewritten every ``checkpoint_every``
            steps and at the end.
        progress : bool
            A tqdm bar over steps.

        Returns
        -------
        dict
            The loss history, logged at every step.
        """
        from tqdm.auto import tqdm

        if checkpoint is not None and Path(checkpoint).exists():
            self.load(checkpoint)
        total = self.settings.steps
        with tqdm(total=total, initial=self.step, desc=desc or self.settings.kind, unit="step", disable=not progress, leave=False) as bar:
            while self.step < total:
                out = self.train_step(sampler)
                self.history["step"].append(self.step)
                for k, v in out.items():
                    self.history[k].append(v)
                bar.update(1)
                bar.set_postfix(w=f"{out['wasserstein']:.3f}", gp=f"{out['gradient_penalty']:.3f}")
                if checkpoint is not None and (self.step % self.settings.checkpoint_every == 0 or self.step == total):
                    self.save(checkpoint)
        return self.history

    def generate(self, n: int, *, seed: int = 0, batch_size: int = 64) -> np.ndarray:
        """``n`` generator outputs (not trained-mode: no dropout or phase shuffle is involved)."""
        rng = np.random.default_rng(seed)
        z = self.sample_z(n, rng)
        outs = [ops.convert_to_numpy(self.generator.predict_on_batch(z[i : i + batch_size])) for i in range(0, n, batch_size)]
        return np.concatenate(outs).astype(np.float32) if outs else np.zeros((0,) + tuple(self.generator.output_shape[1:]), np.float32)

    # --- checkpoints -------------------------------------------------------------------------
    def _variable_groups(self) -> dict[str, list]:
        # the networks' variables include phase shuffle's SeedGenerator state
        return {
            "g": self.generator.variables,
            "d": self.critic.variables,
            "g_opt": self.g_opt.variables,
            "d_opt": self.d_opt.variables,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the whole training state to ``path`` (``.npz``), atomically."""
        arrays = {}
        for group, variables in self._variable_groups().items():
            for i, var in enumerate(variables):
                arrays[f"{group}/{i}"] = np.asarray(ops.convert_to_numpy(var.value))
        meta = {"step": self.step, "settings": self.settings.to_dict(), "seed": self.seed, "rng": self.rng.bit_generator.state, "history": self.history}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with atomic_write(path) as fh:
            np.savez(fh, **arrays)

    def load(self, path: str | os.PathLike) -> None:
        """Restore the state :meth:`save` wrote; the seed and the settings must match (except ``steps`` and ``checkpoint_every``)."""
        try:
            with np.load(path) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                resumable = ("steps", "checkpoint_every")  # a run may be extended or checkpointed differently
                if {k: v for k, v in meta["settings"].items() if k not in resumable} != {k: v for k, v in self.settings.to_dict().items() if k not in resumable}:
                    raise TrainingError(f"{path}: checkpoint of other GAN settings {meta['settings']}, expected {self.settings.to_dict()}")
                if meta["seed"] != self.seed:
                    raise TrainingError(f"{path}: checkpoint of seed {meta['seed']}, expected {self.seed}")
                for group, variables in self._variable_groups().items():
                    for i, var in enumerate(variables):
                        value = data[f"{group}/{i}"]
                        if tuple(value.shape) != tuple(var.shape):
                            raise TrainingError(f"{path}: variable {group}/{i} has shape {value.shape}, expected {tuple(var.shape)}")
                        var.assign(value)
        except (OSError, ValueError, KeyError) as exc:
            raise TrainingError(f"{path}: unreadable GAN checkpoint ({exc}); delete it to train from scratch") from exc
        self.step = int(meta["step"])
        self.rng.bit_generator.state = meta["rng"]
        self.history = meta["history"]


def wave_sampler(audios: list[np.ndarray]) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Random 16384-sample slices of ``audios`` (an utterance drawn uniformly, then an offset).

    Utterances shorter than a slice are zero-padded at the end. Returns ``(batch, 16384, 1)``.
    """
    from .wavegan import SLICE_SAMPLES

    if not audios:
        raise ParameterError("wave_sampler needs at least one training utterance")
    clips = [np.pad(np.asarray(a, np.float32), (0, max(0, SLICE_SAMPLES - len(a)))) for a in audios]

    def sample(rng: np.random.Generator, batch: int) -> np.ndarray:
        out = np.empty((batch, SLICE_SAMPLES, 1), np.float32)
        for i, j in enumerate(rng.integers(0, len(clips), batch)):
            start = rng.integers(0, len(clips[j]) - SLICE_SAMPLES + 1)
            out[i, :, 0] = clips[j][start : start + SLICE_SAMPLES]
        return out

    return sample


def spectrogram_sampler(encoded: list[np.ndarray]) -> Callable[[np.random.Generator, int], np.ndarray]:
    """Random 128-frame windows of encoded utterance spectrograms ``(frames, 128)``; short ones padded
    with the encoded silence floor (-1). Returns ``(batch, 128, 128, 1)``."""
    from .specgan import BINS, FRAMES

    if not encoded:
        raise ParameterError("spectrogram_sampler needs at least one training utterance")
    specs = [np.pad(np.asarray(s, np.float32), ((0, max(0, FRAMES - len(s))), (0, 0)), constant_values=-1.0) for s in encoded]

    def sample(rng: np.random.Generator, batch: int) -> np.ndarray:
        out = np.empty((batch, FRAMES, BINS, 1), np.float32)
        for i, j in enumerate(rng.integers(0, len(specs), batch)):
            start = rng.integers(0, len(specs[j]) - FRAMES + 1)
            out[i, :, :, 0] = specs[j][start : start + FRAMES]
        return out

    return sample
