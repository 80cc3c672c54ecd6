"""adcrnn_lib: a reproducible implementation of Pham, Dang and Nguyen's HDA + ADCRNN for speech emotion recognition."""

from __future__ import annotations

from ._quiet import install as _quiet_backend_logs

__version__ = "0.1.0"

_quiet_backend_logs()  # before anything imports TensorFlow: no C++ start-up log unless asked for
