"""Clips from WaveGAN and SpecGAN for class balancing: one GAN per emotion and training fold.

:func:`emotion_gan` trains (or resumes, or loads) the GAN of one emotion on exactly the training
utterances it is given; :func:`generate_clips` samples it, screens every clip
(:func:`screen_clip`: non-finite, all-silent and clipped clips are counted and rejected) and caches
the accepted ones. Everything lives under ``<cache>/gan/<kind>/<key>/``, where the key hashes the
GAN settings, the seed and the SHA-256 of every source file, so a GAN is never reused for another
fold's training set:

* ``checkpoint.npz``: the training state (:meth:`~adcrnn_lib.augment.gan.WGANGP.save`) at its
  last step;
* ``checkpoint-step<k>.npz``: a kept copy of the state at step ``k`` (``keep=True``: the rungs of
  the GAN budget ladder), so that a GAN trained further than a profile asks is read back at the
  profile's step, never used at another one;
* ``sources.json``: the source utterances and settings, for the reader;
* ``clips-<step>-<seed>-<n>.npz``: ``n`` accepted clips of the checkpoint at ``step``, with the
  rejection counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import load_audio
from ..exceptions import TrainingError
from ..storage import atomic_write, sha256_file, write_json
from .gan import WGANGP, GanSettings, spectrogram_sampler, wave_sampler

__all__ = ["CLIP_PEAK", "CLIPPED_SHARE", "SILENT_PEAK", "MAX_DRAWS_PER_CLIP", "EmotionGan", "screen_clip", "gan_key", "emotion_gan", "snapshot_path", "checkpoint_step", "generate_clips"]

#: A sample at or above this magnitude counts as clipped (tanh saturation).
CLIP_PEAK = 0.999
#: A clip with more than this share of clipped samples is rejected.
CLIPPED_SHARE = 0.01
#: The loudest peak of an all-silent clip: one 16-bit step (as :func:`~adcrnn_lib.data.load_audio`).
SILENT_PEAK = 1.0 / 32768.0
#: Most candidates drawn per wanted clip before generation gives up.
MAX_DRAWS_PER_CLIP = 8


def screen_clip(y: np.ndarray) -> str | None:
    """Why a generated clip is unusable (``"nonfinite"``, ``"silent"``, ``"clipped"``), or None."""
    y = np.asarray(y)
    if not np.all(np.isfinite(y)):
        return "nonfinite"
    if np.max(np.abs(y)) <= SILENT_PEAK:
        return "silent"
    if np.mean(np.abs(y) >= CLIP_PEAK) > CLIPPED_SHARE:
        return "clipped"
    return None


@dataclass
class EmotionGan:
    """A trained GAN of one emotion and where it lives.

    Attributes
    ----------
    gan : WGANGP
    folder : Path
    key : str
    sources : tuple of str
        Utterance ids it was trained on.
    codec : SpectrogramCodec or None
        SpecGAN's spectrogram normalization (fitted on the same sources).
    trained_from : int
        The step the GAN held before :func:`emotion_gan` trained it (0 from scratch; past an
        earlier request's steps when a killed training resumed; ``steps`` when it was only read).
    """

    gan: WGANGP
    folder: Path
    key: str
    sources: tuple[str, ...]
    codec: object | None = None
    trained_from: int = 0

    def to_audio(self, outputs: np.ndarray) -> list[np.ndarray]:
        """Generator outputs -> 16 kHz clips (Griffin-Lim for SpecGAN)."""
        if self.codec is None:
            return [o[:, 0].astype(np.float32) for o in outputs]
        return [self.codec.to_audio(o[:, :, 0]) for o in outputs]


def gan_key(settings: GanSettings, paths: list[str], seed: int) -> str:
    """The cache key of a GAN: its settings (not the step count), seed and the SHA-256 of every source file."""
    payload = {k: v for k, v in settings.to_dict().items() if k not in ("steps", "checkpoint_every")}
    payload.update(seed=seed, sources=sorted(sha256_file(p) for p in paths))
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def emotion_gan(
    settings: GanSettings,
    utterances: list[str],
    paths: list[str],
    *,
    seed: int,
    cache_dir: str | os.PathLike,
    progress: bool = False,
    desc: str | None = None,
    keep: bool = False,
) -> EmotionGan:
    """Train, resume or load the GAN of ``settings.kind`` on these training utterances only.

    The GAN is returned at exactly ``settings.steps`` generator steps: from the kept copy of that
    step when there is one, else from ``checkpoint.npz`` trained on to that step.

    Parameters
    ----------
    settings : GanSettings
    utterances, paths : list of str
        Ids and wav paths of one emotion's utterances in one training fold.
    seed : int
    cache_dir : path
        Root of the cache (the GAN goes to ``cache_dir/gan/<kind>/<key>``).
    progress : bool
        A tqdm bar over steps.
    keep : bool
        Also keep a copy of the state at this step (``checkpoint-step<steps>.npz``).

    Raises
    ------
    TrainingError
        When ``checkpoint.npz`` is past ``settings.steps`` and no copy of that step was kept.

    Returns
    -------
    EmotionGan
    """
    if not paths or len(paths) != len(utterances):
        raise TrainingError(f"{settings.kind}: needs one path per utterance and at least one ({len(utterances)} ids, {len(paths)} paths)")
    key = gan_key(settings, list(paths), seed)
    folder = Path(cache_dir) / "gan" / settings.kind / key
    audios = [load_audio(p) for p in paths]
    codec = None
    if settings.kind == "wavegan":
        sampler = wave_sampler(audios)
    else:
        from .specgan import SpectrogramCodec, log_spectrogram

        specs = [log_spectrogram(a, whole=True) for a in audios]
        codec = SpectrogramCodec.fit(np.concatenate(specs)[None])
        sampler = spectrogram_sampler([codec.encode(s) for s in specs])
    if not (folder / "sources.json").exists():
        write_json(folder / "sources.json", {"utterances": list(utterances), "settings": settings.to_dict(), "seed": seed})
    gan = WGANGP(settings, seed=seed)
    kept = snapshot_path(folder, settings.steps)
    if kept.exists():
        gan.load(kept)
        start = settings.steps
    else:
        checkpoint = folder / "checkpoint.npz"
        start = checkpoint_step(checkpoint) if checkpoint.exists() else 0
        if start > settings.steps:
            raise TrainingError(
                f"{checkpoint}: trained to step {start}, past the {settings.steps} steps asked, and no copy of step "
                f"{settings.steps} was kept ({kept.name}); ask for a kept step or delete the folder to train again"
            )
        gan.train(sampler, checkpoint=checkpoint, progress=progress, desc=desc)
        if keep:
            gan.save(kept)
    return EmotionGan(gan, folder, key, tuple(utterances), codec, start)


def snapshot_path(folder: str | os.PathLike, step: int) -> Path:
    """Where :func:`emotion_gan` keeps the copy of a GAN's state at ``step``."""
    return Path(folder) / f"checkpoint-step{step}.npz"


def checkpoint_step(path: str | os.PathLike) -> int:
    """The generator step a checkpoint holds, read from its metadata alone."""
    try:
        with np.load(path) as data:
            return int(json.loads(bytes(data["meta"]).decode())["step"])
    except (OSError, ValueError, KeyError) as exc:
        raise TrainingError(f"{path}: unreadable GAN checkpoint ({exc}); delete it to train from scratch") from exc


def generate_clips(model: EmotionGan, n: int, *, seed: int = 0) -> tuple[list[np.ndarray], dict[str, int]]:
    """``n`` screened clips of ``model``'s current checkpoint, cached; and the rejection counts.

    Candidates are drawn in batches until ``n`` pass :func:`screen_clip`; a :class:`TrainingError`
    names the GAN folder when more than ``MAX_DRAWS_PER_CLIP * n`` draws are needed.

    Returns
    -------
    clips : list of np.ndarray
    counts : dict
        ``drawn``, ``accepted`` and one count per rejection reason.
    """
    path = model.folder / f"clips-{model.gan.step}-{seed}-{n}.npz"
    if path.exists():
        with np.load(path) as data:
            counts = json.loads(bytes(data["counts"]).decode())
            return [data[f"clip{i}"] for i in range(n)], counts
    rng_seed = seed
    clips: list[np.ndarray] = []
    counts = {"drawn": 0, "accepted": 0, "nonfinite": 0, "silent": 0, "clipped": 0}
    while len(clips) < n:
        if counts["drawn"] >= MAX_DRAWS_PER_CLIP * n:
            raise TrainingError(f"{model.folder}: only {len(clips)} of {n} generated clips passed screening after {counts['drawn']} draws ({counts})")
        batch = model.gan.generate(max(n - len(clips), 8), seed=rng_seed)
        rng_seed += 1
        for y in model.to_audio(batch):
            counts["drawn"] += 1
            reason = screen_clip(y)
            if reason is None and len(clips) < n:
                clips.append(y)
            elif reason is not None:
                counts[reason] += 1
    counts["accepted"] = len(clips)
    arrays = {f"clip{i}": c for i, c in enumerate(clips)}
    arrays["counts"] = np.frombuffer(json.dumps(counts).encode(), dtype=np.uint8)
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    return clips, counts

