"""Folds per hour: one after another in one process against a local Dask cluster, same run; and what
the ``paper`` profile's whole grid would take on 1, 8 and 32 workers.

**Measured.** A slice of the ``cpu`` grid (no augmentation, Lf1, two seeds x two folds = 4 fold
tasks, each seed's folds of its own) is trained twice from empty results folders with the feature
cache warm: sequentially (``distributed.run_tasks`` with no client, as ``adcrnn book`` without
``--workers``) and on ``--workers 2`` (a ``LocalCluster`` of 2 processes, 1 task each; its start-up
is timed apart). The goal is to keep the faster one as the documented advice for 2
cores; the ratio is folds per hour parallel / sequential.

**Projected.** The ``paper`` profile's grid as tasks: Table V (5 runs x 5 folds), Table IV's 4
other models (5 folds each, waiting for Table V's WaveGAN fold that trains their GANs), then
leave one speaker out (3 runs x 10 folds; the best augmentation assumed to be WaveGAN, the
costliest case). A fold of a GAN run also trains its six minority emotions' GANs. Per-unit times
are inputs: by default this machine's measurements (``bench_train.json``'s paper-width training
samples per second, ``bench_gan.json``'s paper-size WGAN-GP update times); on a GPU, pass
``--fold-s`` and ``--wavegan-step-s``/``--specgan-step-s`` measured there. The makespan is a greedy
list schedule in submission order with the waits above; a second column projects each GAN as a task
of its own (not implemented: a fold's GANs train inside its task), to show what that would buy.

    python benchmarks/bench_grid.py [--epochs 15] [--json out.json] [--project-only]
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
#: segments per training fold of EmoDB (about 400 training utterances, 1.3 segments each)
SEGMENTS_PER_FOLD = 520
#: minority emotions that get a GAN (all but anger)
GAN_EMOTIONS = 6


def measure(epochs: int | None, data_dir: str | None) -> dict:
    """Sequential against ``--workers 2`` on the same 4 fold tasks of the ``cpu`` profile."""
    from adcrnn_lib.config import ExperimentConfig
    from adcrnn_lib.data import load_emodb
    from adcrnn_lib.experiments import distributed
    from adcrnn_lib.features import extract_features

    overrides = {"epochs": epochs} if epochs else {}
    configs = [ExperimentConfig(profile="cpu", seed=s, data_dir=data_dir, overrides=overrides) for s in (20, 21)]
    extract_features(load_emodb(data_dir)["path"].tolist(), progress=False)  # warm cache for both
    tasks = distributed.fold_tasks([(c, [0, 1]) for c in configs])
    out: dict = {"tasks": len(tasks), "epochs": epochs or "profile"}
    with tempfile.TemporaryDirectory() as seq_dir, tempfile.TemporaryDirectory() as par_dir:
        t0 = time.perf_counter()
        distributed.run_tasks(tasks, results_dir=seq_dir, progress=False)
        out["sequential_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        client = distributed.connect(workers=2)
        out["cluster_start_s"] = time.perf_counter() - t0
        try:
            t0 = time.perf_counter()
            distributed.run_tasks(tasks, client=client, results_dir=par_dir, progress=False)
            out["workers2_s"] = time.perf_counter() - t0
        finally:
            distributed.close(client)
    out["sequential_folds_per_hour"] = 3600 * len(tasks) / out["sequential_s"]
    out["workers2_folds_per_hour"] = 3600 * len(tasks) / (out["workers2_s"] + out["cluster_start_s"])
    out["ratio"] = out["workers2_folds_per_hour"] / out["sequential_folds_per_hour"]
    return out


def paper_tasks(fold_s: float, wavegan_gan_s: float, specgan_gan_s: float, *, gan_tasks: bool = False) -> list[tuple[float, tuple[int, ...], int]]:
    """The paper grid as (seconds, indices of tasks to wait for, wave), in submission order.

    ``gan_tasks=False`` is what :mod:`adcrnn_lib.experiments.distributed` does: a fold of a GAN run trains its
    six GANs itself. ``True`` projects GANs as tasks of their own, the fold waiting for its six.
    """
    tasks: list[tuple[float, tuple[int, ...], int]] = []

    def gan_fold(gan_s: float, wave: int) -> int:
        if gan_tasks:
            gans = []
            for _ in range(GAN_EMOTIONS):
                tasks.append((gan_s, (), wave))
                gans.append(len(tasks) - 1)
            tasks.append((fold_s, tuple(gans), wave))
        else:
            tasks.append((fold_s + GAN_EMOTIONS * gan_s, (), wave))
        return len(tasks) - 1

    wavegan_fold: dict[int, int] = {}
    for aug in ("none", "time_shift", "pitch_shift", "wavegan", "specgan"):  # Table V
        for k in range(5):
            if aug == "wavegan":
                wavegan_fold[k] = gan_fold(wavegan_gan_s, 1)
            elif aug == "specgan":
                gan_fold(specgan_gan_s, 1)
            else:
                tasks.append((fold_s, (), 1))
    for _ in range(4):  # Table IV's other models: WaveGAN data, the fold's GANs already trained
        for k in range(5):
            tasks.append((fold_s, (wavegan_fold[k],), 1))
    for run in ("none", "none, speaker-normalized", "wavegan"):  # leave one speaker out, after wave 1
        for _ in range(10):
            if run == "wavegan":
                gan_fold(wavegan_gan_s, 2)
            else:
                tasks.append((fold_s, (), 2))
    return tasks


def makespan(tasks: list[tuple[float, tuple[int, ...], int]], workers: int) -> float:
    """Greedy list schedule in submission order; a task starts once its waits and its wave allow."""
    free = [0.0] * workers
    heapq.heapify(free)
    end: list[float] = []
    wave_start = {1: 0.0}
    for seconds, after, wave in tasks:
        if wave not in wave_start:
            wave_start[wave] = max(end)  # the second wave needs every fold of the first
        start = max(heapq.heappop(free), max((end[i] for i in after), default=0.0), wave_start[wave])
        end.append(start + seconds)
        heapq.heappush(free, end[-1])
    return max(end)


def project(fold_s: float | None, wavegan_step_s: float | None, specgan_step_s: float | None) -> dict:
    from adcrnn_lib.profiles import get_profile

    prof = get_profile("paper")
    source = "given"
    if fold_s is None or wavegan_step_s is None or specgan_step_s is None:
        source = "this machine's bench_train.json / bench_gan.json (CPU)"
        train = json.loads((RESULTS / "bench_train.json").read_text())
        gan = json.loads((RESULTS / "bench_gan.json").read_text())
        rate = train["profiles"]["paper"]["rows"]["ours"]["train_samples_per_s"]
        fold_s = fold_s or prof.epochs * SEGMENTS_PER_FOLD / rate
        steps = {u["kind"]: u["critic_update_s"] * prof.gan_critic_steps + u["generator_update_s"] for u in gan["updates"] if u["profile"] == "paper"}
        wavegan_step_s = wavegan_step_s or steps["wavegan"]
        specgan_step_s = specgan_step_s or steps["specgan"]
    gan_s = (prof.wavegan_steps * wavegan_step_s, prof.specgan_steps * specgan_step_s)
    tasks = paper_tasks(fold_s, *gan_s)
    split = paper_tasks(fold_s, *gan_s, gan_tasks=True)
    return {
        "per_unit_source": source,
        "fold_s": fold_s,
        "wavegan_step_s": wavegan_step_s,
        "specgan_step_s": specgan_step_s,
        "fold_tasks": len(tasks),
        "total_work_h": sum(t[0] for t in tasks) / 3600,
        "makespan_h": {w: makespan(tasks, w) / 3600 for w in (1, 8, 32)},
        "makespan_h_gans_as_tasks": {w: makespan(split, w) / 3600 for w in (1, 8, 32)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="epochs of the measured folds (default: the cpu profile's)")
    parser.add_argument("--data-dir", help="EmoDB wav folder (default: found as usual)")
    parser.add_argument("--project-only", action="store_true", help="skip the measurement")
    parser.add_argument("--fold-s", type=float, help="seconds of one paper-profile fold without GANs (default: from bench_train.json)")
    parser.add_argument("--wavegan-step-s", type=float, help="seconds of one WaveGAN training step, critic steps included")
    parser.add_argument("--specgan-step-s", type=float, help="seconds of one SpecGAN training step, critic steps included")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    from adcrnn_lib.provenance import provenance
    from adcrnn_lib.storage import write_json

    t0 = time.perf_counter()
    out: dict = {}
    if not args.project_only:
        out["measured"] = m = measure(args.epochs, args.data_dir)
        print(f"{m['tasks']} cpu folds ({m['epochs']} epochs): sequential {m['sequential_s']:.0f} s ({m['sequential_folds_per_hour']:.1f} folds/h); "
              f"--workers 2 {m['workers2_s']:.0f} s + {m['cluster_start_s']:.0f} s start-up ({m['workers2_folds_per_hour']:.1f} folds/h): x{m['ratio']:.2f}")
    out["paper_projection"] = p = project(args.fold_s, args.wavegan_step_s, args.specgan_step_s)
    print(f"paper grid: {p['fold_tasks']} fold tasks, {p['total_work_h']:,.0f} h of work (per-unit times: {p['per_unit_source']})")
    for w, h in p["makespan_h"].items():
        g = p["makespan_h_gans_as_tasks"][w]
        print(f"  {w:>2} worker(s): {h:,.0f} h ({h / 24:,.1f} days); with each GAN a task of its own {g:,.0f} h ({g / 24:,.1f} days)")
    out["provenance"] = provenance(profile="cpu", wall_time_s=round(time.perf_counter() - t0, 1))
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
