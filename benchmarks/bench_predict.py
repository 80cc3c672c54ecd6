"""``adcrnn predict`` on a 3 s utterance, on one core: ours against Keras's ``model.predict``.

Both sides run the whole path for one file: read the wav, compute the 3D log-Mel features, normalize,
segment, run the model, average the segment logits. Ours calls the model through
``predict_on_batch`` (its compiled predict function); the baseline through ``model.predict``, the
call a Keras user writes first, which sets up a data pipeline for every call. The process is pinned
to one core, with TensorFlow and OpenMP limited to one thread. The model has the ``cpu`` profile's
widths and untrained weights (speed does not depend on the weights).

Goal: at least 200x realtime, i.e. under 15 ms for 3 s of audio.

    python benchmarks/bench_predict.py [--repeats 30] [--profile cpu] [--json out.json]
"""

from __future__ import annotations

import os

for _var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
    os.environ[_var] = "1"  # before TensorFlow starts
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from adcrnn_lib.features import PARAMS, Normalizer  # noqa: E402
from adcrnn_lib.models import build_adcrnn  # noqa: E402
from adcrnn_lib.predict import Predictor  # noqa: E402
from adcrnn_lib.provenance import provenance  # noqa: E402
from adcrnn_lib.storage import write_json  # noqa: E402

SECONDS = 3.0


class KerasPredictBaseline(Predictor):
    """The same pipeline, calling ``model.predict`` as a first-time Keras user would."""

    def predict_audio(self, y):
        from adcrnn_lib.features import log_mel_3d, segment
        from adcrnn_lib.metrics import softmax

        segments = segment(self.normalizer.transform(log_mel_3d(y)), length=self.segment_frames)
        logits = self.model.predict(segments, verbose=0)[0]
        return softmax(logits.mean(axis=0, keepdims=True))[0]


def time_per_call(fn, repeats: int) -> float:
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    model = build_adcrnn(profile=args.profile)
    identity = Normalizer(np.zeros((40, 3), np.float32), np.ones((40, 3), np.float32))
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * 16000)) / 16000
    y = (0.3 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "utterance.wav"
        sf.write(wav, y, 16000, subtype="PCM_16")
        ours = Predictor(model, identity, PARAMS, ["c"] * 7)
        base = KerasPredictBaseline(model, identity, PARAMS, ["c"] * 7)
        t_ours = time_per_call(lambda: ours.predict_file(wav), args.repeats)
        t_base = time_per_call(lambda: base.predict_file(wav), args.repeats)
    print(f"{SECONDS:.0f} s utterance, profile {args.profile}, one core, median of {args.repeats}")
    print(f"{'path':32s} {'ms':>8s} {'x realtime':>11s}")
    print(f"{'keras model.predict (baseline)':32s} {1000 * t_base:8.1f} {SECONDS / t_base:11.0f}")
    print(f"{'ours (predict_on_batch)':32s} {1000 * t_ours:8.1f} {SECONDS / t_ours:11.0f}")
    print(f"ours / baseline: {t_base / t_ours:.1f}x faster")
    met = SECONDS / t_ours >= 200
    print(f"goal >= 200x realtime on one core: {'met' if met else 'NOT met'}")
    if args.json:
        write_json(
            args.json,
            {
                "seconds_audio": SECONDS,
                "ours_s": t_ours,
                "baseline_s": t_base,
                "times_realtime": SECONDS / t_ours,
                "speedup": t_base / t_ours,
                "goal_met": met,
                "provenance": provenance(profile=args.profile),
            },
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
