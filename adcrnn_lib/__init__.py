"""adcrnn_lib: a reproducible implementation of Pham, Dang and Nguyen's HDA + ADCRNN for speech emotion recognition."""

from __future__ import annotations

__version__ = "0.1.0"
