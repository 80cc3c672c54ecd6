"""Folds as Dask tasks (loopback only): the sequential run's fold files, resume, failures, a lost worker."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import threading
import time

import pytest

from adcrnn_lib.config import ExperimentConfig
from adcrnn_lib.exceptions import AdcrnnError, ParameterError
from adcrnn_lib.experiments import cv, distributed
from adcrnn_lib.experiments.results import run_dir

from .helpers.plugin import backend_threads

#: TensorFlow's intra-op threads in this process, where the sequential runs train: the workers get
#: as many, so that their folds equal the sequential ones digit for digit.
THREADS = backend_threads()


@pytest.fixture(scope="module")
def client():
    """Two local worker processes that each advertise one "GPU" (the knob GPU clusters use).

    Dask's 30 s connect timeout is raised for this module: once in the fresh-clone suite runs
    (2 cores shared by these two training workers and the other pytest worker), a plain
    ``client.processing()`` timed out connecting to the in-process scheduler. That is latency
    under load, not the failure these tests are about.
    """
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "120s"}):
        c = distributed.connect(workers=2, threads=THREADS, worker_resources={"GPU": 1})
        yield c
        distributed.close(c)


def _config(corpus, **kw) -> ExperimentConfig:
    return ExperimentConfig(profile="smoke", protocol="paper", data_dir=str(corpus), **kw)


def test_gan_folds_wait_for_the_first_run_that_trains_their_gans(small_corpus):
    table_v = _config(small_corpus, augmentation="wavegan")
    ablation = _config(small_corpus, augmentation="wavegan", loss="lf2")
    plain = _config(small_corpus)
    other_seed = _config(small_corpus, augmentation="wavegan", seed=1)
    tasks = distributed.fold_tasks([(plain, [0, 1]), (table_v, [0, 1]), (ablation, [1, 0]), (other_seed, [0])])
    assert [(t.config, t.fold, t.after) for t in tasks] == [
        (plain, 0, ()), (plain, 1, ()), (table_v, 0, ()), (table_v, 1, ()),
        (ablation, 1, (3,)), (ablation, 0, (2,)),  # the same fold's GANs: wait for Table V's fold
        (other_seed, 0, ()),  # other folds, other GANs
    ]


def test_resume_trains_only_missing_folds_and_matches_the_sequential_run(client, paper_run, tmp_path):
    """A distributed run over a folder that holds fold 0 trains fold 1 alone (on workers that
    advertise a "GPU" resource, which each fold then holds) and writes the predictions the
    sequential run wrote."""
    config = paper_run.config
    folder = run_dir(config, tmp_path)
    folder.mkdir(parents=True)
    shutil.copy2(paper_run.run_dir / "fold-0.json", folder / "fold-0.json")
    before = (folder / "fold-0.json").stat().st_mtime_ns
    result = distributed.run_config(config, client=client, results_dir=tmp_path, verify=False, progress=False)  # asks for {"GPU": 1}: workers advertise it
    assert (folder / "fold-0.json").stat().st_mtime_ns == before  # reused, not retrained
    assert (folder / "fold-1.json").stat().st_mtime_ns > before  # trained now
    assert [f["predictions"] for f in result.folds] == [f["predictions"] for f in paper_run.folds]
    assert set(client.run(lambda: os.environ.get("TF_NUM_INTRAOP_THREADS")).values()) == {str(THREADS)}


def test_local_workers_share_the_cores_by_default():
    """Without ``threads``, each of N local workers pins the backend to its share of the cores (the
    folds then differ from a sequential run's in the last float digits: see adcrnn_lib.experiments.distributed)."""
    shared = distributed.connect(workers=2)
    try:
        expected = str(max(1, (os.cpu_count() or 1) // 2))
        assert set(shared.run(lambda: os.environ.get("TF_NUM_INTRAOP_THREADS")).values()) == {expected}
    finally:
        distributed.close(shared)


def test_a_failing_fold_is_named_and_the_others_finish(client, paper_run, small_corpus, tmp_path):
    good = paper_run.config
    folder = run_dir(good, tmp_path)
    folder.mkdir(parents=True)
    shutil.copy2(paper_run.run_dir / "fold-0.json", folder / "fold-0.json")
    bad = _config(tmp_path / "no-corpus-here", seed=5)
    tasks = distributed.fold_tasks([(bad, [0]), (good, [0])])
    with pytest.raises(distributed.GridError) as err:
        distributed.run_tasks(tasks, client=client, results_dir=tmp_path, verify=False, progress=False)
    message = str(err.value)
    assert f"{bad.key()} fold 0: CorpusNotFoundError" in message and "1 of 2 task(s) failed" in message
    assert good.key() not in message and cv.fold_done(folder / "fold-0.json", good, 0)


def test_a_worker_killed_mid_fold_has_its_fold_trained_elsewhere(client, small_corpus, tmp_path):
    """The first fold a worker starts announces itself (its process id in a file) and holds there
    until it is killed, so the kill lands in a running fold however fast the machine is; the fold
    then runs again on another worker, and nothing is left half-written."""

    def hold_the_first_fold(claim: str) -> None:
        """In each worker: the first fold any of them starts claims ``claim`` and waits to be killed; the others run."""
        import os
        import time

        from adcrnn_lib.experiments import cv as worker_cv

        real = getattr(worker_cv, "_unheld_run_fold", worker_cv.run_fold)

        def run_fold(*args, **kwargs):
            mine = f"{claim}.{os.getpid()}"
            with open(mine, "w") as f:
                f.write(str(os.getpid()))
            try:
                os.link(mine, claim)  # atomic: one fold only claims, with its pid already written
            except FileExistsError:
                return real(*args, **kwargs)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                time.sleep(0.05)
            raise RuntimeError("the held fold was never killed")

        worker_cv._unheld_run_fold, worker_cv.run_fold = real, run_fold

    def release() -> None:
        from adcrnn_lib.experiments import cv as worker_cv

        if hasattr(worker_cv, "_unheld_run_fold"):
            worker_cv.run_fold = worker_cv._unheld_run_fold
            del worker_cv._unheld_run_fold

    config = _config(small_corpus, seed=3)
    claim = tmp_path / "held-fold"
    client.run(hold_the_first_fold, str(claim))
    try:
        done: dict = {}
        runner = threading.Thread(target=lambda: done.update(result=distributed.run_config(config, client=client, results_dir=tmp_path / "results", verify=False, progress=False)))
        runner.start()
        deadline = time.monotonic() + 600  # a bound for a hung run only: a loaded machine may take minutes to reach a fold
        while not claim.exists() and time.monotonic() < deadline and runner.is_alive():
            time.sleep(0.05)
        assert claim.exists(), "no fold started within 10 minutes"
        pid = int(claim.read_text())
        assert pid in client.run(os.getpid).values()  # a worker of this cluster, inside its fold
        os.kill(pid, signal.SIGKILL)
        runner.join(timeout=300)
        assert not runner.is_alive()
    finally:
        client.run(release)  # the surviving worker forgets the hook (the killed one was replaced)
    result = done["result"]
    folder = run_dir(config, tmp_path / "results")
    # nothing half-written: no temporary file of an interrupted write either
    assert len(result.folds) == 2 and sorted(p.name for p in folder.iterdir()) == ["config.json", "fold-0.json", "fold-1.json"]
    assert all(cv.fold_done(folder / f"fold-{k}.json", config, k) for k in (0, 1))


def test_a_wrong_scheduler_address_fails_fast_and_names_it():
    t0 = time.monotonic()
    with pytest.raises(AdcrnnError, match=r"tcp://127\.0\.0\.1:9"):
        distributed.connect(scheduler="tcp://127.0.0.1:9")
    assert time.monotonic() - t0 < distributed.CONNECT_TIMEOUT_S + 10


def test_no_cluster_asked_means_this_process(monkeypatch):
    monkeypatch.delenv(distributed.SCHEDULER_VAR, raising=False)
    assert distributed.connect() is None
    with pytest.raises(ParameterError, match="workers=0"):
        distributed.connect(workers=0)


def test_non_fold_jobs_run_on_workers_and_a_failing_one_is_named(client, paper_run, small_corpus, tmp_path):
    """The grid's other work (here the retraining check, as the book's grid sends it) runs as a task
    beside folds; a job that raises is named in the GridError while the others finish."""
    from adcrnn_lib.experiments import grid

    reference = tmp_path / "reference"
    shutil.copytree(paper_run.run_dir, run_dir(paper_run.config, reference))  # the smoke Table V none run is paper_run
    results_dir = tmp_path / "results"
    check = distributed.JobTask("retraining check, fold 0", grid.retrain_check, {"profile": "smoke", "data_dir": str(small_corpus), "reference_dir": str(reference)})
    broken = distributed.JobTask("a job that raises", grid.retrain_check, {"profile": "no-such-profile"})
    with pytest.raises(distributed.GridError) as err:
        distributed.run_tasks([check, broken], client=client, results_dir=results_dir, verify=False, progress=False)
    assert "1 of 2 task(s) failed" in str(err.value) and "a job that raises: ParameterError: profile='no-such-profile'" in str(err.value)
    retrained = json.loads((run_dir(paper_run.config, results_dir / grid.RETRAIN_DIR) / "fold-0.json").read_text())
    assert retrained["predictions"] == paper_run.folds[0]["predictions"]  # a worker with this process's threads trains the same fold


# --- what each task holds, what a failure does to the tasks waiting on it, no retries ----------
class _FakeClient:
    """What :func:`~adcrnn_lib.experiments.distributed.run_tasks` uses of a client, recording the resources each task asked for."""

    loop = None

    def __init__(self, worker_resources: dict):
        self.worker_resources, self.asked = worker_resources, []

    def scheduler_info(self):
        return {"workers": {"tcp://a:1": {"resources": dict(self.worker_resources)}, "tcp://b:1": {"resources": dict(self.worker_resources)}}}

    def submit(self, func, *args, key, resources=None, **kwargs):
        self.asked.append(resources)
        return _FakeFuture(key)


@dataclasses.dataclass
class _FakeFuture:
    key: str
    status: str = "finished"

    def result(self):
        return {"key": self.key}


@pytest.mark.parametrize(
    "advertised, asked, held",
    [({"GPU": 1}, None, {"GPU": 1}), ({"GPU": 2}, None, {"GPU": 1}), ({}, None, None), ({"GPU": 1}, {"GPU": 2}, {"GPU": 2}), ({}, {"memory": 1}, {"memory": 1})],
)
def test_every_task_holds_one_gpu_when_the_workers_advertise_gpus(small_corpus, monkeypatch, advertised, asked, held):
    import distributed as dask_distributed

    monkeypatch.setattr(dask_distributed, "as_completed", lambda futures, loop=None: iter(futures))
    fake = _FakeClient(advertised)
    tasks = [*distributed.fold_tasks([(_config(small_corpus), [0, 1])]), distributed.JobTask("a job", print)]
    done = distributed.run_tasks(tasks, client=fake, resources=asked, progress=False)
    assert len(done) == 3 and fake.asked == [held] * 3  # folds and jobs alike


def test_folds_on_gpu_workers_ask_for_one_gpu_each(client, small_corpus, tmp_path, monkeypatch):
    """On the module's cluster (each worker advertises one "GPU"): every task is submitted holding it, and runs."""
    from adcrnn_lib.experiments import grid

    asked = []
    submit = client.submit
    monkeypatch.setattr(client, "submit", lambda *a, **kw: asked.append(kw.get("resources")) or submit(*a, **kw))
    jobs = [distributed.JobTask(f"job {i}", grid.retrain_check, {"profile": "smoke", "data_dir": str(small_corpus), "reference_dir": str(tmp_path / "no-reference")}) for i in range(2)]
    done = distributed.run_tasks(jobs, client=client, results_dir=tmp_path, verify=False, progress=False)
    assert asked == [{"GPU": 1}] * 2 and [d["key"] for d in done] == ["retrain_check"] * 2


def test_a_failing_gan_owner_fails_the_fold_waiting_on_it_without_running_it(client, paper_run, small_corpus, tmp_path):
    """The fold that trains a fold's GANs fails: the fold waiting for it (as :func:`fold_tasks`
    chains Table IV's WaveGAN folds to Table V's) is reported failed with that error and never
    runs; the other folds finish and nothing hangs."""
    owner = _config(tmp_path / "no-corpus-here", augmentation="wavegan")
    waiting = paper_run.config  # fold 0 of a run with no files here: it would train if it ran
    assert distributed.fold_tasks([(owner, [0]), (_config(tmp_path / "no-corpus-here", augmentation="wavegan", loss="lf2"), [0])])[1].after == (0,)
    folder = run_dir(waiting, tmp_path)
    folder.mkdir(parents=True)
    shutil.copy2(paper_run.run_dir / "fold-1.json", folder / "fold-1.json")
    tasks = [distributed.FoldTask(owner, 0), distributed.FoldTask(waiting, 0, after=(0,)), distributed.FoldTask(waiting, 1)]
    t0 = time.monotonic()
    with pytest.raises(distributed.GridError) as err:
        distributed.run_tasks(tasks, client=client, results_dir=tmp_path, verify=False, progress=False)
    message = str(err.value)
    assert "2 of 3 task(s) failed" in message and time.monotonic() - t0 < 120
    assert f"{owner.key()} fold 0: CorpusNotFoundError" in message and f"{waiting.key()} fold 0: CorpusNotFoundError" in message
    assert f"{waiting.key()} fold 1" not in message and cv.fold_done(folder / "fold-1.json", waiting, 1)
    assert not (folder / "fold-0.json").exists()  # the waiting fold never ran


def test_a_raising_task_runs_once(client, tmp_path):
    """A task that raises is reported, not run again (only a lost worker's task is)."""

    def count_and_raise(*, tally: str, results_dir=None, verify=True):
        with open(tally, "a") as f:
            f.write("ran\n")
        raise RuntimeError("this job always fails")

    tally = tmp_path / "tally"
    with pytest.raises(distributed.GridError, match="a failing job: RuntimeError: this job always fails"):
        distributed.run_tasks([distributed.JobTask("a failing job", count_and_raise, {"tally": str(tally)})], client=client, results_dir=tmp_path, verify=False, progress=False)
    assert tally.read_text() == "ran\n"
