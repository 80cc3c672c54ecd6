"""adcrnn_lib.chapters.book failure paths: bad overrides and missing templates stop before any work, a failed
render writes no build record, and no failure leaves a hidden ``.running`` notebook behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from adcrnn_lib.chapters import book
from adcrnn_lib.exceptions import AdcrnnError, ParameterError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path) -> Path:
    """The book's configuration and chapter templates, copied (the tests never write into the checkout)."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    (dest / "book").mkdir()
    return dest


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the grid, a chapter or the renderer runs."""
    monkeypatch.setattr(book, "run_grid", lambda *a, **k: pytest.fail("the grid ran"))
    monkeypatch.setattr(book, "run_notebook", lambda *a, **k: pytest.fail("a chapter ran"))
    monkeypatch.setattr(book.subprocess, "run", lambda *a, **k: pytest.fail("a command ran"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"08_extra.ipynb": {"seed": 1}}, r"overrides for unknown chapter\(s\) \['08_extra.ipynb'\]; chapters: \['01_data.ipynb'"),
        ({"baseline.ipynb": {"feature": "egemaps"}}, r"overrides for baseline.ipynb: parameter\(s\) \['feature'\] not declared in its parameters cell"),
    ],
)
def test_bad_overrides_stop_before_any_work(project, small_corpus, no_work, overrides, message):
    with pytest.raises(ParameterError, match=message):
        book.build_book("smoke", data_dir=small_corpus, verify=False, root=project, overrides=overrides)


def test_a_bad_jobs_count_stops_before_any_work(project, small_corpus, no_work):
    with pytest.raises(ParameterError, match="jobs=0; expected a positive integer"):
        book.build_book("smoke", data_dir=small_corpus, verify=False, root=project, jobs=0)


def test_a_missing_template_stops_before_any_work(project, small_corpus, no_work):
    (project / "notebooks" / "04_ablation.ipynb").unlink()
    with pytest.raises(ParameterError, match=r"chapter template\(s\) missing: .*notebooks/04_ablation\.ipynb"):
        book.build_book("smoke", data_dir=small_corpus, verify=False, root=project)


def test_a_failed_render_writes_no_build_record(project, small_corpus, monkeypatch):
    chapters, commands = [], []
    monkeypatch.setattr(book, "run_grid", lambda *a, **k: {"profile": "smoke", "runs": 1, "folds_trained": 2, "folds_cached": 0, "wall_time_s": 1.0})
    monkeypatch.setattr(book, "run_notebook", lambda template, output, params, **kw: chapters.append(output.name) or output.write_text("{}"))
    exit_code = 1
    real_run = subprocess.run

    def run(cmd, **kw):  # jupyter-book exits with exit_code; other commands (git, for provenance) run
        if Path(cmd[0]).name != "jupyter-book":
            return real_run(cmd, **kw)
        commands.append(cmd)
        return subprocess.CompletedProcess(cmd, exit_code)

    monkeypatch.setattr(book.subprocess, "run", run)
    with pytest.raises(AdcrnnError, match=r"jupyter-book build failed \(exit 1\)"):
        book.build_book("smoke", data_dir=small_corpus, verify=False, root=project)
    assert sorted(chapters) == sorted(c.output for c in book.CHAPTERS)  # every chapter, two at a time
    assert commands[0][1:] == ["build", str(project), "-W", "-n", "--keep-going"]
    assert book.build_record("smoke") is None and book.build_record("smoke", cold=True) is None
    exit_code = 0  # the same build rendering fine records itself, as a cold build (the grid trained every fold)
    assert book.build_book("smoke", data_dir=small_corpus, verify=False, root=project) == project / "_build" / "html" / "index.html"
    assert book.build_record("smoke")["cold"] is True and book.build_record("smoke", cold=True) is not None


@pytest.mark.parametrize("error", [RuntimeError("Kernel died before replying to kernel_info"), KeyboardInterrupt()])
def test_other_failures_leave_no_running_notebook(project, monkeypatch, error):
    import papermill as pm

    def dies(template, output, **kw):  # papermill has written part of the output, then something else goes wrong
        Path(output).write_text('{"cells": []}')
        raise error

    monkeypatch.setattr(pm, "execute_notebook", dies)
    out = project / "book" / "01_data.ipynb"
    with pytest.raises(type(error)):
        book.run_notebook(project / "notebooks" / "01_data.ipynb", out, {"profile": "smoke"})
    assert sorted(p.name for p in out.parent.iterdir()) == ["01_data.failed.ipynb"]  # kept for inspection, not hidden


def test_a_failure_before_any_output_leaves_nothing(project):
    out = project / "book" / "01_data.ipynb"
    with pytest.raises(Exception, match="no_such"):
        book.run_notebook(project / "notebooks" / "no_such.ipynb", out, {"profile": "smoke"})
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "chapter, kwargs, message",
    [
        ("hda_page", {"augmentation": "mixup"}, r"augmentation='mixup'; allowed: none, time_shift"),
        ("table_iv", {"seed": "zero"}, r"seed='zero'; must be an integer >= 0"),
        ("table_v", {"profile": "fast"}, r"profile='fast'; allowed: smoke, cpu, paper"),
    ],
)
def test_bad_chapter_parameters_fail_before_training(chapter, kwargs, message, small_corpus, monkeypatch):
    """What chapters 03 and 04 call with their parameters refuses bad values before any training
    (one notebook failure through papermill stays in test_book.py)."""
    from adcrnn_lib import chapters
    from adcrnn_lib.config import check_notebook_parameters
    from adcrnn_lib.experiments import baselines, cv

    monkeypatch.setattr(cv, "run_cv", lambda *a, **k: pytest.fail("trained before checking its parameters"))
    monkeypatch.setattr(baselines, "run_baseline", lambda *a, **k: pytest.fail("trained before checking its parameters"))
    args = {"profile": "smoke", "data_dir": str(small_corpus), "seed": 0, "baseline_features": "egemaps", "verify": False, **kwargs}
    if "seed" in kwargs:  # the notebooks check their common parameters first
        with pytest.raises(ParameterError, match=message):
            check_notebook_parameters(data_dir=args["data_dir"], verify_checksums=False, seed=args["seed"])
    with pytest.raises(ParameterError, match=message):
        getattr(chapters, chapter)(**args)


def test_chapters_run_at_once_each_start_in_their_folder_and_leave_this_process_where_it_was(tmp_path):
    """Two notebooks executed together from two threads (as run_chapters does with jobs=2): each
    kernel starts in its output folder, whatever the other does, and this process's working
    directory is untouched (papermill's cwd= changed it process-wide, a race between the threads)."""
    import json
    import os
    from concurrent.futures import ThreadPoolExecutor

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("n = 0", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell("import os, time\ntime.sleep(0.5)\nprint(os.getcwd())")]
    template = tmp_path / "where.ipynb"
    nbformat.write(nb, str(template))
    here = os.getcwd()
    outs = [tmp_path / f"book{i}" / "where.ipynb" for i in range(4)]
    for out in outs:
        out.parent.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda out: book.run_notebook(template, out, {"n": 1}), outs))
    assert os.getcwd() == here
    for out in outs:
        printed = "".join(json.loads(out.read_text())["cells"][-1]["outputs"][0]["text"]).strip()
        assert printed == str(out.parent), (out, printed)
