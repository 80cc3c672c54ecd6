"""Small file helpers: atomic writes, content hashes, and where the checkout is.

Every file the library writes goes through :func:`atomic_write`: the data lands in a temporary file
in the same folder, is flushed to disk, then renamed over the target, so a killed process leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["CHECKOUT_ROOT", "atomic_write", "write_json", "save_npy", "sha256_file"]

#: The folder that holds ``adcrnn_lib/``: the checkout (the package is installed editable), home of
#: ``results/``, ``benchmarks/``, ``data/`` and the book's sources.
CHECKOUT_ROOT: Path = Path(__file__).resolve().parent.parent

_CHUNK = 1 << 20


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` only when the block ends without error.

    Parameters
    ----------
    path : str or os.PathLike
        Final location. Its folder is created if needed.
    mode : {"wb", "w"}
        Binary or text mode.

    Yields
    ------
    file object
        Write to it; on success it is renamed to ``path``, on error it is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, mode="w") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True)
        fh.write("\n")


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array in ``.npy`` format, atomically."""
    with atomic_write(path, mode="wb") as fh:
        np.save(fh, array, allow_pickle=False)


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
