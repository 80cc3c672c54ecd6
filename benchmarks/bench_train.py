"""Training and inference throughput of ADCRNN: our builds against a naive float32 build, same run.

For the ``cpu`` and ``paper`` widths it times

* **naive**: the same architecture in float32, eager-compiled Keras defaults (no XLA), batch 16;
* **ours**: the profile's dtype policy (mixed bfloat16 where the CPU computes it natively), batch 16,

on random inputs of the real shape ``(300, 40, 3)``, with the lf1 loss attached. It also measures
this machine's matmul peak in float32 and bfloat16, counts the model's FLOPs layer by layer, and
prints the achieved training FLOP/s as a fraction of the peak of the dtype used.

Goals: ours at least 2x the naive build, and at least 50% of the measured peak for
training. The second is not expected on a CPU: the two BiLSTMs are 2 x 149 x 2 small sequential
matrix products per sample, far from a large matmul.

    python benchmarks/bench_train.py [--samples 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import keras
import numpy as np

from adcrnn_lib.losses import attach_loss
from adcrnn_lib.models import build_adcrnn, dtype_policy
from adcrnn_lib.profiles import get_profile
from adcrnn_lib.provenance import provenance
from adcrnn_lib.storage import write_json

INPUT = (300, 40, 3)


def matmul_peak(dtype: str, n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of an ``n x n`` matmul in ``dtype`` with the current Keras backend."""
    a = keras.ops.cast(keras.random.normal((n, n)), dtype)
    b = keras.ops.cast(keras.random.normal((n, n)), dtype)
    keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, b)[0, 0], "float32"))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.cast(keras.ops.matmul(a, b)[0, 0], "float32"))
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def forward_flops(model: keras.Model) -> float:
    """Multiply-add FLOPs (x2) of one forward pass of one sample, from the layer shapes."""
    total = 0.0
    for layer in model.layers:
        name = type(layer).__name__
        if name == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            total += 2 * h * w * kh * kw * cin * cout
        elif name == "Dense":
            cin, cout = layer.kernel.shape
            steps = layer.output.shape[1] if len(layer.output.shape) == 3 else 1
            total += 2 * steps * cin * cout
        elif name == "DilatedRNN":
            steps, cin = layer.input.shape[1], layer.input.shape[2]
            units = layer.output.shape[-1] // 2
            total += 2 * steps * 2 * 4 * units * (cin + units)  # two directions, four gates
    return total


def throughput(model: keras.Model, *, samples: int, batch: int, train: bool) -> float:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, *INPUT)).astype("float32")
    y = rng.integers(0, 7, samples)
    if train:
        model.fit([x, y], y, batch_size=batch, epochs=1, verbose=0)  # build and warm up
        t0 = time.perf_counter()
        model.fit([x, y], y, batch_size=batch, epochs=2, verbose=0)
        return 2 * samples / (time.perf_counter() - t0)
    model.predict(x, batch_size=64, verbose=0)
    t0 = time.perf_counter()
    model.predict(x, batch_size=64, verbose=0)
    return samples / (time.perf_counter() - t0)


def build(profile: str, dtype: str) -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(0)
    base = build_adcrnn(INPUT, 7, profile=profile, dtype=dtype)
    trainer = attach_loss(base, "lf1")
    trainer.compile(optimizer=keras.optimizers.Adam(1e-4), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return base, trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=160, help="samples per timed epoch")
    parser.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    peaks = {"float32": matmul_peak("float32"), "bfloat16": matmul_peak("bfloat16")}
    print(f"backend {keras.backend.backend()}; matmul peak: float32 {peaks['float32'] / 1e9:.0f} GFLOP/s, bfloat16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s")
    results = {"peak_flops": peaks, "profiles": {}}
    ok = True
    for name in args.profiles:
        prof = get_profile(name)
        rows = {}
        for label, dtype in (("naive float32", "float32"), ("ours", dtype_policy(prof))):
            base, trainer = build(name, dtype)
            flops = forward_flops(base)
            train = throughput(trainer, samples=args.samples, batch=16, train=True)
            infer = throughput(base, samples=args.samples, batch=16, train=False)
            peak = peaks["bfloat16" if dtype == "mixed_bfloat16" else "float32"]
            rows[label] = {
                "dtype": dtype,
                "train_samples_per_s": train,
                "infer_samples_per_s": infer,
                "forward_gflop_per_sample": flops / 1e9,
                "train_fraction_of_peak": 3 * flops * train / peak,
                "infer_fraction_of_peak": flops * infer / peak,
            }
        naive, ours = rows["naive float32"], rows["ours"]
        speedup = ours["train_samples_per_s"] / naive["train_samples_per_s"]
        print(f"\nprofile {name}: {ours['forward_gflop_per_sample']:.2f} GFLOP per forward sample")
        print(f"{'build':15s} {'dtype':15s} {'train/s':>8s} {'infer/s':>8s} {'train %peak':>12s} {'infer %peak':>12s}")
        for label, r in rows.items():
            print(
                f"{label:15s} {r['dtype']:15s} {r['train_samples_per_s']:8.1f} {r['infer_samples_per_s']:8.1f} "
                f"{100 * r['train_fraction_of_peak']:11.1f}% {100 * r['infer_fraction_of_peak']:11.1f}%"
            )
        print(f"ours / naive: training {speedup:.2f}x, inference {ours['infer_samples_per_s'] / naive['infer_samples_per_s']:.2f}x")
        goals = {">= 2x naive (training)": speedup >= 2, ">= 50% of peak (training)": ours["train_fraction_of_peak"] >= 0.5}
        for goal, met in goals.items():
            print(f"goal {goal}: {'met' if met else 'NOT met'}")
        ok &= all(goals.values())
        results["profiles"][name] = {"rows": rows, "train_speedup": speedup, "goals_met": goals}
    if args.json:
        write_json(args.json, {**results, "provenance": provenance(profile="n/a")})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
