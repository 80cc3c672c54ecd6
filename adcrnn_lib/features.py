"""3D log-Mel features (static, delta, delta-delta), fixed-length segments, normalization, cache.

The paper (section III-B) asks for a 25 ms window, a 10 ms hop, a 512-point FFT and 40 Mel bands from
300 Hz to 8 kHz, the log of the Mel spectrogram, then its delta and delta-delta. It computes them with
python_speech_features, as ACRNN (Chen et al., 2018) does. Where the paper is silent this module
follows python_speech_features / ACRNN, computed with librosa:

* **Window**: Hamming, 400 samples (25 ms), zero-padded to the 512-point FFT.
* **Framing**: centred frames (librosa's ``center=True``, zero padding), so frame ``t`` is centred
  at ``t * 10 ms`` and an utterance of ``n`` samples gives ``1 + n // 160`` frames, exactly
  100 frames a second.
* **Spectrum**: power ``|X|^2`` (python_speech_features divides by the FFT size, a constant offset
  after the log that normalization removes).
* **Mel filterbank**: HTK Mel scale, triangles of peak 1 (``htk=True, norm=None``), as
  python_speech_features builds them.
* **Log**: natural log with a floor, ``log(max(mel, 1e-10))``, so silent (padded) frames stay finite.
* **Deltas**: the regression slope over +-2 frames (width 5, edges repeated), as ACRNN's
  ``delta(x, 2)``; the delta-delta is the delta of the delta, as the paper says.
* **Segments**: ACRNN's 300 frames (3 s). A shorter utterance becomes one segment, zero-padded at the
  end *after* normalization (zero is then the training mean); a longer one becomes
  ``ceil(T / 300)`` segments of 300 frames spread evenly over it (the last ones overlap a little), so
  no frame is dropped and none is padded. Each segment keeps the index of its utterance so that
  predictions can be pooled per utterance.
* **Normalization**: z-score per (band, channel) with the mean and standard deviation of the
  training frames only (:class:`Normalizer`).

The cache (:class:`FeatureCache`) stores one ``.npy`` per file, keyed by the SHA-256 of the file's
bytes and by the feature parameters, plus a *bundle* per list of files so that a whole corpus loads
with one read. A file's hash is reused while its size, modification time and inode are unchanged.
The folder is ``$ADCRNN_CACHE_DIR``, else ``~/.cache/adcrnn``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import SAMPLE_RATE, load_audio
from .exceptions import DataError, ParameterError
from .profiles import LEVEL_NORMS
from .storage import atomic_write, save_npy, sha256_file, write_json

__all__ = [
    "speaker_normalizers",
    "FeatureParams",
    "PARAMS",
    "SEGMENT_FRAMES",
    "log_mel_3d",
    "segment",
    "segment_starts",
    "Segments",
    "segment_corpus",
    "Normalizer",
    "remove_level",
    "FeatureCache",
    "default_cache_dir",
    "resolve_cache_dir",
    "extract_features",
]

logger = logging.getLogger(__name__)

#: Frames per model input segment (3 s at a 10 ms hop), as in ACRNN.
SEGMENT_FRAMES: int = 300
#: Bumped whenever the computation changes in a way the parameters do not show; part of the cache key.
_FEATURE_VERSION = 1
CACHE_ENV_VAR = "ADCRNN_CACHE_DIR"


@dataclass(frozen=True)
class FeatureParams:
    """Settings of the 3D log-Mel front end; the defaults are the paper's (see the module docstring)."""

    sr: int = SAMPLE_RATE
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 512
    n_mels: int = 40
    fmin: float = 300.0
    fmax: float = 8000.0
    window: str = "hamming"
    log_floor: float = 1e-10
    delta_width: int = 5

    def key(self) -> str:
        """A short stable hash of the parameters and the feature code version."""
        blob = json.dumps({**dataclasses.asdict(self), "version": _FEATURE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


#: The paper's front end.
PARAMS = FeatureParams()


@functools.lru_cache(maxsize=8)
def _mel_basis(params: FeatureParams) -> np.ndarray:
    import librosa

    return librosa.filters.mel(
        sr=params.sr,
        n_fft=params.n_fft,
        n_mels=params.n_mels,
        fmin=params.fmin,
        fmax=params.fmax,
        htk=True,
        norm=None,
    ).astype(np.float32)


def log_mel_3d(y: np.ndarray, *, sr: int = SAMPLE_RATE, params: FeatureParams = PARAMS) -> np.ndarray:
    """Compute the 3D log-Mel features of one signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at ``sr`` Hz, at least one window (``params.win_length`` samples) long.
    sr : int
        Sample rate of ``y``; must equal ``params.sr``.
    params : FeatureParams
        Front-end settings; the paper's by default.

    Returns
    -------
    np.ndarray [shape=(1 + n // hop_length, n_mels, 3), dtype=float32]
        Channel 0 the static log-Mel, 1 its delta, 2 its delta-delta.
    """
    import librosa

    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"log_mel_3d expects mono audio of shape (n,), got shape {y.shape}")
    if sr != params.sr:
        raise ParameterError(f"sr={sr} but the features are defined at {params.sr} Hz; resample first")
    if y.size < params.win_length:
        raise ParameterError(f"{y.size} samples is shorter than one {params.win_length}-sample window")
    if not np.all(np.isfinite(y)):
        raise ParameterError("audio contains NaN or infinite samples")
    with warnings.catch_warnings():
        # centred framing pads the signal by n_fft // 2 on each side, so a signal shorter than
        # n_fft (but at least one window) is fine; librosa warns about it all the same
        warnings.filterwarnings("ignore", message="n_fft=.* is too large for input signal", category=UserWarning)
        spec = librosa.stft(
            y.astype(np.float32, copy=False),
            n_fft=params.n_fft,
            hop_length=params.hop_length,
            win_length=params.win_length,
            window=params.window,
            center=True,
            pad_mode="constant",
        )
    power = spec.real**2 + spec.imag**2
    static = np.log(np.maximum(_mel_basis(params) @ power, params.log_floor))
    delta = librosa.feature.delta(static, width=params.delta_width, order=1, mode="nearest")
    delta2 = librosa.feature.delta(delta, width=params.delta_width, order=1, mode="nearest")
    return np.ascontiguousarray(np.stack([static, delta, delta2], axis=-1).transpose(1, 0, 2), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------
def segment(features: np.ndarray, *, length: int = SEGMENT_FRAMES, hop: int | None = None) -> np.ndarray:
    """Cut one utterance's features into fixed-length segments.

    Parameters
    ----------
    features : np.ndarray [shape=(T, n_mels, 3)]
        Features of one utterance, normally already normalized.
    length : int
        Frames per segment.
    hop : int, optional
        Largest step between segment starts (``length`` by default: segments just cover the
        utterance; ``length // 2``: they overlap by at least half).

    Returns
    -------
    np.ndarray [shape=(n_segments, length, n_mels, 3)]
        One zero-padded segment when ``T <= length``; otherwise ``ceil((T - length) / hop) + 1``
        segments (``ceil(T / length)`` for the default hop) whose start frames are spread evenly
        from 0 to ``T - length``.
    """
    if features.ndim != 3:
        raise ParameterError(f"features must have shape (T, n_mels, channels), got {features.shape}")
    if length < 1:
        raise ParameterError(f"length={length}; must be >= 1")
    hop = length if hop is None else hop
    if not 1 <= hop <= length:
        raise ParameterError(f"hop={hop}; must be in [1, length={length}]")
    frames = features.shape[0]
    if frames <= length:
        out = np.zeros((1, length, *features.shape[1:]), dtype=features.dtype)
        out[0, :frames] = features
        return out
    return np.stack([features[s : s + length] for s in segment_starts(frames, length=length, hop=hop)])


def segment_starts(frames: int, *, length: int = SEGMENT_FRAMES, hop: int | None = None) -> np.ndarray:
    """Start frames of the segments :func:`segment` cuts from ``frames`` frames (``[0]`` when ``frames <= length``)."""
    hop = length if hop is None else hop
    if frames <= length:
        return np.zeros(1, dtype=int)
    n = -(-(frames - length) // hop) + 1
    return np.round(np.linspace(0, frames - length, n)).astype(int)


@dataclass(frozen=True)
class Segments:
    """Model inputs of several utterances.

    Attributes
    ----------
    x : np.ndarray [shape=(n_segments, length, n_mels, 3), dtype=float32]
    utterance : np.ndarray [shape=(n_segments,), dtype=int]
        For each segment, the position of its utterance in the list that was segmented.
    """

    x: np.ndarray
    utterance: np.ndarray


def segment_corpus(features: Sequence[np.ndarray], *, length: int = SEGMENT_FRAMES, hop: int | None = None) -> Segments:
    """Segment every utterance of a list (see :func:`segment`) and stack the segments, keeping their utterance index."""
    if len(features) == 0:
        raise ParameterError("segment_corpus got no utterances")
    parts = [segment(f, length=length, hop=hop) for f in features]
    index = np.concatenate([np.full(len(p), i, dtype=np.int64) for i, p in enumerate(parts)])
    return Segments(np.concatenate(parts).astype(np.float32, copy=False), index)


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Normalizer:
    """Z-score per (band, channel) with statistics of training frames only.

    With ``level="utterance"`` each utterance's static channel first loses its own mean per band,
    with ``level="gain"`` its mean over frames and bands, one number (:func:`remove_level`), in
    fitting and in every transform: a recording gain adds a constant to the static log-Mel channel
    and leaves the deltas unchanged, so the features then no longer depend on it.

    Attributes
    ----------
    mean, std : np.ndarray [shape=(n_mels, 3), dtype=float32]
    level : {"none", "utterance", "gain"}
    """

    mean: np.ndarray
    std: np.ndarray
    level: str = "none"

    @classmethod
    def fit(cls, features: Sequence[np.ndarray], *, eps: float = 1e-6, level: str = "none") -> Normalizer:
        """Estimate mean and standard deviation over all frames of ``features`` (training data).

        Every frame weighs the same, so long utterances count in proportion to their length.
        Accumulated in float64.
        """
        if level not in LEVEL_NORMS:
            raise ParameterError(f"level={level!r}; allowed: {', '.join(LEVEL_NORMS)}")
        if len(features) == 0:
            raise ParameterError("Normalizer.fit got no utterances")
        if level != "none":
            features = [remove_level(f, per_band=level == "utterance") for f in features]
        total = sum(f.shape[0] for f in features)
        s = sum(f.sum(axis=0, dtype=np.float64) for f in features)
        mean = s / total
        sq = sum(((f - mean) ** 2).sum(axis=0, dtype=np.float64) for f in features)
        std = np.sqrt(sq / total)
        return cls(mean.astype(np.float32), np.maximum(std, eps).astype(np.float32), level)

    def transform(self, features: np.ndarray) -> np.ndarray:
        """Return ``(features - mean) / std`` as float32 (after :func:`remove_level` unless ``level="none"``)."""
        if self.level != "none":
            features = remove_level(features, per_band=self.level == "utterance")
        return ((features - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        """Plain lists, for JSON (``level`` only when it is not ``"none"``, as models saved before it existed)."""
        out: dict = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.level != "none":
            out["level"] = self.level
        return out

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        """Inverse of :meth:`to_dict`."""
        level = d.get("level", "none")
        if level not in LEVEL_NORMS:
            raise ParameterError(f"normalizer level={level!r}; allowed: {', '.join(LEVEL_NORMS)}")
        return cls(np.asarray(d["mean"], dtype=np.float32), np.asarray(d["std"], dtype=np.float32), level)



def remove_level(features: np.ndarray, *, per_band: bool = True) -> np.ndarray:
    """``features`` (frames, n_mels, 3) with the static channel's mean subtracted (a copy): over
    frames per band (``per_band``), else over frames and bands, one number."""
    out = np.array(features, dtype=np.float32, copy=True)
    out[:, :, 0] -= out[:, :, 0].mean(axis=0, keepdims=True) if per_band else out[:, :, 0].mean()
    return out


def speaker_normalizers(features: Sequence[np.ndarray], speakers: Sequence[str]) -> dict[str, Normalizer]:
    """One :class:`Normalizer` per speaker, fitted on all of that speaker's utterances.

    Per-speaker normalization (an option beyond the paper, off by default) uses no labels, but it
    does use every utterance of the speaker, including a test speaker's unlabeled audio.
    """
    if len(features) != len(speakers):
        raise ParameterError(f"{len(features)} feature arrays but {len(speakers)} speakers")
    speakers = np.asarray(speakers)
    return {str(spk): Normalizer.fit([f for f, s in zip(features, speakers) if s == spk]) for spk in np.unique(speakers)}


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------
def _file_features(path: str | os.PathLike, params: FeatureParams) -> np.ndarray:
    """Read ``path`` (checked by :func:`~adcrnn_lib.data.load_audio`) and compute its features."""
    return log_mel_3d(load_audio(path, sr=params.sr), sr=params.sr, params=params)


def default_cache_dir() -> Path:
    """``$ADCRNN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/adcrnn`` (``~/.cache/adcrnn``)."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser() / "adcrnn"


def resolve_cache_dir(cache: bool | str | os.PathLike) -> Path | None:
    """The cache folder a ``cache`` argument names: ``True`` the default, a path itself, ``False`` none."""
    if cache is False:
        return None
    return default_cache_dir() if cache is True else Path(cache)


class FeatureCache:
    """Disk cache of :func:`log_mel_3d` outputs keyed by file content and feature parameters.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Cache folder; :func:`default_cache_dir` by default.
    params : FeatureParams
        Feature settings; entries for other settings live in another subfolder.

    Notes
    -----
    Layout under ``root/features/<params.key()>/``: ``files/<sha256>.npy`` per audio file,
    ``bundles/<key>.npz`` per list of files (all frames in one array plus offsets), and
    ``hashes.json``, which remembers each path's SHA-256 with the size, mtime and inode it was
    computed for. All writes are atomic, so an interrupted extraction resumes where it stopped.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, params: FeatureParams = PARAMS) -> None:
        self.params = params
        self.dir = Path(root if root is not None else default_cache_dir()) / "features" / params.key()
        self._hash_file = self.dir / "hashes.json"
        self._hashes: dict[str, list] | None = None

    # content keys ---------------------------------------------------------------------------
    def _load_hashes(self) -> dict[str, list]:
        if self._hashes is None:
            try:
                self._hashes = json.loads(self._hash_file.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                self._hashes = {}
        return self._hashes

    def content_key(self, path: str | os.PathLike) -> str:
        """SHA-256 of the file's bytes, recomputed only when size, mtime or inode changed."""
        path = Path(path).resolve()
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
        hashes = self._load_hashes()
        entry = hashes.get(str(path))
        if entry is not None and entry[:3] == stamp:
            return entry[3]
        digest = sha256_file(path)
        hashes[str(path)] = [*stamp, digest]
        return digest

    def _save_hashes(self) -> None:
        if self._hashes is not None:
            write_json(self._hash_file, self._hashes)

    # entries ----------------------------------------------------------------------------------
    def _file_entry(self, key: str) -> Path:
        return self.dir / "files" / f"{key}.npy"

    def get(self, path: str | os.PathLike) -> np.ndarray:
        """Features of one file, from the cache or computed and stored."""
        return self.get_many([path], progress=False)[0]

    def get_many(self, paths: Sequence[str | os.PathLike], *, progress: bool = True) -> list[np.ndarray]:
        """Features of several files, in order, computing and storing the missing ones.

        Raises
        ------
        DataError
            For the first file that cannot be read (see :func:`~adcrnn_lib.data.load_audio`);
            the files before it stay cached.
        """
        from tqdm.auto import tqdm

        keys = [self.content_key(p) for p in paths]
        bundle_key = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]
        bundle = self.dir / "bundles" / f"{bundle_key}.npz"
        if bundle.exists():
            try:
                with np.load(bundle) as z:
                    frames, offsets = z["frames"], z["offsets"]
                self._save_hashes()
                return [frames[offsets[i] : offsets[i + 1]] for i in range(len(keys))]
            except (OSError, KeyError, ValueError) as exc:  # a damaged bundle is rebuilt
                logger.warning("feature bundle %s unreadable (%s); rebuilding", bundle, exc)
        feats: list[np.ndarray] = []
        try:
            for path, key in tqdm(list(zip(paths, keys)), desc="log-Mel", unit="file", disable=not progress):
                entry = self._file_entry(key)
                if entry.exists():
                    feats.append(np.load(entry))
                    continue
                f = _file_features(path, self.params)
                save_npy(entry, f)
                feats.append(f)
        finally:
            self._save_hashes()
        if len(feats) > 1:
            offsets = np.cumsum([0] + [f.shape[0] for f in feats])
            with atomic_write(bundle) as fh:
                np.savez(fh, frames=np.concatenate(feats), offsets=offsets)
        return feats


def extract_features(
    paths: Sequence[str | os.PathLike],
    *,
    params: FeatureParams = PARAMS,
    cache: bool | str | os.PathLike | FeatureCache = True,
    progress: bool = True,
) -> list[np.ndarray]:
    """3D log-Mel features of a list of audio files.

    Parameters
    ----------
    paths : sequence of path
        Audio files (any rate and channel count; see :func:`~adcrnn_lib.data.load_audio`).
    params : FeatureParams
        Front-end settings.
    cache : bool, path or FeatureCache
        ``True``: the default cache folder; a path: a cache there; ``False``: no cache.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    list of np.ndarray [shape=(T_i, n_mels, 3), dtype=float32]
    """
    if cache is False:
        from tqdm.auto import tqdm

        out = []
        for p in tqdm(list(paths), desc="log-Mel", unit="file", disable=not progress):
            out.append(_file_features(p, params))
        return out
    if isinstance(cache, FeatureCache):
        if cache.params != params:
            raise ParameterError("the FeatureCache was made for other feature parameters")
        store = cache
    else:
        store = FeatureCache(resolve_cache_dir(cache), params=params)
    try:
        return store.get_many(paths, progress=progress)
    except FileNotFoundError as exc:
        raise DataError(f"{exc.filename}: no such file") from exc
