"""Look at the built book as a reader's browser does: headless Chromium measures tables and takes screenshots.

The smoke-book test measures every table of every page at a 1280 px window (:func:`table_widths`).
``python -m tests.helpers.chromium _build/html --out benchmarks/results`` screenshots the pages a new
reader opens first (:data:`SHOTS`) at 1280 px (the shots committed, ``book-<page>.png``) and 390 px
(:func:`screenshot`), and lists the tables wider than the article. Chromium is the Debian package
(``apt-get install chromium``; ``.ci/run`` installs it), run headless with no sandbox, network or
profile of its own, on copies of the pages written to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["CHROMIUM_CANDIDATES", "find_chromium", "table_widths", "screenshot", "SHOTS"]

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
#: The pages a new reader opens first, and the stem of their screenshots.
SHOTS = {"intro": "intro", "training_budget": "training-budget", "03_table_v": "table-v", "06_speaker_independent": "loso", "07_reproducibility": "reproducibility"}

_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
)

# Written into a copy of a page: after load, every table's width against the article's, as JSON in <pre id="table-widths">.
_MEASURE = """
<script>
// a cell that is one number: "66.0 ± 5.0", "+1.2 [-0.4, +2.9], p=0.210", "[-0.4, +2.9]" (spaces may be non-breaking)
const NUMBER = /^[-+]?\\d+(\\.\\d+)?\\s±\\s\\d+(\\.\\d+)?$|^([-+]?\\d+(\\.\\d+)?\\s)?\\[[-+]?\\d+(\\.\\d+)?,\\s[-+]?\\d+(\\.\\d+)?\\](,\\sp=\\d\\.\\d+)?$/;
window.addEventListener("load", () => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const limit = article.clientWidth - parseFloat(getComputedStyle(article).paddingLeft) - parseFloat(getComputedStyle(article).paddingRight);
  const tables = [...article.querySelectorAll("table")].map((t) => {
    const section = t.closest("section");
    const heading = section ? section.querySelector("h1, h2, h3") : null;
    const wrapped = [...t.querySelectorAll("td")].filter((td) => NUMBER.test(td.textContent.trim())).filter((td) => {
      const range = document.createRange();
      range.selectNodeContents(td);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size > 1;
    }).map((td) => td.textContent.trim());
    return {width: Math.ceil(Math.max(t.getBoundingClientRect().width, t.scrollWidth)), wrapped: wrapped, scroll: t.parentElement.scrollWidth > t.parentElement.clientWidth + 1,
            section: heading ? heading.textContent.replace(/[#\\s]+$/, "").trim() : "", head: t.rows.length ? t.rows[0].textContent.replace(/\\s+/g, " ").trim().slice(0, 80) : ""};
  });
  const out = document.createElement("pre");
  out.id = "table-widths";
  out.textContent = JSON.stringify({article: Math.floor(limit), window: window.innerWidth, tables: tables});
  document.body.appendChild(out);
});
</script>
"""


def find_chromium() -> str | None:
    """The headless browser's executable, or None: ``$CHROMIUM`` first, then the usual names on ``PATH``."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)


def _run(chromium: str, args: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=timeout)


def table_widths(html_dir: str | os.PathLike, pages: list[str], *, width: int = 1280, chromium: str | None = None) -> dict[str, dict]:
    """Each page's article width and its tables' widths (px) in a ``width`` px window.

    Parameters
    ----------
    html_dir : path
        ``_build/html`` of a built book.
    pages : list of str
        Page paths under ``html_dir``, e.g. ``"book/03_table_v.html"``.

    Returns
    -------
    dict
        page -> ``{"article": px, "window": px, "tables": [{"width", "wrapped", "scroll", "section", "head"}]}``;
        ``wrapped`` lists the cells that are one number ("66.0 ± 5.0", "+1.2 [-0.4, +2.9], p=0.210")
        and break over lines, ``scroll`` is whether the table's container scrolls sideways.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    html_dir = Path(html_dir)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "html"
        shutil.copytree(html_dir, copy)
        for page in pages:
            target = copy / page
            target.write_text(target.read_text().replace("</body>", _MEASURE + "</body>"))
            proc = _run(chromium, ["--virtual-time-budget=10000", f"--window-size={width},3000", "--dump-dom", target.as_uri()])
            found = re.search(r'<pre id="table-widths"[^>]*>(.*?)</pre>', proc.stdout, re.S)
            if found is None:
                raise RuntimeError(f"{page}: Chromium reported no widths (exit {proc.returncode}): {proc.stderr[-2000:]}")
            out[page] = json.loads(found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    return out


def screenshot(html_dir: str | os.PathLike, page: str, png: str | os.PathLike, *, width: int = 1280, height: int = 3000, chromium: str | None = None) -> Path:
    """A ``width`` x ``height`` px screenshot of ``page`` (a path under ``html_dir``) into ``png``."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    proc = _run(chromium, ["--virtual-time-budget=10000", f"--window-size={width},{height}", f"--screenshot={png}", (Path(html_dir).resolve() / page).as_uri()])
    if not png.is_file():
        raise RuntimeError(f"{page}: no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}")
    from PIL import Image  # matplotlib's dependency: 256 colours keep a page's text sharp at a third of the size

    Image.open(png).convert("RGB").quantize(256).save(png, optimize=True)
    return png


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot the book's first pages and report every table wider than the article.")
    parser.add_argument("html", help="_build/html of a built book")
    parser.add_argument("--out", default="benchmarks/results", help="folder of the screenshots (book-<page>.png at 1280 px, book-<page>-<width>px.png at others)")
    parser.add_argument("--widths", nargs="+", type=int, default=[1280, 390])
    args = parser.parse_args(argv)
    for stem, name in SHOTS.items():
        page = "book/intro.html" if stem == "intro" else f"book/{stem}.html"
        for width in args.widths:
            print(screenshot(args.html, page, Path(args.out) / (f"book-{name}.png" if width == 1280 else f"book-{name}-{width}px.png"), width=width))
    pages = sorted(str(p.relative_to(args.html)) for p in Path(args.html, "book").glob("*.html"))
    wide = 0
    for page, found in table_widths(args.html, pages).items():
        for t in found["tables"]:
            if t["width"] > found["article"]:
                wide += 1
                print(f"{page}: {t['width']} px > {found['article']} px ({t['section']}: {t['head'][:50]})")
    print(f"{wide} table(s) wider than the article at 1280 px")
    return 1 if wide else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
