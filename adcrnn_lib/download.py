"""Fetch the public EmoDB zip, unpack its ``wav/`` folder and verify every file.

The corpus home page (emodb.bilderbar.info) serves the whole database as one zip whose ``wav/``
folder holds the 535 utterances. :func:`download_emodb` downloads it to a temporary file, unpacks
the wav files into a temporary folder next to the destination, checks each against the checksum
manifest shipped in the package, and only then renames the folder into place: an interrupted or
failed download never leaves a half corpus where :func:`~adcrnn_lib.data.find_corpus` would find it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from .data import LOCAL_SUBDIR, load_manifest, verify_corpus
from .exceptions import DataError
from .storage import CHECKOUT_ROOT

__all__ = ["EMODB_URL", "download_emodb", "default_download_dir"]

logger = logging.getLogger(__name__)

#: The public zip of the corpus.
EMODB_URL = "http://emodb.bilderbar.info/download/download.zip"


def default_download_dir() -> Path:
    """``data/emodb`` in the source checkout this package runs from."""
    return CHECKOUT_ROOT / LOCAL_SUBDIR


def download_emodb(
    dest: str | os.PathLike | None = None,
    *,
    url: str = EMODB_URL,
    manifest: dict[str, str] | None = None,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """Download EmoDB and unpack it to ``dest/wav``.

    Parameters
    ----------
    dest : str or os.PathLike, optional
        Folder that receives ``wav/``; ``data/emodb`` in the project by default.
    url : str
        Where the zip is served.
    manifest : dict, optional
        Name -> SHA-256 of the expected files; the packaged EmoDB manifest by default.
    timeout : float
        Seconds to wait for the server.
    force : bool
        Replace an existing ``dest/wav``.

    Returns
    -------
    pathlib.Path
        ``dest/wav``.

    Raises
    ------
    DataError
        When the server cannot be reached (offline), the file is not a zip, it holds no wav
        files, or a file fails its checksum; the message says what happened and what to do.
    """
    dest = Path(dest) if dest is not None else default_download_dir()
    target = dest / "wav"
    manifest = load_manifest() if manifest is None else manifest
    if target.exists() and not force:
        verify_corpus(target, manifest)
        logger.info("EmoDB already present and verified in %s", target)
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".emodb-download-", dir=dest) as tmp:
        archive = Path(tmp) / "emodb.zip"
        _fetch(url, archive, timeout=timeout)
        staged = Path(tmp) / "wav"
        _unpack_wavs(archive, staged, url=url)
        verify_corpus(staged, manifest)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staged, target)
    logger.info("EmoDB downloaded and verified: %d files in %s", len(manifest), target)
    return target


def _fetch(url: str, out: Path, *, timeout: float) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(out, "wb") as fh:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc="EmoDB zip") as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    fh.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(
            f"could not download EmoDB from {url} ({exc}). If this machine is offline, download the "
            "zip elsewhere, unpack its wav/ folder, and set ADCRNN_EMODB to it (or copy it to "
            "data/emodb/wav)."
        ) from exc


def _unpack_wavs(archive: Path, out: Path, *, url: str) -> None:
    """Extract every ``*.wav`` member of ``archive`` whose parent folder is ``wav`` into ``out``."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and m.filename.lower().endswith(".wav")]
            members = [m for m in members if Path(m.filename).parent.name == "wav"] or members
            if not members:
                raise DataError(f"{url}: the zip holds no wav files")
            out.mkdir(parents=True)
            for m in members:
                name = Path(m.filename).name  # flat: never follow paths out of the folder
                with zf.open(m) as src, open(out / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{url}: the download is not a valid zip file ({exc})") from exc
