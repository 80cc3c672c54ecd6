"""The book: every chapter runs under papermill with the smoke profile, then jupyter-book builds with -W."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

import pytest

from adcrnn_lib import book
from adcrnn_lib.exceptions import AdcrnnError
from adcrnn_lib.grid import run_grid, save_reference
from adcrnn_lib.paper import TABLE_V

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the book's sources, so the test never writes into the checkout."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "notebooks", dest / "notebooks")
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


def test_toc_lists_every_chapter():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in book.CHAPTERS:
        assert f"book/{Path(chapter.output).stem}" in toc


@pytest.mark.slow
def test_smoke_book_builds(project, small_corpus, caplog):
    caplog.set_level(logging.INFO, logger="adcrnn_lib")
    # eGeMAPS (88 features) keeps the baseline fits quick; 4 speakers keep leave-one-speaker-out at 4 folds
    index = book.build_book("smoke", data_dir=small_corpus, verify=False, root=project, overrides={"baseline.ipynb": {"features": "egemaps"}}, baseline_features="egemaps")
    assert index.is_file()
    page = (project / "_build" / "html" / "book" / "01_data.html").read_text()
    assert (project / "_build" / "html" / "book" / "02_augmentation.html").is_file()
    baseline = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", (project / "_build" / "html" / "book" / "baseline.html").read_text()))
    assert re.search(r"the baseline reaches \d+\.\d % WA", baseline) and "85.66 ± 1.85 (the paper's)" in baseline
    n = len(list(small_corpus.glob("*.wav")))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert f"The corpus holds {n} utterances by 4 speakers" in text  # a glued, computed number
    assert "<audio" in page and page.count("<img") >= 4
    executed = json.loads((project / "book" / "01_data.ipynb").read_text())
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
    html = project / "_build" / "html" / "book"
    for chapter in book.CHAPTERS:
        assert (html / f"{Path(chapter.output).stem}.html").is_file(), chapter.output
    table_v = _text(html / "03_table_v.html")
    for aug, (mean, std) in TABLE_V.items():
        assert f"{mean:.2f} ± {std:.2f} (paper)" in table_v  # paper numbers only ever labelled
    assert re.search(r"best augmentation by mean UA is \w+", table_v) and "baseline: egemaps + logreg" in table_v
    assert "ACRNN, Chen et al. 2018 (cited by the paper)" in _text(html / "05_comparison.html")
    assert re.search(r"leave-one-speaker-out, ADCRNN reaches \d+\.\d % UA", _text(html / "06_speaker_independent.html"))
    assert (html / "03_hda_wavegan.html").read_text().count("<img") >= 1
    assert "<audio" in (html / "02_augmentation.html").read_text()
    assert len(list(Path(os.environ["ADCRNN_RESULTS_DIR"]).rglob("gan-quality-fold0.json"))) == 1  # cached for rebuilds
    assert re.search(r"\[run 1/\d+\] baseline .*folds to train; about \d+:\d\d:\d\d left", caplog.text)
    assert re.search(r"\[chapter \d+/\d+\] 07_reproducibility", caplog.text)
    # a second pass finds every fold cached and trains nothing
    again = run_grid("smoke", small_corpus, verify=False, baseline_features="egemaps")
    assert again["folds_trained"] == 0 and again["folds_cached"] > 0
    # the first build trained every fold: its timing is kept as the cold build's
    cold, last = book.build_record("smoke", cold=True), book.build_record("smoke")
    assert cold == last and cold["cold"] and cold["grid"]["folds_cached"] == 0 and cold["grid"]["folds_trained"] > 0
    assert cold["wall_time_s"] > cold["grid"]["wall_time_s"] + cold["chapters_s"] > 0 and cold["machine"]["cores"] >= 1
    # the finished runs can become the reference: JSON only, every run of the grid
    saved = save_reference("smoke", small_corpus, reference_dir=project / "reference", baseline_features="egemaps")
    assert len(saved) == 4 + 5 + 4 + 3 == again["runs"]
    assert {p.suffix for d in saved for p in d.iterdir()} == {".json"}
    assert json.loads((project / "reference" / "smoke" / book.COLD_BUILD_RECORD).read_text()) == cold


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text()))


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


@pytest.mark.slow
@pytest.mark.parametrize(
    "template, params, message",
    [
        ("03_hda.ipynb", {"augmentation": "mixup"}, r"augmentation='mixup'; allowed: none, time_shift"),
        ("04_ablation.ipynb", {"seed": "zero"}, r"ParameterError: seed='zero'"),
    ],
)
def test_bad_chapter_parameters_fail_before_training(project, small_corpus, template, params, message, tmp_path):
    with pytest.raises(AdcrnnError, match=message):
        book.run_notebook(project / "notebooks" / template, project / "book" / template, {"profile": "smoke", "data_dir": str(small_corpus), "verify_checksums": False, **params})
    assert not any(Path(os.environ["ADCRNN_RESULTS_DIR"]).rglob("fold-*.json"))  # nothing was trained


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
