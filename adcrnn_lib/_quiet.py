"""Keep backend start-up noise off terminals and book pages; :func:`install` runs on package import.

TensorFlow's C++ runtime logs at start-up (``oneDNN custom operations are on``,
``cpu_feature_guard``, and absl's ``WARNING: All log messages before absl::InitializeLog() ...``).
``TF_CPP_MIN_LOG_LEVEL`` hides the runtime's INFO and WARNING lines, but not those written while the
shared libraries load, before absl is initialized. So, unless the user asked for them:

* ``TF_CPP_MIN_LOG_LEVEL`` defaults to ``"2"`` (errors only); a value the user set is kept;
* the first ``import tensorflow`` (whoever does it: Keras, the library, a notebook) runs with file
  descriptor 2 captured, and the captured lines are written back to stderr except the start-up log
  records below that level (so a real error, or a Python warning, still shows);
* TensorFlow's Python logger (``tensorflow``: retracing hints and the like) gets the same level,
  unless it has one already: ``2`` shows its errors only;
* tqdm's ``IProgress not found`` warning (``tqdm.auto`` in a Jupyter kernel without ipywidgets,
  which then falls back to the text bar, and prints its own site-packages path) is ignored.

``TF_CPP_MIN_LOG_LEVEL=0`` turns the filter off and shows everything.

The book's chapters and the ``adcrnn`` command run at :data:`CHAPTER_LOG_LEVEL` unless the user
set a level (:func:`chapter_log_level`, :func:`command_log_level`): TensorFlow's runtime also logs
harmless "errors" while it trains (``E0000 ... NodeDef mentions attribute use_unbounded_threadpool``,
a graph attribute newer than the binary; ``oneDNN supports DT_BOOL only on platforms with
AVX-512``, a kernel fallback) that raise nothing and read as failures to a user; a real failure
raises anyway. ``adcrnn --verbose`` shows everything.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
import warnings

__all__ = ["LOG_LEVEL_VAR", "DEFAULT_LOG_LEVEL", "CHAPTER_LOG_LEVEL", "install", "filter_startup_log", "chapter_log_level", "command_log_level"]

LOG_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
#: 0 all, 1 no INFO, 2 no INFO or WARNING, 3 no ERROR either (TensorFlow's own scale).
DEFAULT_LOG_LEVEL = "2"
CHAPTER_LOG_LEVEL = "3"
#: The level the user set before this package set its default (None: not set).
_USER_LEVEL = os.environ.get(LOG_LEVEL_VAR)

# A glog/absl record: severity letter, MMDD, time, thread, file:line] message.
_RECORD = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# The second line of cpu_feature_guard's record.
_CONTINUATION = "To enable the following instructions:"


def _level() -> int:
    try:
        return int(os.environ.get(LOG_LEVEL_VAR, DEFAULT_LOG_LEVEL))
    except ValueError:
        return int(DEFAULT_LOG_LEVEL)


def filter_startup_log(text: str, level: int) -> str:
    """``text`` without the start-up log records below ``level`` (and absl's notice when ``level`` >= 1)."""
    kept, dropped_record = [], False
    for line in text.splitlines(keepends=True):
        record = _RECORD.match(line)
        if record:
            dropped_record = _SEVERITY[record.group(1)] < level
            if not dropped_record:
                kept.append(line)
        elif line.rstrip("\n") == _ABSL_NOTICE:
            dropped_record = level >= 1
            if not dropped_record:
                kept.append(line)
        elif line.startswith(_CONTINUATION) and dropped_record:
            continue
        else:
            dropped_record = False
            kept.append(line)
    return "".join(kept)


class _QuietTensorflowImport(importlib.abc.MetaPathFinder):
    """Wrap the first import of ``tensorflow`` so its start-up log is filtered; then step aside."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            level = _level()
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError, AttributeError):  # no usable file descriptor 2
                return run(module)
            with tempfile.TemporaryFile() as captured:
                os.dup2(captured.fileno(), 2)
                try:
                    run(module)
                    _python_log_level(level)
                finally:
                    os.dup2(saved, 2)
                    os.close(saved)
                    captured.seek(0)
                    rest = filter_startup_log(captured.read().decode(errors="replace"), level)
                    if rest:
                        os.write(2, rest.encode())

        spec.loader.exec_module = exec_module
        return spec


def _python_log_level(level: int) -> None:
    """TensorFlow's Python logger (retracing hints and the like) at the same level, unless set already."""
    import logging

    tf_logger = logging.getLogger("tensorflow")
    if tf_logger.level == logging.NOTSET and level >= 1:
        tf_logger.setLevel({1: logging.WARNING, 2: logging.ERROR}.get(level, logging.CRITICAL))


def chapter_log_level() -> str:
    """The level the book's chapters run at: the user's own, else :data:`CHAPTER_LOG_LEVEL`."""
    return _USER_LEVEL if _USER_LEVEL is not None else CHAPTER_LOG_LEVEL


def command_log_level(verbose: bool = False) -> str:
    """The level the ``adcrnn`` command runs at: the user's own, else ``"0"`` (everything) with
    ``verbose``, else :data:`CHAPTER_LOG_LEVEL` (the runtime's harmless "errors" hidden)."""
    if _USER_LEVEL is not None:
        return _USER_LEVEL
    return "0" if verbose else CHAPTER_LOG_LEVEL


def install() -> None:
    """Apply the defaults above; a no-op when TensorFlow is already imported or the user wants its logs."""
    warnings.filterwarnings("ignore", message=r"IProgress not found")
    os.environ.setdefault(LOG_LEVEL_VAR, DEFAULT_LOG_LEVEL)
    if _level() <= 0 or "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietTensorflowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorflowImport())
