"""Folds as tasks: one after another in this process, or spread over a Dask cluster.

The unit of work is one fold of one configuration (ADCRNN, a baseline or TIM-Net). A task trains
the fold, or finds its file, through the same function as a sequential run
(:func:`~adcrnn_lib.experiments.cv.run_cv` with ``folds=[k]``), so it writes the same fold JSON, atomically,
into the same results folder. A killed task leaves no fold file; a rerun trains only what is
missing. The book's few pieces of work that are not folds (chapter 2's GAN quality report, chapter
7's retrained fold) run as :class:`JobTask` tasks beside the folds.

Two ways to get a cluster (:func:`connect`):

- ``workers=N``: a :class:`distributed.LocalCluster` of N worker processes with one Dask thread
  each on this machine;
- ``scheduler="tcp://HOST:PORT"`` (or ``$ADCRNN_DASK_SCHEDULER``): an existing cluster, for instance
  one started by ``dask-jobqueue`` on SLURM. Its workers must see the corpus, the results folder
  and the caches at the same paths (shared storage), and have this package installed.

Folds of GAN runs that share a fold's generated clips (Table V's WaveGAN row and Table IV's WaveGAN
models) wait for the first of them, so the fold's GANs are trained once and then read from the
clip cache. A fold that raises is reported with its configuration key, fold number and the
worker's traceback, and the other folds go on; :func:`run_tasks` raises :class:`GridError` at the
end naming what is missing. A worker lost mid-fold has its fold run again on another worker (Dask's
scheduler does this; the task itself is not retried when it raises).

Thread counts: TensorFlow's reductions split their work by the number of intra-op threads, so the
same fold trained with 1 and with 2 threads differs in the last float digits (measured on the smoke
profile: probabilities differ by about 1e-6, the same predicted classes). A worker trains exactly
what a sequential run with the same thread count trains (:func:`~adcrnn_lib.models.seed_keras`
makes the weights independent of the worker's other threads); local workers share the cores
(``threads``), so pass ``threads`` equal to the sequential run's to reproduce it digit for digit.

GPU workers: start one worker per GPU (``CUDA_VISIBLE_DEVICES`` set per worker, as dask-jobqueue
and ``dask-cuda`` do) and have each advertise it (``dask worker ... --resources GPU=1``); folds then
hold one GPU each (:func:`run_tasks` asks for ``{"GPU": 1}`` when workers advertise GPUs), so a
worker with many threads still trains one fold at a time. Set ``KERAS_BACKEND=jax`` in the
workers' environment to train on JAX. docs/cluster.md has a complete dask-jobqueue SLURM example.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
import traceback
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import GAN_AUGMENTATIONS, ExperimentConfig
from ..exceptions import AdcrnnError, ParameterError

__all__ = ["SCHEDULER_VAR", "FoldTask", "JobTask", "GridError", "connect", "close", "fold_tasks", "run_config", "run_fold_task", "run_job_task", "run_tasks", "pin_threads"]

logger = logging.getLogger(__name__)

#: Environment variable naming a running Dask scheduler (``tcp://HOST:PORT``).
SCHEDULER_VAR = "ADCRNN_DASK_SCHEDULER"
#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT_S = 5


class GridError(AdcrnnError):
    """Some folds failed; the message names each (configuration key, fold) and its error."""


@dataclass(frozen=True)
class FoldTask:
    """Fold ``fold`` of ``config``; ``after``: indices (into the task list) of tasks to wait for."""

    config: object
    fold: int
    after: tuple[int, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{self.config.key()}-fold{self.fold}"


@dataclass(frozen=True)
class JobTask:
    """A piece of the book's work that is not a fold: ``func(**kwargs)``, named ``name`` in the log.

    ``func`` must be a module-level function (the task is pickled by reference); it takes
    ``results_dir`` and ``verify`` keyword arguments, as :func:`run_tasks` passes them on. Examples:
    the GAN quality report of fold 0 and the retraining check (:func:`~adcrnn_lib.experiments.grid.run_grid`).
    """

    name: str
    func: object
    kwargs: dict = field(default_factory=dict)
    after: tuple[int, ...] = field(default=())


def pin_threads(threads: int | None) -> None:
    """Give the backend ``threads`` intra-op threads and one inter-op thread (None: its default).

    Must run before the backend's first operation in the process; a worker calls it before
    importing the training code. Raises :class:`ParameterError` if the process already runs with
    other thread counts.
    """
    if threads is None:
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ParameterError(f"threads={threads!r}; expected a positive integer")
    for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # already initialized: fine if it already matches
            if tf.config.threading.get_intra_op_parallelism_threads() != threads:
                raise ParameterError(f"this process already runs TensorFlow with {tf.config.threading.get_intra_op_parallelism_threads()} threads, not {threads}") from None


def run_fold_task(config, fold: int, *, results_dir: str | None = None, verify: bool = True, threads: int | None = None, after=None) -> dict:
    """Train (or find) fold ``fold`` of ``config`` and write its file; what a worker runs.

    ``after`` is ignored: it carries the results of the tasks this one waited for (Dask passes
    finished futures' values). Returns ``{"key", "fold", "ua", "wall_time_s", "worker_pid"}``.
    """
    pin_threads(threads)
    t0 = time.perf_counter()
    from .cv import runner

    result = runner(config)(config, results_dir=results_dir, verify=verify, progress=False, folds=[fold])
    record = result.folds[0]
    return {"key": config.key(), "fold": fold, "ua": record["ua"], "wall_time_s": round(time.perf_counter() - t0, 1), "worker_pid": os.getpid()}


def run_job_task(func, kwargs: dict, *, results_dir: str | None = None, verify: bool = True, threads: int | None = None, after=None) -> dict:
    """Run a :class:`JobTask`'s function with the backend threads pinned; what a worker runs.

    Returns ``{"key": the function's name, "wall_time_s", "worker_pid"}``.
    """
    pin_threads(threads)
    t0 = time.perf_counter()
    func(**kwargs, results_dir=results_dir, verify=verify)
    return {"key": getattr(func, "__name__", str(func)), "wall_time_s": round(time.perf_counter() - t0, 1), "worker_pid": os.getpid()}


def _submit_args(task) -> tuple:
    """What :func:`run_tasks` calls for ``task``: (function, positional arguments, log label)."""
    if isinstance(task, JobTask):
        return run_job_task, (task.func, task.kwargs), task.name
    return run_fold_task, (task.config, task.fold), f"{task.config.key()} fold {task.fold}"


def _gan_group(config) -> tuple | None:
    """Configurations in one group share every fold's generated clips (same GANs, same folds)."""
    if not isinstance(config, ExperimentConfig) or config.augmentation not in GAN_AUGMENTATIONS:
        return None
    return (config.augmentation, config.protocol, config.seed, config.data_dir, config.profile, config.overrides)


def fold_tasks(pending: Iterable[tuple[object, Sequence[int]]]) -> list[FoldTask]:
    """One task per (configuration, missing fold), in order; GAN folds wait for the group's first.

    Parameters
    ----------
    pending : iterable of (config, fold numbers)
    """
    tasks: list[FoldTask] = []
    first: dict[tuple, int] = {}
    for config, folds in pending:
        group = _gan_group(config)
        for k in folds:
            owner = first.get((group, k)) if group is not None else None
            tasks.append(FoldTask(config, int(k), () if owner is None else (owner,)))
            if group is not None and owner is None:
                first[(group, k)] = len(tasks) - 1
    return tasks


def connect(workers: int | None = None, scheduler: str | None = None, *, threads: int | None = None, worker_resources: dict | None = None):
    """A Dask client: a new local cluster of ``workers`` processes, or the cluster at ``scheduler``.

    ``scheduler`` defaults to ``$ADCRNN_DASK_SCHEDULER``; with neither it and ``workers`` given,
    returns None (run in this process). Local workers run one task at a time (one Dask thread)
    with ``threads`` backend threads each (default: this machine's cores divided among them), and
    advertise ``worker_resources`` (e.g. ``{"GPU": 1}``). Logs the dashboard link; :func:`close` closes
    the client and a local cluster with it.

    Raises
    ------
    AdcrnnError
        The scheduler cannot be reached within :data:`CONNECT_TIMEOUT_S` seconds (the message
        names the address).
    """
    scheduler = scheduler or os.environ.get(SCHEDULER_VAR) or None
    if workers is None and scheduler is None:
        return None
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise AdcrnnError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s ({exc}); start it (dask scheduler) or fix the address") from None
    else:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ParameterError(f"workers={workers!r}; expected a positive integer")
        if threads is None:  # share this machine's cores between the workers
            threads = max(1, (os.cpu_count() or 1) // workers)
        env = {"OMP_NUM_THREADS": str(threads), "TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1"}
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env, resources=worker_resources)
        client = Client(cluster, set_as_default=False)
        client._adcrnn_cluster = cluster  # closed with the client (see close)
        client._adcrnn_threads = threads  # what run_tasks pins each fold to
    logger.info("Dask dashboard: %s", client.dashboard_link)
    return client


def close(client) -> None:
    """Close ``client`` and the local cluster :func:`connect` started for it (a remote one stays up)."""
    if client is None:
        return
    cluster = getattr(client, "_adcrnn_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def run_config(config, *, client, results_dir=None, verify: bool = True, threads: int | None = None, resources: dict | None = None, progress: bool = True):
    """Cross-validate one configuration with its missing folds as tasks on ``client``'s cluster.

    The distributed twin of :func:`~adcrnn_lib.experiments.cv.run_cv` (and of the baseline and TIM-Net runs):
    folds whose files are usable are not trained again. Returns the whole
    :class:`~adcrnn_lib.experiments.cv.CVResult`, read back from the fold files.
    """
    from ..data import load_emodb
    from .cv import load_result, missing_folds

    n_speakers = load_emodb(config.data_dir, verify=verify)["speaker"].nunique()  # checks the corpus here, before any task
    missing = missing_folds(config, results_dir, int(n_speakers))
    run_tasks(fold_tasks([(config, missing)]), client=client, results_dir=results_dir, verify=verify, threads=threads, resources=resources, progress=progress)
    return load_result(config, results_dir=results_dir)


def run_tasks(tasks: Sequence[FoldTask | JobTask], *, client=None, results_dir=None, verify: bool = True, threads: int | None = None, resources: dict | None = None, progress: bool = True, bar=None) -> list[dict]:
    """Run ``tasks`` (sequentially when ``client`` is None, else on its cluster) with one progress bar.

    ``bar``: a tqdm bar to advance instead of a new one (a grid's bar over several calls).
    ``resources``: what each fold holds on its worker; default ``{"GPU": 1}`` when the cluster's
    workers advertise a ``GPU`` resource, else nothing.

    Returns every finished task's summary (see :func:`run_fold_task`).

    Raises
    ------
    GridError
        After every other task has finished, when some failed: names each task's configuration
        key, fold and error (with the worker's traceback in the log).
    """
    from tqdm.auto import tqdm

    if results_dir is not None:
        results_dir = str(Path(results_dir).resolve())
    if threads is None and client is not None:
        threads = getattr(client, "_adcrnn_threads", None)  # a local cluster's share of the cores
    done: list[dict] = []
    failed: list[str] = []
    with (contextlib.nullcontext(bar) if bar is not None else tqdm(total=len(tasks), desc="folds", unit="fold", disable=not progress)) as bar:
        if client is None:
            for task in tasks:
                func, args, _ = _submit_args(task)
                done.append(func(*args, results_dir=results_dir, verify=verify, threads=threads))
                bar.update()
        else:
            from distributed import as_completed

            if resources is None and any("GPU" in w.get("resources", {}) for w in client.scheduler_info()["workers"].values()):
                resources = {"GPU": 1}  # workers that advertise GPUs: one fold per GPU at a time
            futures = []
            for task in tasks:
                after = [futures[i] for i in task.after]
                func, args, _ = _submit_args(task)
                name = task.name if isinstance(task, FoldTask) else re.sub(r"\W+", "-", task.name)
                futures.append(
                    client.submit(
                        func, *args, results_dir=results_dir, verify=verify, threads=threads, after=after,
                        key=f"{name}-{uuid.uuid4().hex[:8]}", pure=False, resources=resources,
                    )
                )
            by_key = {f.key: t for f, t in zip(futures, tasks)}
            for future in as_completed(futures, loop=client.loop):
                task = by_key[future.key]
                if future.status == "finished":
                    done.append(future.result())
                else:
                    exc = future.exception()
                    tb = "".join(traceback.format_tb(future.traceback())) if future.traceback() is not None else ""
                    label = _submit_args(task)[2]
                    logger.error("%s failed: %s: %s\n%s", label, type(exc).__name__, exc, tb)
                    failed.append(f"{label}: {type(exc).__name__}: {exc}")
                bar.update()
    if failed:
        raise GridError(f"{len(failed)} of {len(tasks)} task(s) failed and are missing (rerun to run just those):\n" + "\n".join(failed))
    return done
