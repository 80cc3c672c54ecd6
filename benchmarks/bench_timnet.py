"""One TIM-Net training epoch on Keras's TensorFlow backend against its JAX backend, same run.

The calibration row (:mod:`adcrnn_lib.experiments.timnet`) trains 500 epochs a fold, two seeds x five folds:
hours on 2 cores, so the backend that runs an epoch faster is the one to train it with. Each
backend runs in a subprocess of its own (Keras picks its backend at import) on random inputs of
the real shape: 428 training utterances (a paper-protocol fold), 188 frames x 39 MFCCs, batch 64,
compiled by :func:`~adcrnn_lib.experiments.timnet.compile_timnet` as a fold is, plus the 86-utterance
validation prediction that the fold's selection callback makes after every epoch.

    python benchmarks/bench_timnet.py [--epochs 8] [--json out.json]

Prints seconds per epoch (the median after the first, which traces) for each backend and the
ratio TensorFlow / JAX; with ``--json``, writes them with this machine's provenance.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

_ONE_BACKEND = r"""
import json, statistics, sys, time
import keras, numpy as np
from adcrnn_lib.experiments.timnet import build_timnet, compile_timnet
from adcrnn_lib.train import set_determinism

epochs = int(sys.argv[1])
set_determinism(0)
rng = np.random.default_rng(0)
x = rng.standard_normal((428, 188, 39)).astype("float32")
y = np.eye(7, dtype="float32")[rng.integers(0, 7, 428)]
val = rng.standard_normal((86, 188, 39)).astype("float32")
model = compile_timnet(build_timnet((188, 39), 7))
times = []
for _ in range(epochs):
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=1, shuffle=True, verbose=0)
    np.asarray(model.predict_on_batch(val))
    times.append(time.perf_counter() - t0)
print(json.dumps({"backend": keras.backend.backend(), "first_epoch_s": times[0], "epoch_s": statistics.median(times[1:])}))
"""


def time_backend(backend: str, epochs: int) -> dict:
    """Seconds per TIM-Net epoch (fit and validation prediction) on ``backend``, in a subprocess."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _ONE_BACKEND, str(epochs)], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the {backend} run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs per backend (the first traces and is reported apart)")
    parser.add_argument("--json", help="write the timings here")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch traces)")
    if importlib.util.find_spec("jax") is None:
        print("jax is not installed (make test installs it from requirements-test.txt): nothing to compare")
        return 1
    rows = {b: time_backend(b, args.epochs) for b in ("tensorflow", "jax")}
    for b, r in rows.items():
        print(f"{b:>10}: {r['epoch_s']:.2f} s an epoch (first {r['first_epoch_s']:.1f} s); 500 epochs = {500 * r['epoch_s'] / 60:.1f} min a fold")
    ratio = rows["tensorflow"]["epoch_s"] / rows["jax"]["epoch_s"]
    print(f"TensorFlow / JAX: {ratio:.2f}x")
    if args.json:
        from adcrnn_lib.provenance import provenance
        from adcrnn_lib.storage import write_json

        write_json(args.json, {"backends": rows, "tensorflow_over_jax": round(ratio, 3), "epochs": args.epochs, "provenance": provenance(profile="timnet")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
