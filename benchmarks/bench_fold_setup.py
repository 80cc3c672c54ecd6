"""A fold's fixed cost: the first epoch of ``train_model`` with the optimizer built before ``fit`` or not.

Keras's TensorFlow trainer creates the optimizer's slot variables inside the first trace of the
training step, and TensorFlow then traces the step again; :func:`adcrnn_lib.train.compile_for_training`
builds them first, so the step is traced once. Every fold of every run pays this once, so it
matters most where folds are short (the smoke profile, the tests, the book's grid).

For each profile it times, in this one process and alternating the two ways, ``fit`` for one
epoch on random segments of the real shape from a freshly built model (``baseline``: a plain
``compile``; ``ours``: :func:`~adcrnn_lib.train.compile_for_training`), after a warm-up of each,
and counts the traces of the training step. Goal: ours traces once and is faster.

    python benchmarks/bench_fold_setup.py [--segments 160] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import keras
import numpy as np

from adcrnn_lib.losses import attach_loss
from adcrnn_lib.models import build_adcrnn
from adcrnn_lib.profiles import get_profile
from adcrnn_lib.provenance import provenance
from adcrnn_lib.storage import write_json
from adcrnn_lib.train import compile_for_training, set_determinism

INPUT = (300, 40, 3)


def first_epoch(profile: str, x: np.ndarray, y: np.ndarray, *, build_first: bool) -> tuple[float, int]:
    """Seconds of building, compiling and one epoch of ``fit``, and the training step's traces."""
    prof = get_profile(profile)
    set_determinism(0)
    t0 = time.perf_counter()
    model = attach_loss(build_adcrnn(INPUT, 7, profile=prof), "lf1")
    optimizer, loss = keras.optimizers.Adam(prof.learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if build_first:
        compile_for_training(model, optimizer, loss)
    else:
        model.compile(optimizer=optimizer, loss=loss)
    traces = []
    step = type(model).train_step
    type(model).train_step = lambda self, data: traces.append(1) or step(self, data)
    try:
        model.fit([x, y], y, batch_size=prof.batch_size, epochs=1, verbose=0)
    finally:
        type(model).train_step = step
    return time.perf_counter() - t0, len(traces)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["smoke", "cpu"])
    parser.add_argument("--segments", type=int, default=160, help="training segments (the smoke book's folds hold about this many)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.segments, *INPUT)).astype("float32")
    y = rng.integers(0, 7, args.segments)
    results, ok = {}, True
    for profile in args.profiles:
        first_epoch(profile, x, y, build_first=False)  # warm-up: imports, kernels, the first graph
        first_epoch(profile, x, y, build_first=True)
        times = {"baseline": [], "ours": []}
        traces = {}
        for _ in range(args.repeats):
            for name, build_first in (("baseline", False), ("ours", True)):
                seconds, traces[name] = first_epoch(profile, x, y, build_first=build_first)
                times[name].append(seconds)
        median = {name: statistics.median(v) for name, v in times.items()}
        row = {
            "seconds": {name: [round(v, 2) for v in t] for name, t in times.items()},
            "median_s": {name: round(v, 2) for name, v in median.items()},
            "saved_s": round(median["baseline"] - median["ours"], 2),
            "speedup": round(median["baseline"] / median["ours"], 3),
            "traces": traces,
        }
        row["goal_met"] = traces["ours"] == 1 and median["ours"] < median["baseline"]
        ok &= row["goal_met"]
        results[profile] = row
        print(f"{profile}: first epoch {median['baseline']:.2f} s -> {median['ours']:.2f} s (x{row['speedup']:.2f}), traces {traces['baseline']} -> {traces['ours']}", flush=True)
    if args.json:
        write_json(args.json, {"segments": args.segments, "repeats": args.repeats, "profiles": results, "provenance": provenance(profile="n/a")})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
