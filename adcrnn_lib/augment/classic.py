"""The paper's traditional augmenters (section III-A-1): time shifting with roll, pitch shifting.

Both are pure functions: they never change their input and return a new float32 array of the same
length.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..data import SAMPLE_RATE
from ..exceptions import ParameterError

__all__ = ["time_shift", "pitch_shift"]


def _check_signal(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ParameterError(f"expected mono audio of shape (n,), got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ParameterError("audio contains NaN or infinite samples")
    return y


def time_shift(
    y: np.ndarray,
    *,
    sr: int = SAMPLE_RATE,
    tau: int | None = None,
    direction: Literal["forward", "backward"] = "forward",
    roll: bool = True,
) -> np.ndarray:
    """Eq. 1: ``chi(t) = omega(t -+ tau)``, shifting the signal forward or backward in time.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio.
    sr : int
        Sample rate.
    tau : int, optional
        Shift in samples; the paper's ``sr / 100`` (10 ms) by default.
    direction : {"forward", "backward"}
        Forward moves the content later in time (``chi[t] = omega[t - tau]``), backward earlier.
    roll : bool
        With roll (the paper's choice, Fig. 2) the samples pushed out at one end come back in at
        the other, so the energy is unchanged; without it the gap is filled with zeros.

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    y = _check_signal(y)
    tau = int(sr // 100) if tau is None else int(tau)
    if tau < 0:
        raise ParameterError(f"tau={tau}; give a non-negative shift and a direction")
    if direction not in ("forward", "backward"):
        raise ParameterError(f"direction={direction!r}; allowed: 'forward', 'backward'")
    shift = tau if direction == "forward" else -tau
    if roll:
        return np.roll(y, shift).astype(np.float32)
    out = np.zeros(y.size, dtype=np.float32)
    if abs(shift) < y.size:
        if shift >= 0:
            out[shift:] = y[: y.size - shift]
        else:
            out[:shift] = y[-shift:]
    return out


def pitch_shift(y: np.ndarray, *, sr: int = SAMPLE_RATE, n_steps: float, bins_per_octave: int = 12) -> np.ndarray:
    """Eqs. 2-3: shift the pitch by ``n_steps`` without changing the duration (librosa).

    librosa time-stretches by ``S_ratio = 2 ** (-n_steps / bins_per_octave)`` (eq. 2) with a phase
    vocoder, then resamples by the inverse ratio (eq. 3), so the length is kept and every frequency
    is multiplied by ``2 ** (n_steps / bins_per_octave)``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
    sr : int
    n_steps : float
        Half-steps (with ``bins_per_octave=12``); positive raises the pitch.
    bins_per_octave : int

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
    """
    import librosa

    y = _check_signal(y)
    if bins_per_octave < 1:
        raise ParameterError(f"bins_per_octave={bins_per_octave}; must be >= 1")
    out = librosa.effects.pitch_shift(y.astype(np.float32), sr=sr, n_steps=float(n_steps), bins_per_octave=bins_per_octave)
    return np.ascontiguousarray(out[: y.size], dtype=np.float32)
