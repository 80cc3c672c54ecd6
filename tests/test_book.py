"""The book: every chapter runs under papermill with the smoke profile, then jupyter-book builds with -W."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from adcrnn_lib.chapters import book, hda_title
from adcrnn_lib.chapters.paper import PAPER_COLUMN, TABLE_V
from adcrnn_lib.exceptions import AdcrnnError
from adcrnn_lib.experiments.cv import load_result
from adcrnn_lib.experiments.grid import hda_configs, run_grid, save_reference

from .helpers.plugin import backend_threads
from .test_notebooks import run_templates_as_opened

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the book's sources, so the test never writes into the checkout."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
    shutil.copytree(ROOT / "_static", dest / "_static")
    shutil.copytree(ROOT / "book", dest / "book", ignore=shutil.ignore_patterns("*.ipynb"))
    (dest / ".pytest_cache").mkdir()  # hidden folders (caches, checkpoints) must not enter the book
    (dest / ".pytest_cache" / "README.md").write_text("# pytest cache\n")
    return dest


def test_templates_are_committed_clean():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), nb_path
        assert "parameters" in code[0]["metadata"].get("tags", []), f"{nb_path}: first code cell must be tagged parameters"
        assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_chapter_code_is_folded_and_thin():
    """Every code cell but the parameters is folded (hide-input); none defines a function or runs long."""
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        code = [c for c in json.loads(nb_path.read_text())["cells"] if c["cell_type"] == "code"]
        for cell in code[1:]:
            source = "".join(cell["source"])
            assert "hide-input" in cell["metadata"].get("tags", []), f"{nb_path.name}: unfolded cell {source[:60]!r}"
            assert not re.search(r"^\s*(def|class) ", source, re.M), f"{nb_path.name}: a function belongs in adcrnn_lib: {source[:60]!r}"
            assert sum(1 for line in source.splitlines() if line.strip()) <= 15, f"{nb_path.name}: cell over 15 lines: {source[:60]!r}"


START_UP_LEVELS = (None, "3")


@pytest.fixture(scope="module")
def start_ups() -> dict:
    """Exit status and stderr of importing the library's models (and so TensorFlow) in a fresh
    process, per ``TF_CPP_MIN_LOG_LEVEL`` of the user (None: unset); the processes run side by side."""
    import subprocess

    code = "import adcrnn_lib.models, tensorflow as tf; tf.constant(1) + 1"
    procs = {}
    for level in START_UP_LEVELS:
        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        if level is not None:
            env["TF_CPP_MIN_LOG_LEVEL"] = level
        procs[level] = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    out = {}
    for level, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        out[level] = (proc.returncode, stderr)
    return out


@pytest.mark.parametrize("level", START_UP_LEVELS)
def test_backend_start_up_is_quiet(level, start_ups):
    """Importing the library's models (and so TensorFlow) writes nothing to stderr, with or without the user's level."""
    returncode, stderr = start_ups[level]
    assert returncode == 0 and stderr == "", stderr


def test_start_up_filter_keeps_what_matters():
    from adcrnn_lib._quiet import filter_startup_log

    log = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796025934.230371    4684 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796025934.293981    4684 cpu_feature_guard.cc:227] This TensorFlow binary is optimized.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow.\n"
        "E0000 00:00:1796025934.293981    4684 foo.cc:1] a real error\n"
        "/x/y.py:3: UserWarning: a Python warning\n"
    )
    assert filter_startup_log(log, 2) == log.splitlines(keepends=True)[4] + log.splitlines(keepends=True)[5]
    assert filter_startup_log(log, 3) == log.splitlines(keepends=True)[5]
    assert filter_startup_log(log, 0) == log


def test_a_page_shows_one_parameters_cell_with_the_values_it_ran_with(tmp_path):
    """The template's parameters cell takes the values papermill injected (comments kept); the
    injected cell stays in the executed notebook, tagged to be left off the page."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell('# Parameters\ndata_dir = ""  # "" searches $ADCRNN_EMODB # twice\nseed = 0  # folds\naugmentation = "none"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('# Parameters\ndata_dir = "../a b/wav"\naugmentation = "time_shift"\n', metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_code_cell("print(seed)", metadata={"tags": ["hide-input"]}),
    ]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, str(path))
    book._one_parameters_cell(path, {"data_dir": "../a b/wav", "augmentation": "time_shift"})
    cells = nbformat.read(str(path), as_version=4).cells
    assert cells[1].source == '# Parameters\ndata_dir = "../a b/wav"  # "" searches $ADCRNN_EMODB # twice\nseed = 0  # folds\naugmentation = "time_shift"'
    assert cells[2].metadata["tags"] == ["injected-parameters", "remove-cell"] and cells[2].source.startswith("# Parameters")
    assert cells[3].metadata["tags"] == ["hide-input"]


def test_toc_lists_every_chapter():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in book.CHAPTERS:
        assert f"book/{Path(chapter.output).stem}" in toc


@pytest.mark.slow
def test_smoke_book_builds(project, small_corpus, paper_run, caplog):
    caplog.set_level(logging.INFO, logger="adcrnn_lib")
    # eGeMAPS (88 features) keeps the baseline fits quick; 3 speakers keep leave-one-speaker-out at 3 folds;
    # the grid's folds run on a local Dask cluster of 2 worker processes (adcrnn book --workers 2), each
    # with this process's backend threads, so that their folds can be compared digit for digit
    threads = backend_threads()
    index = book.build_book("smoke", data_dir=small_corpus, verify=False, root=project, overrides={"baseline.ipynb": {"features": "egemaps"}}, baseline_features="egemaps", workers=2, threads=threads)
    assert index.is_file()
    BUILT["html"] = index.parent
    # the workers wrote what the sequential run (this process) wrote for the same configuration
    distributed_none = load_result(paper_run.config)
    assert [f["predictions"] for f in distributed_none.folds] == [f["predictions"] for f in paper_run.folds]
    assert re.search(r"\d+ runs: \d+ folds to train on 2 Dask worker\(s\)", caplog.text)
    # chapter 2's GAN quality report and chapter 7's retrained fold are computed by the grid's second wave, on the workers
    assert re.search(r"\d+ runs: \d+ folds to train on 2 Dask worker\(s\); also GAN quality report, fold 0 and retraining check, fold 0", caplog.text)
    page = (project / "_build" / "html" / "book" / "01_data.html").read_text()
    assert (project / "_build" / "html" / "book" / "02_augmentation.html").is_file()
    baseline = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (project / "_build" / "html" / "book" / "baseline.html").read_text()))
    assert re.search(r"the baseline reaches \d+\.\d % WA", baseline) and "the paper reports 85.66 % accuracy" in baseline
    n = len(list(small_corpus.glob("*.wav")))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert f"The corpus holds {n} utterances by 3 speakers" in text  # a glued, computed number
    assert "<audio" in page and page.count("<img") >= 4
    executed = json.loads((project / "book" / "01_data.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
    html = project / "_build" / "html" / "book"
    for chapter in book.CHAPTERS:
        assert (html / f"{Path(chapter.output).stem}.html").is_file(), chapter.output
    table_v = _text(html / "03_table_v.html")
    assert PAPER_COLUMN in table_v  # paper numbers only ever in the paper's own column, one decimal like ours
    for aug, (mean, std) in TABLE_V.items():
        assert f"{mean:.1f} ± {std:.1f}" in table_v
    assert re.search(r"\d+\.\d ± \d+\.\d", table_v) and not re.search(r"\d+\.\d\d ± ", table_v)
    assert re.search(r"best augmentation by mean UA is \w+", table_v) and "baseline: egemaps + logreg" in table_v
    assert "ACRNN, Chen et al. 2018 (cited by the paper)" in _text(html / "05_comparison.html")
    assert re.search(r"leave-one-speaker-out, ADCRNN reaches \d+\.\d % UA", _text(html / "06_speaker_independent.html"))
    assert (html / "03_hda_wavegan.html").read_text().count("<img") >= 1
    assert "<audio" in (html / "02_augmentation.html").read_text()
    assert len(list(Path(os.environ["ADCRNN_RESULTS_DIR"]).rglob("gan-quality-fold0.json"))) == 1  # cached for rebuilds
    _check_pages(project, small_corpus)
    assert re.search(r"\[chapter \d+/\d+\] 07_reproducibility", caplog.text)
    # a second pass, in this process, finds every fold cached and trains nothing
    again = run_grid("smoke", small_corpus, verify=False, baseline_features="egemaps")
    assert again["folds_trained"] == 0 and again["folds_cached"] > 0
    assert re.search(r"\[run 1/\d+\] baseline .*: 0 of \d folds to train; about 0:00:00 left", caplog.text)
    # the first build trained every fold: its timing is kept as the cold build's
    cold, last = book.build_record("smoke", cold=True), book.build_record("smoke")
    assert cold == last and cold["cold"] and cold["grid"]["folds_cached"] == 0 and cold["grid"]["folds_trained"] > 0
    assert cold["wall_time_s"] > cold["grid"]["wall_time_s"] + cold["chapters_s"] > 0 and cold["machine"]["cores"] >= 1
    # the finished runs can become the reference: JSON only, every run of the grid
    saved = save_reference("smoke", small_corpus, reference_dir=project / "reference", baseline_features="egemaps")
    assert len(saved) >= 4 + 5 + 4 + 3 == again["runs"]  # every run of the grid (and the study's finished runs)
    assert {p.suffix for d in saved for p in d.iterdir()} == {".json"}
    assert json.loads((project / "reference" / "smoke" / book.COLD_BUILD_RECORD).read_text()) == cold
    # every template also runs as a reader opens it in JupyterLab: nbclient, no injected parameters, reading these runs
    run_templates_as_opened(project / "notebooks", small_corpus)


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text()))


#: What backend start-up logs, tqdm and Python warnings leave on a page.
NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|TF_ENABLE_ONEDNN_OPTS|TqdmWarning|IProgress"
    r"|[IWE]\d{4} \d\d:\d\d:\d+\.\d+|site-packages|\w+Warning:|output stderr"
)


#: A section whose heading is followed by its end or by its first subsection, with nothing between.
EMPTY_SECTION = re.compile(r'<section id="([^"]+)">\s*<h([1-6])>(?:(?!</h\2>).)*</h\2>\s*(</section>|<section\b)', re.S)


def _check_pages(project: Path, corpus: Path) -> None:
    """The rendered book reads as a paper: no noise or machine paths, unique titles, folded code, glued intro."""
    html = project / "_build" / "html"
    pages = [p for p in sorted(html.glob("*.html")) + sorted((html / "book").glob("*.html")) if "<title>" in p.read_text()]  # not the redirect
    assert len(pages) >= len(book.CHAPTERS) + 2
    machine_paths = {str(project), str(corpus), str(ROOT), str(Path.home()), sys.prefix, os.environ["ADCRNN_RESULTS_DIR"], os.environ["ADCRNN_CACHE_DIR"]}
    titles = {}
    for page in pages:
        raw = page.read_text()
        noise = NOISE.search(raw)
        assert noise is None, f"{page.name}: {raw[max(noise.start() - 200, 0):noise.end() + 100]}"
        for path in machine_paths:
            assert path not in raw, f"{page.name} shows the build machine's path {path}"
        titles[page.name] = re.search(r"<title>(.*?)</title>", raw, re.S).group(1).strip()
    assert len(set(titles.values())) == len(titles), f"page titles repeat: {titles}"  # genindex and search have their own
    for aug in TABLE_V:
        assert titles[f"03_hda_{aug}.html"].startswith(hda_title(aug)), titles
    # every code cell of a chapter is folded, except its one parameters cell (papermill's injected cell stays off the page)
    for page in (html / "book" / f"{Path(c.output).stem}.html" for c in book.CHAPTERS):
        cells = re.findall(r'<div class="cell( [^"]*)? docutils container">', page.read_text())
        unfolded = [c for c in cells if not re.search(r"tag_(hide-input|parameters)\b", c)]
        assert cells and not unfolded, f"{page.name}: unfolded code cells {unfolded}"
        assert len([c for c in cells if re.search(r"tag_(parameters|injected-parameters)\b", c)]) == 1, f"{page.name}: not one parameters cell"
        assert 'href="../_static/tables.css' in page.read_text()
    # no section is only a heading: each has something to read before its first subsection
    for page in pages:
        empty = EMPTY_SECTION.findall(page.read_text())
        assert not empty, f"{page.name}: sections with nothing under their heading: {[e[0] for e in empty]}"
    # the intro opens with the findings, glued from the chapters, and the summary figure
    intro = _text(html / "book" / "intro.html")
    none = load_result(hda_configs("smoke")["none"])
    wa, ua = (f"{100 * none.summary()[m]['mean']:.1f}" for m in ("wa", "ua"))
    assert f"augmentation reaches {wa} % weighted accuracy" in intro and f"{wa} % WA, {ua} % UA" in intro, intro[:3000]
    assert f"The paper reports that ADCRNN reaches {TABLE_V['none'][0]:.2f} % accuracy" in intro
    assert re.search(r"leave one speaker out, no augmentation - \d+\.\d % UA", intro), intro[:3000]
    assert "title claim is about GAN augmentation" in intro and "median share of the clips" in intro  # what the GANs produced
    assert re.search(r"under the smoke profile", intro) and (html / "book" / "intro.html").read_text().count("<img") >= 1


#: The smoke book built by test_smoke_book_builds in this run: ``{"html": its _build/html}``.
BUILT: dict[str, Path] = {}


@pytest.mark.slow
def test_smoke_book_tables_fit_the_page():
    """At a 1280 px window (an article column of about 690 px) every table of every page of the smoke
    book fits, and no number cell breaks over lines, as headless Chromium lays them out."""
    from .helpers.chromium import find_chromium, table_widths

    if "html" not in BUILT:
        pytest.skip("no smoke book built in this run (test_smoke_book_builds did not run or failed)")
    if find_chromium() is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium not found: .ci/run installs the Debian package chromium")
        pytest.skip("Chromium not found (apt-get install chromium): the tables' widths were not measured")
    html = BUILT["html"]
    pages = sorted(str(p.relative_to(html)) for p in (html / "book").glob("*.html"))
    measured = table_widths(html, pages, width=1280)
    assert sum(len(m["tables"]) for m in measured.values()) >= 20
    wide = [(page, t["section"], t["width"], m["article"]) for page, m in measured.items() for t in m["tables"] if t["width"] > m["article"] + 1]
    assert not wide, f"tables wider than the article column: {wide}"
    broken = [(page, t["section"], t["wrapped"]) for page, m in measured.items() for t in m["tables"] if t["wrapped"]]
    assert not broken, f"number cells broken over lines: {broken}"


@pytest.mark.slow
def test_failing_notebook_names_cell_and_keeps_partial(project, synthetic_corpus):
    with pytest.raises(AdcrnnError, match=r"failed in cell \d+: ParameterError: profile='fast'") as info:
        book.run_notebook(
            project / "notebooks" / "01_data.ipynb",
            project / "book" / "01_data.ipynb",
            {"profile": "fast", "data_dir": str(synthetic_corpus), "verify_checksums": False},
        )
    partial = project / "book" / "01_data.failed.ipynb"
    assert str(partial) in str(info.value) and partial.is_file()
    assert not (project / "book" / "01_data.ipynb").exists()


def test_build_records_keep_the_cold_build(tmp_path, monkeypatch):
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path))
    assert book.build_record("smoke") is None and book.build_record("smoke", cold=True) is None
    grid = {"profile": "smoke", "runs": 2, "wall_time_s": 4.0}
    book._record_build("smoke", {**grid, "folds_trained": 3, "folds_cached": 0}, chapters_s=1.0, render_s=0.5, wall_time_s=5.0)
    book._record_build("smoke", {**grid, "folds_trained": 0, "folds_cached": 3}, chapters_s=1.0, render_s=0.5, wall_time_s=2.0)
    last, cold = book.build_record("smoke"), book.build_record("smoke", cold=True)
    assert (last["cold"], last["wall_time_s"]) == (False, 2.0)
    assert (cold["cold"], cold["wall_time_s"], cold["grid"]["folds_trained"]) == (True, 5.0, 3)
    book._record_build("smoke", None, chapters_s=1.0, render_s=0.5, wall_time_s=1.5)  # no grid pass: never cold
    assert book.build_record("smoke")["grid"] is None and book.build_record("smoke", cold=True)["wall_time_s"] == 5.0


def test_reading_runs_does_not_load_the_backend():
    """The chapters only read fold JSON: importing what they use (and validating a configuration)
    leaves Keras and TensorFlow unloaded, so each of the book's kernels starts in seconds."""
    import subprocess

    code = (
        "import sys\n"
        "from adcrnn_lib import chapters, provenance\n"
        "from adcrnn_lib.chapters import augmentation, baseline, book, budget, hda, plots, report, reproducibility, speakers\n"
        "from adcrnn_lib.experiments import cv, grid\n"
        "from adcrnn_lib.config import ExperimentConfig\n"
        "ExperimentConfig(profile='smoke', loss='lf4', augmentation='wavegan')\n"
        "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
