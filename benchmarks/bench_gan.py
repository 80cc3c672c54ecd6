"""WaveGAN and SpecGAN on this machine: update times at the paper's size and the ``cpu`` size, and
generation speed.

For each GAN and model size (D = 64 with batch 64, as in the paper; the ``cpu`` profile's D and
batch): the time of one critic update (WGAN-GP, with the gradient penalty's double backward pass)
and of one generator update, and the projected time of the profile's whole training (steps x
(critic_steps critic updates + one generator update)). Generation: clips per second and times
realtime, ours (``predict_on_batch`` in :meth:`~adcrnn_lib.augment.gan.WGANGP.generate`, plus
Griffin-Lim for SpecGAN) against ``generator.predict``, the call a Keras user writes first.

Throughput (``--throughput``): generator steps an hour at the ``cpu`` size, for each way of spending
the machine's cores, each measured in fresh processes in the same run against today's way (one
process, the backend's default threads, float32, TensorFlow): bfloat16 computation
(``GanSettings.precision``), two GANs at once in two processes of one thread each (a fold trains
six GANs per kind, so there is always a second one to train), both together, and the JAX backend.

    python benchmarks/bench_gan.py [--repeats 3] [--json benchmarks/results/bench_gan.json]
    python benchmarks/bench_gan.py --throughput [--steps 8] [--json benchmarks/results/bench_gan_throughput.json]
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


#: The ways of training measured by ``--throughput``: name -> (precision, processes, threads each, backend).
WAYS = {
    "today: float32, one process": ("float32", 1, None, "tensorflow"),
    "bfloat16, one process": ("mixed_bfloat16", 1, None, "tensorflow"),
    "float32, two processes of one thread": ("float32", 2, 1, "tensorflow"),
    "bfloat16, two processes of one thread": ("mixed_bfloat16", 2, 1, "tensorflow"),
    "float32, one process, JAX": ("float32", 1, None, "jax"),
}


def _one(kind: str, precision: str, steps: int) -> None:
    """Child process: seconds per generator step of one ``cpu``-size GAN (after two untimed steps), printed as JSON."""
    import json
    import time

    cpu = get_profile("cpu")
    settings = GanSettings(kind, size=cpu.gan_size, batch_size=cpu.gan_batch_size, critic_steps=cpu.gan_critic_steps, steps=10**6, precision=precision)
    rng = np.random.default_rng(0)
    if kind == "wavegan":
        sampler = wave_sampler([rng.normal(0, 0.1, 3 * SLICE_SAMPLES).astype(np.float32)])
    else:
        sampler = spectrogram_sampler([rng.uniform(-1, 1, (400, BINS)).astype(np.float32)])
    gan = WGANGP(settings, seed=0)
    for _ in range(2):
        gan.train_step(sampler)
    t0 = time.perf_counter()
    for _ in range(steps):
        gan.train_step(sampler)
    print(json.dumps({"seconds_per_step": (time.perf_counter() - t0) / steps}), flush=True)


def bench_throughput(kind: str, steps: int) -> list[dict]:
    """Generator steps an hour of each of :data:`WAYS` (all its processes together), and the ratio to today's."""
    import json
    import os
    import subprocess

    rows = []
    for name, (precision, processes, threads, backend) in WAYS.items():
        env = dict(os.environ, KERAS_BACKEND=backend)
        if threads is not None:
            env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
                       XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
        cmd = [sys.executable, __file__, "--one", kind, precision, str(steps)]
        procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(processes)]
        per_step = [json.loads(p.communicate()[0].strip().splitlines()[-1])["seconds_per_step"] for p in procs]
        rows.append({"kind": kind, "way": name, "precision": precision, "processes": processes, "threads": threads, "backend": backend,
                     "seconds_per_step": per_step, "steps_per_hour": sum(3600 / t for t in per_step)})
        print(f"{kind}, {name}: {rows[-1]['steps_per_hour']:,.0f} generator steps an hour ({', '.join(f'{t:.2f}' for t in per_step)} s a step)", flush=True)
    for row in rows:
        row["ratio_to_today"] = row["steps_per_hour"] / rows[0]["steps_per_hour"]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="default benchmarks/results/bench_gan.json (bench_gan_throughput.json with --throughput)")
    parser.add_argument("--throughput", action="store_true", help="generator steps an hour of each way of training (see WAYS)")
    parser.add_argument("--steps", type=int, default=8, help="timed generator steps per process (--throughput)")
    parser.add_argument("--one", nargs=3, metavar=("KIND", "PRECISION", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _one(args.one[0], args.one[1], int(args.one[2]))
        return 0
    if args.throughput:
        import platform

        flags = sorted({f for line in open("/proc/cpuinfo") if line.startswith("flags") for f in line.split() if f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16")}) if platform.system() == "Linux" else []
        rows = [row for kind in ("wavegan", "specgan") for row in bench_throughput(kind, args.steps)]
        out = args.json or "benchmarks/results/bench_gan_throughput.json"
        write_json(out, {"throughput": rows, "cpu_flags": flags, "provenance": provenance(profile="cpu")})
        print(f"wrote {out}")
        return 0
    args.json = args.json or "benchmarks/results/bench_gan.json"
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
