"""Synthetic audio for the tests: voiced-like tones and wav files, and EmoDB look-alike corpora."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adcrnn_lib import data

__all__ = ["tone", "write_wav", "make_corpus", "SHARED_EMODB", "REQUIRE_EMODB_VAR", "corpus_missing"]

#: The real corpus beside the checkout, where this project's machines keep it.
SHARED_EMODB = Path(__file__).resolve().parents[2].parent / "shared" / "emodb" / "wav"

# One fundamental frequency per emotion, so that synthetic classes differ audibly.
_F0 = {"W": 220.0, "L": 110.0, "E": 150.0, "A": 260.0, "F": 240.0, "T": 120.0, "N": 170.0}


def tone(f0: float, seconds: float, *, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A voiced-like signal: a few harmonics of ``f0`` with a slow vibrato, plus a little noise."""
    gen = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    phase = 2 * np.pi * f0 * t + 3 * np.sin(2 * np.pi * 5 * t)
    y = sum(np.sin(k * phase) / k for k in range(1, 5)) * np.hanning(t.size) ** 0.2
    return (0.3 * y / np.max(np.abs(y)) + 0.005 * gen.standard_normal(t.size)).astype(np.float32)


def write_wav(path: Path, y: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr, subtype=subtype)
    return path


def make_corpus(folder: Path, *, sentences=("a01", "a02"), extra_takes: int = 1, seconds=(0.5, 1.2), speakers=None) -> Path:
    """Write EmoDB-named wavs: every speaker x sentence x emotion once, some with a second take."""
    gen = np.random.default_rng(1)
    n = 0
    for speaker in speakers or sorted(data.SPEAKER_SEX):
        for sentence in sentences:
            for code, f0 in _F0.items():
                takes = "ab" if (extra_takes and gen.random() < 0.3) else "a"
                for take in takes:
                    dur = float(gen.uniform(*seconds))
                    write_wav(folder / f"{speaker}{sentence}{code}{take}.wav", tone(f0 * gen.uniform(0.95, 1.05), dur, seed=n))
                    n += 1
    return folder


#: Set (to anything but "" or "0") where the real corpus must be there, as in CI (.ci/run): the
#: corpus tests then fail instead of skipping when it is not.
REQUIRE_EMODB_VAR = "ADCRNN_REQUIRE_EMODB"


def corpus_missing(reason: str):
    """Skip a test that needs the real corpus, or fail it where :data:`REQUIRE_EMODB_VAR` asks for the corpus."""
    if os.environ.get(REQUIRE_EMODB_VAR, "") not in ("", "0"):
        pytest.fail(f"{reason} (and ${REQUIRE_EMODB_VAR} requires it)", pytrace=False)
    pytest.skip(reason)
