"""3D log-Mel of the whole corpus: ours (cold, uncached, cached) against python_speech_features.

Every timing is taken in this one run on this machine, and the results are printed as ratios and as
times realtime, so they compare across machines. python_speech_features is the framework the paper
cites; it is configured to compute the same thing (25 ms Hamming window, 10 ms hop, 512-point FFT,
40 bands from 300 Hz to 8 kHz, no pre-emphasis, deltas over +-2 frames). Both sides read and decode
the audio with :func:`adcrnn_lib.data.load_audio`, so decoding is in every number.

Goals: at least 1000x realtime on 2 cores, not slower than python_speech_features, and a
cached extraction at least 20x faster than a cold one.

    python benchmarks/bench_features.py [--data-dir DIR] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from adcrnn_lib import data, features
from adcrnn_lib.provenance import provenance
from adcrnn_lib.storage import write_json


def psf_log_mel_3d(y: np.ndarray, sr: int) -> np.ndarray:
    """The same features with python_speech_features."""
    import python_speech_features as psf

    energies, _ = psf.fbank(
        y, sr, winlen=0.025, winstep=0.01, nfilt=40, nfft=512, lowfreq=300, highfreq=8000, preemph=0.0, winfunc=np.hamming
    )
    static = np.log(energies)  # psf's logfbank, which has no window argument
    delta = psf.delta(static, 2)
    return np.stack([static, delta, psf.delta(delta, 2)], axis=-1).astype(np.float32)


def best_of(repeats: int, fn) -> float:
    """Smallest wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="EmoDB wav folder (default: the usual search)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    df = data.load_emodb(args.data_dir, verify=False)
    paths = df["path"].tolist()
    audio_s = float(df["duration"].sum())
    features.log_mel_3d(np.random.default_rng(0).standard_normal(16000).astype(np.float32))  # warm imports

    def cold() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            features.extract_features(paths, cache=tmp, progress=False)

    with tempfile.TemporaryDirectory() as warm_dir:
        features.extract_features(paths, cache=warm_dir, progress=False)
        timings = {
            "python_speech_features": best_of(args.repeats, lambda: [psf_log_mel_3d(data.load_audio(p), 16000) for p in paths]),
            "ours, no cache": best_of(args.repeats, lambda: features.extract_features(paths, cache=False, progress=False)),
            "ours, cold cache (compute + write)": best_of(args.repeats, cold),
            "ours, cached": best_of(args.repeats, lambda: features.extract_features(paths, cache=warm_dir, progress=False)),
        }
    base = timings["python_speech_features"]
    print(f"{len(paths)} files, {audio_s:.1f} s of audio, best of {args.repeats}")
    print(f"{'method':38s} {'seconds':>8s} {'x realtime':>11s} {'speed vs psf':>13s}")
    for name, t in timings.items():
        print(f"{name:38s} {t:8.3f} {audio_s / t:11.0f} {base / t:12.2f}x")
    cached_speedup = timings["ours, cold cache (compute + write)"] / timings["ours, cached"]
    print(f"cached vs cold: {cached_speedup:.1f}x faster")
    goals = {
        ">= 1000x realtime (cold)": audio_s / timings["ours, cold cache (compute + write)"] >= 1000,
        "not slower than python_speech_features": timings["ours, no cache"] <= base,
        "cached >= 20x faster than cold": cached_speedup >= 20,
    }
    for goal, met in goals.items():
        print(f"goal {goal}: {'met' if met else 'NOT met'}")
    if args.json:
        write_json(
            args.json,
            {
                "audio_seconds": audio_s,
                "files": len(paths),
                "seconds": timings,
                "times_realtime": {k: audio_s / v for k, v in timings.items()},
                "cached_vs_cold": cached_speedup,
                "goals_met": goals,
                "provenance": provenance(profile="n/a"),
            },
        )
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
