"""Build the Jupyter Book: run each chapter notebook with papermill, then render with jupyter-book.

The split follows the house style: papermill executes the parameterized templates of
``notebooks/`` into ``book/`` (kernel ``python3``, no cell timeout), and ``jupyter-book build``
only renders them (``execute_notebooks: 'off'``), with warnings as errors.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._quiet import LOG_LEVEL_VAR, chapter_log_level
from ..data import ENV_VAR, find_corpus
from ..exceptions import AdcrnnError, CorpusNotFoundError, ParameterError
from ..experiments.grid import BUILD_RECORD, COLD_BUILD_RECORD, HDA_AUGMENTATIONS, read_record, run_grid
from ..profiles import get_profile
from ..storage import CHECKOUT_ROOT
from .common import hda_title, shown_path
from .reproducibility import BUILD_STARTED_VAR

__all__ = ["Chapter", "CHAPTERS", "BUILD_RECORD", "COLD_BUILD_RECORD", "build_record", "project_root", "run_notebook", "build_book"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chapter:
    """One executed notebook of the book: a template, the parameters it runs with, and its page title
    where one template makes several pages (None keeps the template's own title)."""

    template: str
    output: str
    parameters: dict = field(default_factory=dict)
    title: str | None = None


#: The chapters in book order: notebook templates, and the parameters of each executed copy.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("01_data.ipynb", "01_data.ipynb"),
    Chapter("02_augmentation.ipynb", "02_augmentation.ipynb"),
    Chapter("training_budget.ipynb", "training_budget.ipynb"),
    Chapter("baseline.ipynb", "baseline.ipynb"),
    Chapter("03_table_v.ipynb", "03_table_v.ipynb"),
    *(Chapter("03_hda.ipynb", f"03_hda_{aug}.ipynb", {"augmentation": aug}, hda_title(aug)) for aug in HDA_AUGMENTATIONS),
    Chapter("04_ablation.ipynb", "04_ablation.ipynb"),
    Chapter("05_comparison.ipynb", "05_comparison.ipynb"),
    Chapter("06_speaker_independent.ipynb", "06_speaker_independent.ipynb"),
    Chapter("07_reproducibility.ipynb", "07_reproducibility.ipynb"),
)


def build_record(profile: str, *, cold: bool = False, results_dir: str | os.PathLike | None = None) -> dict | None:
    """The timing record of the last complete book build (or cold build) of ``profile``, if any.

    A record is a :func:`~adcrnn_lib.provenance.provenance` dict with ``wall_time_s`` (the whole
    :func:`build_book` call), ``grid`` (the :func:`~adcrnn_lib.experiments.grid.run_grid` summary),
    ``chapters_s`` and ``render_s``; it is ``<results>/<profile>/book.json`` (``book-cold.json``
    for the last build that trained every fold).
    """
    return read_record(profile, COLD_BUILD_RECORD if cold else BUILD_RECORD, results_dir=results_dir)


def project_root() -> Path:
    """The source checkout this package runs from (it holds ``_config.yml``)."""
    root = CHECKOUT_ROOT
    if not (root / "_config.yml").is_file():
        raise AdcrnnError(f"{root} has no _config.yml: the book is built from a source checkout of adcrnn")
    return root


def _retitled(template: Path, title: str):
    """The template as a notebook whose first heading (the page title) is ``title``."""
    import nbformat

    nb = nbformat.read(str(template), as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    lines = first.source.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise AdcrnnError(f"{template}: the first markdown cell must start with the '# ' title to retitle it")
    first.source = "\n".join([f"# {title}", *lines[1:]])
    return nb


def run_notebook(template: Path, output: Path, parameters: dict, *, title: str | None = None) -> None:
    """Execute ``template`` with ``parameters`` into ``output``, titled ``title`` if given.

    The notebook runs under a temporary name and is renamed on success. On failure the partly
    executed notebook is kept as ``<output stem>.failed.ipynb`` and an :class:`AdcrnnError` names
    it and the failing cell's error.
    """
    import papermill as pm

    running = output.with_name(f".{output.stem}.running.ipynb")
    failed = output.with_name(f"{output.stem}.failed.ipynb")
    try:
        pm.execute_notebook(
            _retitled(template, title) if title else str(template),
            str(running),
            parameters=parameters,
            kernel_name="python3",
            # the kernel starts in book/, where the chapters' relative corpus path points from; not
            # papermill's cwd=, which changes this whole process's directory and so races between
            # the chapters that run_chapters executes at once in threads (a kernel once started in
            # the checkout's root and could not find ../../shared/emodb/wav)
            resources={"metadata": {"path": str(output.parent)}},
            progress_bar=False,
            execution_timeout=None,
        )
    except pm.PapermillExecutionError as exc:
        os.replace(running, failed)
        raise AdcrnnError(
            f"{template.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
            f"partly executed notebook: {failed}"
        ) from exc
    except BaseException:  # a dead kernel, an interrupt, a bad template: no hidden .running file stays behind
        if running.exists():
            os.replace(running, failed)
        raise
    failed.unlink(missing_ok=True)
    _one_parameters_cell(running, parameters)
    os.replace(running, output)


def _one_parameters_cell(path: Path, parameters: dict) -> None:
    """Show the page's reader one parameters cell: the template's, with the values the chapter ran with.

    papermill adds its ``injected-parameters`` cell under the template's ``parameters`` cell. In the
    executed notebook ``path`` the template's cell gets the injected values in place of its defaults
    (its comments kept), and the injected cell, still there and still run, is tagged ``remove-cell``
    so that the rendered page leaves it out.
    """
    import ast

    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(str(path), as_version=4)
    tagged = {tag: next((c for c in nb.cells if tag in c.metadata.get("tags", [])), None) for tag in ("parameters", "injected-parameters")}
    template, injected = tagged["parameters"], tagged["injected-parameters"]
    if template is None or injected is None:
        return
    lines = template.source.splitlines()
    for node in reversed(ast.parse(template.source).body):  # from the end, so that earlier offsets stay valid
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id in parameters:
            if node.value.lineno != node.value.end_lineno:
                continue  # a literal over several lines keeps its default; the injected cell below still sets it
            line = lines[node.value.lineno - 1]
            start, end = len(line.encode()[: node.value.col_offset].decode()), len(line.encode()[: node.value.end_col_offset].decode())
            lines[node.value.lineno - 1] = line[:start] + PythonTranslator.translate(parameters[node.targets[0].id]) + line[end:]
    template.source = "\n".join(lines)
    injected.metadata["tags"] = [*injected.metadata.get("tags", []), "remove-cell"]
    nbformat.write(nb, str(path))


def _chapter_corpus(wav_dir: Path, chapters_dir: Path) -> str:
    """The ``data_dir`` the chapters get, as their pages show it: never an absolute path of this machine.

    The corpus relative to the chapters' working folder when it lies in or beside the project
    (``../../shared/emodb/wav``, ``../data/emodb/wav``); otherwise ``""``, and the chapters find it
    through ``$ADCRNN_EMODB``, which :func:`build_book` sets for their kernels.
    """
    relative = shown_path(wav_dir, start=chapters_dir)
    too_far = relative.startswith(os.path.join(os.pardir, os.pardir, os.pardir)) or relative.startswith("...")
    return "" if too_far else relative


def _declared_parameters(template: Path) -> set[str]:
    """Names the template's ``parameters`` cell declares."""
    import papermill as pm

    return set(pm.inspect_notebook(str(template)))


def _run_chapters(root: Path, profile: str, corpus: str, verify: bool, baseline_features: str, overrides: dict, *, jobs: int) -> None:
    """Execute every chapter into ``book/``, ``jobs`` at a time, logging each as it ends.

    Every chapter runs even when one fails; then the first failure (in book order) is raised.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    started = time.perf_counter()
    finished = 0
    lock = threading.Lock()

    def run(i: int, chapter: Chapter) -> None:
        nonlocal finished
        template = root / "notebooks" / chapter.template
        params = {"profile": profile, "data_dir": corpus, "verify_checksums": verify, **chapter.parameters, **overrides.get(chapter.template, {})}
        if "baseline_features" in _declared_parameters(template):
            params.setdefault("baseline_features", baseline_features)
        logger.info("[chapter %d/%d] %s %s", i, len(CHAPTERS), chapter.output, params)
        t0 = time.perf_counter()
        run_notebook(template, root / "book" / chapter.output, params, title=chapter.title)
        with lock:
            finished += 1
            done = finished
        spent = time.perf_counter() - started
        logger.info("[%d/%d] %s done in %.1f s; about %.0f s of chapters left", done, len(CHAPTERS), chapter.output, time.perf_counter() - t0, spent / done * (len(CHAPTERS) - done))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run, i, chapter) for i, chapter in enumerate(CHAPTERS, 1)]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]


def build_book(
    profile: str = "cpu",
    *,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    verify: bool = True,
    root: str | os.PathLike | None = None,
    overrides: dict[str, dict] | None = None,
    grid: bool = True,
    baseline_features: str = "compare",
    workers: int | None = None,
    scheduler: str | None = None,
    jobs: int = 2,
    threads: int | None = None,
) -> Path:
    """Run the grid of cross-validations, every chapter with ``profile``, and build the HTML book.

    First :func:`~adcrnn_lib.experiments.grid.run_grid` trains (or finds cached) every run the chapters show,
    logging which run of how many is going and the time left; then papermill executes each chapter
    into ``book/`` (the chapters read the cached folds); then ``jupyter-book build -W -n``.

    Parameters
    ----------
    profile : str
        Compute profile passed to every notebook.
    data_dir : str or os.PathLike, optional
        EmoDB location; found as :func:`~adcrnn_lib.data.find_corpus` does when omitted.
    download : bool
        Download EmoDB into ``data/emodb`` when it is found nowhere.
    verify : bool
        Have every chapter check the corpus against EmoDB's checksum manifest (off only for
        look-alike corpora such as the tests' synthetic one).
    root : str or os.PathLike, optional
        Project folder holding ``_config.yml``, ``notebooks/`` and ``book/``.
    overrides : dict, optional
        Template name -> extra papermill parameters for that chapter, e.g.
        ``{"baseline.ipynb": {"features": "egemaps"}}``.
    baseline_features : {"compare", "egemaps"}
        openSMILE set of the baseline rows in the results chapters.
    grid : bool
        Run the grid first (the chapters would otherwise train what is missing themselves, without
        the overall progress and time estimate).
    workers : int, optional
        Train the grid's folds on a local Dask cluster of this many worker processes (see
        :mod:`adcrnn_lib.experiments.distributed`); default: one after another in this process.
    scheduler : str, optional
        Train them on the Dask cluster at this address instead (default ``$ADCRNN_DASK_SCHEDULER``).
    jobs : int
        Chapters executed at once (each in its own kernel); they only read the grid's results.
    threads : int, optional
        Backend threads of each local worker (default: the cores shared among them). The numbers a
        fold ends with depend on it in the last float digits, see :mod:`adcrnn_lib.experiments.distributed`.

    Returns
    -------
    pathlib.Path
        ``_build/html/index.html`` under ``root``.
    """
    build_started, build_started_at = time.perf_counter(), time.time()
    prof = get_profile(profile)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ParameterError(f"jobs={jobs!r}; expected a positive integer")
    root = Path(root) if root is not None else project_root()
    unknown = set(overrides or {}) - {c.template for c in CHAPTERS}
    if unknown:
        raise ParameterError(f"overrides for unknown chapter(s) {sorted(unknown)}; chapters: {[c.template for c in CHAPTERS]}")
    missing = [str(root / "notebooks" / c.template) for c in CHAPTERS if not (root / "notebooks" / c.template).is_file()]
    if missing:  # before any training
        raise ParameterError(f"chapter template(s) missing: {', '.join(dict.fromkeys(missing))}")
    for name, extra in (overrides or {}).items():
        undeclared = sorted(set(extra) - _declared_parameters(root / "notebooks" / name))
        if undeclared:
            raise ParameterError(f"overrides for {name}: parameter(s) {undeclared} not declared in its parameters cell")
    try:
        wav_dir = find_corpus(data_dir)
    except CorpusNotFoundError:
        if not download or data_dir is not None:
            raise
        from ..download import download_emodb

        logger.info("EmoDB not found; downloading it")
        wav_dir = download_emodb()
    summary = None
    if grid:
        from ..experiments.distributed import close, connect

        client = connect(workers, scheduler, threads=threads)
        try:
            summary = run_grid(prof.name, wav_dir, verify=verify, baseline_features=baseline_features, client=client)
        finally:
            close(client)
    started = time.perf_counter()
    corpus = _chapter_corpus(wav_dir, root / "book")
    # the chapters' kernels find the corpus where data_dir is "", log no TensorFlow runtime chatter,
    # and the reproducibility chapter can say how long this build has run
    chapter_env = {ENV_VAR: str(wav_dir), LOG_LEVEL_VAR: chapter_log_level(), BUILD_STARTED_VAR: repr(build_started_at)}
    saved_env = {name: os.environ.get(name) for name in chapter_env}
    os.environ.update(chapter_env)
    try:
        _run_chapters(root, prof.name, corpus, verify, baseline_features, overrides or {}, jobs=jobs)
    finally:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    chapters_s = time.perf_counter() - started
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "-W", "-n", "--keep-going"]
    logger.info("rendering: %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root)
    if proc.returncode != 0:
        raise AdcrnnError(f"jupyter-book build failed (exit {proc.returncode}); see its output above")
    _record_build(prof.name, summary, chapters_s=chapters_s, render_s=time.perf_counter() - started - chapters_s, wall_time_s=time.perf_counter() - build_started)
    return root / "_build" / "html" / "index.html"


def _record_build(profile: str, grid_summary: dict | None, *, chapters_s: float, render_s: float, wall_time_s: float) -> None:
    """Write the build's timing as ``book.json`` (and ``book-cold.json`` when it trained every fold)."""
    from ..experiments.results import results_root
    from ..provenance import provenance
    from ..storage import write_json

    cold = bool(grid_summary) and grid_summary["folds_cached"] == 0 and grid_summary["folds_trained"] > 0
    record = provenance(profile=profile, wall_time_s=wall_time_s, grid=grid_summary, chapters_s=round(chapters_s, 1), render_s=round(render_s, 1), cold=cold)
    folder = results_root() / profile
    write_json(folder / BUILD_RECORD, record)
    if cold:
        write_json(folder / COLD_BUILD_RECORD, record)
    logger.info("book built in %.1f min (%s)", wall_time_s / 60, "every fold trained" if cold else "reusing cached folds" if grid_summary else "no grid pass")
