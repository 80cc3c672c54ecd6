"""The templates as a reader opens them: run top to bottom in a fresh kernel, without papermill.

The book runs every template through papermill, which adds a cell of injected parameters after the
template's own. A reader who opens ``notebooks/`` in JupyterLab (``make lab``) has no such cell: the
template's parameters cell is all there is, the kernel runs in ``notebooks/``, and the corpus is
found through ``$ADCRNN_EMODB``. :func:`run_templates_as_opened` runs every template that way
(nbclient, not papermill); the smoke book test calls it on the runs it has just built, so nothing
is trained twice. The only change made to a template is the one the README's "Explore" section
tells a reader to make, a literal of its parameters cell (:data:`SMOKE_EDITS`).
"""

from __future__ import annotations

import ast
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from adcrnn_lib.chapters import book

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: The literals a reader changes in a parameters cell to explore the tests' smoke runs: the profile,
#: no EmoDB checksums (the corpus is synthetic), and the eGeMAPS baseline the smoke book trains.
SMOKE_EDITS = {"profile": '"smoke"', "verify_checksums": "False", "baseline_features": '"egemaps"', "features": '"egemaps"'}


def _parameters_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def _declared(source: str) -> dict[str, ast.expr]:
    """Name -> value node of each assignment of a parameters cell (raises unless that is all it holds)."""
    out = {}
    for stmt in ast.parse(source).body:
        assert isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name), ast.unparse(stmt)
        out[stmt.targets[0].id] = stmt.value
    return out


def explored(template: Path, edits: dict[str, str]) -> dict:
    """``template`` (its JSON, each cell's source one string) with the literals of ``edits`` (name ->
    Python source) in place of its parameters cell's own, for the names it declares; nothing else changes."""
    nb = json.loads(template.read_text())
    for cell in nb["cells"]:
        cell["source"] = "".join(cell["source"])
    cell = _parameters_cell(nb)
    for name in set(edits) & set(_declared(cell["source"])):
        cell["source"], n = re.subn(rf"^({name} = )[^#\n]*?(\s*#.*)?$", rf"\g<1>{edits[name]}\g<2>", cell["source"], flags=re.M)
        assert n == 1, f"{template.name}: {name} is not one line 'name = value  # comment' in the parameters cell"
    return nb


def execute_as_opened(nb, folder: Path, env: dict[str, str]) -> None:
    """Run ``nb`` top to bottom in a fresh ``python3`` kernel started in ``folder`` with ``env``, as
    JupyterLab's "Run All" does; raises nbclient's CellExecutionError at the first failing cell."""
    import nbformat
    from nbclient import NotebookClient

    client = NotebookClient(nbformat.from_dict(nb), kernel_name="python3", timeout=900, resources={"metadata": {"path": str(folder)}})
    client.execute(env=env)


#: Terminal colours of an IPython traceback, left out of the failure message.
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _fold_files(results: Path) -> set[str]:
    return {str(p.relative_to(results)) for p in results.rglob("fold-*.json")}


def run_templates_as_opened(notebooks: Path, corpus: Path, *, jobs: int = 2) -> None:
    """Run every template of ``notebooks/`` as opened (:data:`SMOKE_EDITS`, data_dir left "" and the
    corpus in ``$ADCRNN_EMODB``), ``jobs`` at a time, reading the runs of ``$ADCRNN_RESULTS_DIR``.

    Fails naming every template that raised, and if any of them trained a fold instead of reading one.
    """
    results = Path(os.environ["ADCRNN_RESULTS_DIR"])
    before = _fold_files(results)
    env = {**os.environ, "ADCRNN_EMODB": str(corpus)}
    templates = sorted(notebooks.glob("*.ipynb"))
    assert {c.template for c in book.CHAPTERS} <= {t.name for t in templates}

    def run(template: Path) -> str | None:
        try:
            execute_as_opened(explored(template, SMOKE_EDITS), notebooks, env)
        except Exception as exc:  # noqa: BLE001 - every template's failure is reported together
            return f"{template.name}: {type(exc).__name__}: {ANSI.sub('', str(exc))[-3000:]}"
        return None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        failures = [f for f in pool.map(run, templates) if f]
    assert not failures, "templates that fail when run as opened (no injected parameters):\n" + "\n\n".join(failures)
    assert _fold_files(results) == before, f"run as opened, the templates trained folds instead of reading them: {sorted(_fold_files(results) - before)}"


# ------------------------------------------------------------------------------------------
# cheap checks of every template, without a kernel
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_parameters_cell_holds_literals_only(template):
    """What a reader edits: one ``name = literal  # what it is`` a line, each a valid default."""
    source = "".join(_parameters_cell(json.loads(template.read_text()))["source"])
    for name, value in _declared(source).items():
        ast.literal_eval(value)  # raises on anything but a literal
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
    assert all(re.match(r"^\w+ = .+  # \S", line) for line in lines), f"{template.name}: each parameter on its own line with a comment"


@pytest.mark.parametrize("chapter", book.CHAPTERS, ids=lambda c: c.output)
def test_template_declares_what_the_book_passes(chapter):
    """papermill injects a parameter the template does not declare without complaint; opened in
    JupyterLab, such a template stops at a NameError. So every name the book passes is declared."""
    template = ROOT / "notebooks" / chapter.template
    declared = set(_declared("".join(_parameters_cell(json.loads(template.read_text()))["source"])))
    assert {"profile", "data_dir", "verify_checksums", *chapter.parameters} <= declared


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_first_cell_says_how_to_explore(template):
    """The first markdown cell names what to change in the parameters cell and what it costs."""
    nb = json.loads(template.read_text())
    first = "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"])
    explore = re.search(r"^\*\*To explore\.\*\* (.+?)(\n\n|\Z)", first, re.M | re.S)
    assert explore, f"{template.name}: no '**To explore.**' paragraph in the first cell"
    declared = set(_declared("".join(_parameters_cell(nb)["source"])))
    named = set(re.findall(r"`(\w+)", explore.group(1))) & declared
    assert "profile" in named and re.search(r"\d+ (s|min|h)\b", explore.group(1)), f"{template.name}: {explore.group(1)!r}"


def test_explored_changes_only_the_literals():
    template = ROOT / "notebooks" / "baseline.ipynb"
    nb, original = explored(template, SMOKE_EDITS), json.loads(template.read_text())
    cell = _parameters_cell(nb)
    values = {k: ast.literal_eval(v) for k, v in _declared(cell["source"]).items()}
    assert (values["profile"], values["verify_checksums"], values["features"], values["data_dir"]) == ("smoke", False, "egemaps", "")
    assert cell["source"].count("\n") == "".join(_parameters_cell(original)["source"]).count("\n")
    others = [c["source"] for c in nb["cells"] if c is not cell]
    assert others == ["".join(c["source"]) for c in original["cells"] if c is not _parameters_cell(original)]


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.stem)
def test_every_page_starts_and_ends_the_same_way(template):
    """One call checks a page's parameters (a ParameterError names a bad one) and starts its clock;
    one call makes its provenance table."""
    code = ["".join(c["source"]) for c in json.loads(template.read_text())["cells"] if c["cell_type"] == "code"]
    assert "chapters.start_page(profile, data_dir=data_dir, verify_checksums=verify_checksums" in code[1], template.name
    assert code[-1].startswith("page.provenance("), template.name
    assert not any("raise " in c for c in code), f"{template.name}: a parameter check belongs in adcrnn_lib (ParameterError)"
