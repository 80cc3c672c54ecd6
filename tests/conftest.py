"""Shared fixtures: a seeded rng, synthetic EmoDB-named wav files, the real corpus when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adcrnn_lib import data

SHARED_EMODB = Path(__file__).resolve().parents[1].parent / "shared" / "emodb" / "wav"

# One fundamental frequency per emotion, so that synthetic classes differ audibly.
_F0 = {"W": 220.0, "L": 110.0, "E": 150.0, "A": 260.0, "F": 240.0, "T": 120.0, "N": 170.0}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test gets its own cache and results folders; no test writes to the user's."""
    monkeypatch.setenv("ADCRNN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ADCRNN_RESULTS_DIR", str(tmp_path_factory.mktemp("results")))


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


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory) -> Path:
    """A small EmoDB look-alike: 10 speakers, 2 sentences, 7 emotions, some repeated takes."""
    return make_corpus(tmp_path_factory.mktemp("emodb") / "wav")


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """4 speakers (2 female, 2 male), 2 sentences, 7 emotions: enough folds for the CV engine, fast."""
    return make_corpus(tmp_path_factory.mktemp("small") / "wav", speakers=["03", "08", "09", "10"])


@pytest.fixture(scope="session")
def emodb_dir() -> Path:
    """The real corpus: $ADCRNN_EMODB or ../shared/emodb/wav; skips when neither holds it."""
    env = os.environ.get(data.ENV_VAR)
    for candidate in ([Path(env)] if env else []) + [SHARED_EMODB]:
        if candidate.is_dir() and any(candidate.glob("*.wav")):
            return candidate
    pytest.skip("EmoDB not available: set ADCRNN_EMODB or provide ../shared/emodb/wav")
