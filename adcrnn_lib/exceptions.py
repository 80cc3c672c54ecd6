"""Error types of adcrnn_lib.

Every error the library raises on purpose derives from :class:`AdcrnnError`, so a caller can catch
them all at once, and a user sees a message that names the file or the parameter at fault.
"""

from __future__ import annotations

__all__ = ["AdcrnnError", "ParameterError", "DataError", "CorpusNotFoundError", "TrainingError", "LeakageError"]


class AdcrnnError(Exception):
    """Root of every error raised on purpose by adcrnn_lib."""


class ParameterError(AdcrnnError, ValueError):
    """A function or a notebook was called with a value it does not accept."""


class DataError(AdcrnnError):
    """A data file is missing, unreadable, or does not hold what it should.

    The message always names the file and what is wrong with it.
    """


class CorpusNotFoundError(DataError):
    """No copy of EmoDB was found in any of the places the library looks."""


class TrainingError(AdcrnnError):
    """Training went wrong in a way that must stop the fold (e.g. a NaN loss)."""


class LeakageError(AdcrnnError, AssertionError):
    """A test utterance, or something derived from it, reached training or validation data."""
