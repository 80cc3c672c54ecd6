"""WaveGAN and SpecGAN on this machine: update times at the paper's size and the ``cpu`` size, and
generation speed.

For each GAN and model size (D = 64 with batch 64, as in the paper; the ``cpu`` profile's D and
batch): the time of one critic update (WGAN-GP, with the gradient penalty's double backward pass)
and of one generator update, and the projected time of the profile's whole training (steps x
(critic_steps critic updates + one generator update)). Generation: clips per second and times
realtime, ours (``predict_on_batch`` in :meth:`~adcrnn_lib.augment.gan.WGANGP.generate`, plus
Griffin-Lim for SpecGAN) against ``generator.predict``, the call a Keras user writes first.

    python benchmarks/bench_gan.py [--repeats 3] [--json benchmarks/results/bench_gan.json]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

from adcrnn_lib.augment.gan import WGANGP, GanSettings, spectrogram_sampler, wave_sampler
from adcrnn_lib.augment.gan_clips import EmotionGan
from adcrnn_lib.augment.specgan import BINS, SpectrogramCodec
from adcrnn_lib.augment.wavegan import SLICE_SAMPLES
from adcrnn_lib.profiles import get_profile
from adcrnn_lib.provenance import provenance
from adcrnn_lib.storage import write_json

SR = 16000


def _timed(fn, repeats: int) -> float:
    """Median seconds of one call, after one untimed call that compiles."""
    fn()
    return float(np.median(timeit.repeat(fn, number=1, repeat=repeats)))


def bench_updates(kind: str, size: int, batch: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    gan = WGANGP(GanSettings(kind, size=size, batch_size=batch, steps=1), seed=0)
    if kind == "wavegan":
        sampler = wave_sampler([rng.normal(0, 0.1, 3 * SLICE_SAMPLES).astype(np.float32)])
    else:
        sampler = spectrogram_sampler([rng.uniform(-1, 1, (400, BINS)).astype(np.float32)])
    critic_step, generator_step = gan._step_functions()
    real = sampler(rng, batch)
    z = gan.sample_z(batch)
    eps = rng.uniform(0, 1, batch).astype(np.float32)
    critic = _timed(lambda: critic_step(real, z, eps), repeats)
    generator = _timed(lambda: generator_step(z), repeats)
    return {"kind": kind, "size": size, "batch": batch, "critic_update_s": critic, "generator_update_s": generator}


def bench_generation(kind: str, size: int, n: int, repeats: int) -> dict:
    gan = WGANGP(GanSettings(kind, size=size, steps=1), seed=0)
    codec = None
    if kind == "specgan":
        codec = SpectrogramCodec(np.zeros(BINS, np.float32), np.ones(BINS, np.float32))
    model = EmotionGan(gan, Path("."), "bench", (), codec)

    def ours():
        return model.to_audio(gan.generate(n))

    def keras_predict():
        z = gan.sample_z(n)
        return model.to_audio(gan.generator.predict(z, verbose=0))

    t_ours = _timed(ours, repeats)
    t_base = _timed(keras_predict, repeats)
    audio_s = n * SLICE_SAMPLES / SR
    return {"kind": kind, "size": size, "clips": n, "ours_s": t_ours, "keras_predict_s": t_base, "speedup": t_base / t_ours, "times_realtime": audio_s / t_ours}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default="benchmarks/results/bench_gan.json")
    args = parser.parse_args(argv)
    cpu, paper = get_profile("cpu"), get_profile("paper")
    updates, generation = [], []
    for kind in ("wavegan", "specgan"):
        for prof in (cpu, paper):
            row = bench_updates(kind, prof.gan_size, prof.gan_batch_size, args.repeats if prof is cpu else 1)
            steps = prof.wavegan_steps if kind == "wavegan" else prof.specgan_steps
            row["profile"] = prof.name
            row["projected_training_s"] = steps * (prof.gan_critic_steps * row["critic_update_s"] + row["generator_update_s"])
            updates.append(row)
            print(f"{kind} D={row['size']} batch {row['batch']}: critic {row['critic_update_s'] * 1e3:.0f} ms, generator {row['generator_update_s'] * 1e3:.0f} ms; "
                  f"{prof.name} profile ({steps} steps): {row['projected_training_s'] / 3600:.3g} h per GAN", flush=True)
        g = bench_generation(kind, cpu.gan_size, 64, args.repeats)
        generation.append(g)
        print(f"{kind} D={g['size']} generation: {g['times_realtime']:.0f}x realtime, {g['speedup']:.2f}x faster than generator.predict", flush=True)
    write_json(args.json, {"updates": updates, "generation": generation, "provenance": provenance(profile="cpu")})
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
