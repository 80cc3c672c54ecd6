"""EmoDB: finding the corpus, checking it, reading its audio, and cutting it into folds.

The Berlin Database of Emotional Speech (Burkhardt et al., 2005) has 535 utterances by 10 actors
(5 female, 5 male) speaking 10 German sentences in 7 emotions, at 16 kHz. A file name such as
``03a01Fa.wav`` holds the speaker (``03``), the sentence (``a01``), the emotion as a German initial
(``F`` for *Freude*, happiness) and the take (``a``). Several takes of one speaker, sentence and
emotion exist; they are near-duplicates, so every fold keeps them together.

Where the corpus is
-------------------
:func:`find_corpus` looks, in this order, at

1. the ``data_dir`` argument,
2. the ``ADCRNN_EMODB`` environment variable,
3. ``data/emodb/wav`` under the current folder and under this source checkout.

Each may name the folder of wav files or the folder above it that holds ``wav/``. An explicit
argument or environment variable that points nowhere is an error, never silently skipped. With no
corpus anywhere, :class:`~adcrnn_lib.exceptions.CorpusNotFoundError` says where it looked and how
to get the data (``adcrnn data download``).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf

from .exceptions import CorpusNotFoundError, DataError, ParameterError
from .storage import CHECKOUT_ROOT, sha256_file

__all__ = [
    "EMOTIONS",
    "EMOTION_ABBREVIATIONS",
    "EMOTION_CODES",
    "SPEAKER_SEX",
    "SAMPLE_RATE",
    "MIN_DURATION",
    "ENV_VAR",
    "Fold",
    "find_corpus",
    "parse_filename",
    "load_manifest",
    "verify_corpus",
    "load_emodb",
    "load_audio",
    "make_folds",
    "split_validation",
    "take_groups",
]

logger = logging.getLogger(__name__)

#: The seven emotions in the paper's class order (An, Bo, Di, Fe, Ha, Sa, Ne).
EMOTIONS: tuple[str, ...] = ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral")
#: The paper's two-letter labels, in the order of :data:`EMOTIONS`.
EMOTION_ABBREVIATIONS: tuple[str, ...] = ("An", "Bo", "Di", "Fe", "Ha", "Sa", "Ne")
#: German initial in the file name -> English emotion name.
EMOTION_CODES: dict[str, str] = {
    "W": "anger",  # Wut
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fear",  # Angst
    "F": "happiness",  # Freude
    "T": "sadness",  # Trauer
    "N": "neutral",
}
#: Speaker code -> sex, as documented with the corpus.
SPEAKER_SEX: dict[str, str] = {
    **{s: "female" for s in ("08", "09", "13", "14", "16")},
    **{s: "male" for s in ("03", "10", "11", "12", "15")},
}
#: Sample rate of the corpus and of every signal the library hands on.
SAMPLE_RATE: int = 16000
#: Shortest usable audio in seconds: one 25 ms analysis window of the log-Mel front end.
MIN_DURATION: float = 0.025
#: Environment variable that points at the corpus.
ENV_VAR: str = "ADCRNN_EMODB"
#: Where ``adcrnn data download`` puts the corpus, relative to the project folder.
LOCAL_SUBDIR: Path = Path("data") / "emodb"

# The loudest sample of "all-silent" audio: at most one least-significant bit of 16-bit PCM.
_SILENCE_PEAK = 1.0 / 32768.0
_NAME_RE = re.compile(r"^(?P<speaker>\d{2})(?P<sentence>[ab]\d{2})(?P<code>[A-Za-z])(?P<take>[a-z])$")
_COLUMNS = ["utterance", "path", "speaker", "sex", "sentence", "emotion", "take", "duration"]


# --------------------------------------------------------------------------------------------
# Finding and checking the corpus
# --------------------------------------------------------------------------------------------
def _project_dirs() -> list[Path]:
    """The folders whose ``data/emodb/wav`` is the default corpus location, without duplicates."""
    candidates = [Path.cwd(), CHECKOUT_ROOT]
    seen: list[Path] = []
    for c in candidates:
        c = c.resolve()
        if c not in seen:
            seen.append(c)
    return seen


def _as_wav_dir(folder: Path) -> Path | None:
    """Return the folder of wav files at or below ``folder`` (``folder`` or ``folder/wav``)."""
    if (folder / "wav").is_dir():
        return folder / "wav"
    if folder.is_dir() and any(folder.glob("*.wav")):
        return folder
    return None


def find_corpus(data_dir: str | os.PathLike | None = None) -> Path:
    """Locate the folder of EmoDB wav files.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Folder of wav files, or the folder that holds ``wav/``. Takes precedence over everything.

    Returns
    -------
    pathlib.Path
        The folder holding the ``*.wav`` files.

    Raises
    ------
    CorpusNotFoundError
        When ``data_dir`` or ``$ADCRNN_EMODB`` is given but holds no wav files, or when no
        location holds the corpus. The message lists every place looked at and how to get EmoDB.
    """
    if data_dir is not None and str(data_dir) != "":
        found = _as_wav_dir(Path(data_dir).expanduser())
        if found is None:
            raise CorpusNotFoundError(
                f"data_dir={str(data_dir)!r} holds no wav files (neither it nor its wav/ subfolder)."
            )
        return found.resolve()
    env = os.environ.get(ENV_VAR, "")
    if env:
        found = _as_wav_dir(Path(env).expanduser())
        if found is None:
            raise CorpusNotFoundError(
                f"${ENV_VAR}={env!r} holds no wav files (neither it nor its wav/ subfolder). "
                f"Unset it or point it at the folder of EmoDB's 535 wav files."
            )
        return found.resolve()
    looked = []
    for project in _project_dirs():
        candidate = project / LOCAL_SUBDIR
        found = _as_wav_dir(candidate)
        if found is not None:
            return found.resolve()
        looked.append(str(candidate / "wav"))
    raise CorpusNotFoundError(
        "EmoDB was not found. Looked at: the data_dir argument (not given); "
        f"${ENV_VAR} (not set); " + "; ".join(looked) + ". "
        "To get it: run `adcrnn data download` (fetches the public zip from the corpus home page "
        "into data/emodb and verifies every file's checksum), or set "
        f"{ENV_VAR}=/path/to/emodb/wav, or pass data_dir=... ."
    )


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, str]:
    """Read a ``sha256sum``-style manifest: file name -> hex digest.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Manifest file. By default the EmoDB manifest shipped in the package.
    """
    if path is None:
        text = resources.files("adcrnn_lib").joinpath("resources/emodb_SHA256SUMS").read_text()
        origin = "adcrnn_lib/resources/emodb_SHA256SUMS"
    else:
        text = Path(path).read_text()
        origin = str(path)
    manifest: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-f]{64}", parts[0]):
            raise DataError(f"{origin}:{lineno}: not a 'sha256  name' line: {line!r}")
        manifest[parts[1].lstrip("*")] = parts[0]
    return manifest


def verify_corpus(wav_dir: str | os.PathLike, manifest: dict[str, str] | None = None) -> None:
    """Check that ``wav_dir`` holds exactly the files of ``manifest``, byte for byte.

    Raises
    ------
    DataError
        Naming every missing file, unexpected file and checksum mismatch.
    """
    wav_dir = Path(wav_dir)
    manifest = load_manifest() if manifest is None else manifest
    present = {p.name: p for p in wav_dir.glob("*.wav")}
    # a folder whose files (names, sizes, modification times) passed against the same manifest in this process is not hashed again
    seen = (str(wav_dir.resolve()), tuple(sorted(manifest.items())), tuple((n, p.stat().st_size, p.stat().st_mtime_ns) for n, p in sorted(present.items())))
    if seen in _VERIFIED:
        return
    problems = [f"{wav_dir / name}: missing" for name in sorted(set(manifest) - set(present))]
    problems += [
        f"{present[name]}: not in the checksum manifest" for name in sorted(set(present) - set(manifest))
    ]
    for name in sorted(set(present) & set(manifest)):
        digest = sha256_file(present[name])
        if digest != manifest[name]:
            problems.append(f"{present[name]}: checksum mismatch (sha256 {digest}, expected {manifest[name]})")
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise DataError(f"EmoDB in {wav_dir} does not match its checksum manifest:\n  {shown}")
    _VERIFIED.add(seen)


#: Corpus folders verified in this process (see :func:`verify_corpus`): a book chapter reads many runs of one corpus.
_VERIFIED: set[tuple] = set()


# --------------------------------------------------------------------------------------------
# One file
# --------------------------------------------------------------------------------------------
def parse_filename(path: str | os.PathLike) -> dict[str, str]:
    """Split an EmoDB file name into speaker, sex, sentence, emotion and take.

    Parameters
    ----------
    path : str or os.PathLike
        E.g. ``".../03a01Fa.wav"``.

    Returns
    -------
    dict
        Keys ``utterance`` (the stem), ``speaker``, ``sex``, ``sentence``, ``emotion`` (English
        name) and ``take``.

    Raises
    ------
    DataError
        If the name does not follow the EmoDB pattern, or the emotion code or speaker is unknown.
    """
    path = Path(path)
    match = _NAME_RE.match(path.stem) if path.suffix.lower() == ".wav" else None
    if match is None:
        raise DataError(
            f"{path}: file name does not parse as EmoDB 'SSsnnEt.wav' "
            "(speaker 2 digits, sentence a/b + 2 digits, emotion letter, take letter)"
        )
    code = match["code"]
    if code not in EMOTION_CODES:
        raise DataError(f"{path}: unknown emotion code {code!r}; known: {', '.join(EMOTION_CODES)}")
    speaker = match["speaker"]
    if speaker not in SPEAKER_SEX:
        raise DataError(f"{path}: unknown speaker {speaker!r}; known: {', '.join(sorted(SPEAKER_SEX))}")
    return {
        "utterance": path.stem,
        "speaker": speaker,
        "sex": SPEAKER_SEX[speaker],
        "sentence": match["sentence"],
        "emotion": EMOTION_CODES[code],
        "take": match["take"],
    }


def _wav_truncation(path: Path) -> str | None:
    """Describe a truncated RIFF/WAVE file, or return None when it is whole or not a WAVE file.

    libsndfile reads a truncated WAVE file without complaint (it just returns fewer frames), so
    the ``data`` chunk's declared size is compared with the bytes that are really there.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                available = size - pos - 8
                if chunk_size != 0xFFFFFFFF and available < chunk_size:
                    return f"truncated: the data chunk declares {chunk_size} bytes but only {available} are present"
                return None
            pos += 8 + chunk_size + (chunk_size & 1)
    return "truncated: no data chunk before the end of the file"


def _check_header(path: Path) -> sf._SoundFileInfo:
    """Open ``path``'s header, raising DataError for empty, unreadable or truncated files."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise DataError(f"{path}: unreadable or corrupt audio ({exc})") from exc
    problem = _wav_truncation(path)
    if problem is not None:
        raise DataError(f"{path}: {problem}")
    if info.frames == 0:
        raise DataError(f"{path}: holds no audio samples")
    if info.duration < MIN_DURATION:
        raise DataError(
            f"{path}: {info.duration * 1000:.1f} ms of audio is shorter than one "
            f"{MIN_DURATION * 1000:.0f} ms analysis window"
        )
    return info


#: Durations of the files whose header passed :func:`_check_header` in this process, by (path, size, modification time).
_DURATIONS: dict[tuple, float] = {}


def _header_duration(path: Path) -> float:
    """The duration of ``path`` (s), its header checked once per process while the file stays the same."""
    try:
        st = path.stat()
    except OSError:
        st = None
    key = (str(path), st.st_size, st.st_mtime_ns) if st is not None else None
    if key not in _DURATIONS:
        duration = _check_header(path).duration
        if key is None:
            return duration
        _DURATIONS[key] = duration
    return _DURATIONS[key]


def load_audio(path: str | os.PathLike, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as mono float32 at ``sr`` Hz.

    Parameters
    ----------
    path : str or os.PathLike
        Any format libsndfile reads (WAV, FLAC, OGG, ...), any sample rate, any channel count.
    sr : int
        Target sample rate; other rates are resampled with librosa (soxr, high quality).

    Returns
    -------
    np.ndarray [shape=(n,), dtype=float32]
        Channels mixed down by averaging.

    Raises
    ------
    DataError
        Naming the file, when it is missing, empty, unreadable, corrupt or truncated, holds NaN or
        infinite samples, is all silent (peak at most one 16-bit step), or is shorter than one
        25 ms analysis window.
    """
    path = Path(path)
    info = _check_header(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError) as exc:
        raise DataError(f"{path}: unreadable or corrupt audio ({exc})") from exc
    if data.shape[0] != info.frames:
        raise DataError(f"{path}: truncated: header says {info.frames} frames, {data.shape[0]} could be read")
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}: contains NaN or infinite samples")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if float(np.max(np.abs(y))) <= _SILENCE_PEAK:
        raise DataError(f"{path}: all-silent audio (peak amplitude at most one 16-bit step)")
    if rate != sr:
        import librosa  # imported here: librosa's import costs about a second

        y = librosa.resample(y, orig_sr=rate, target_sr=sr, res_type="soxr_hq").astype(np.float32)
    return np.ascontiguousarray(y, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# The corpus table
# --------------------------------------------------------------------------------------------
def load_emodb(
    data_dir: str | os.PathLike | None = None,
    *,
    verify: bool = True,
    on_error: Literal["raise", "skip"] = "raise",
    manifest: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Read the corpus table: one row per utterance.

    Parameters
    ----------
    data_dir : str or os.PathLike, optional
        Where the wav files are; see :func:`find_corpus` for the search order when omitted.
    verify : bool
        Check every file against the checksum manifest first (about 0.2 s for the corpus).
    on_error : {"raise", "skip"}
        What to do with a file that fails to parse or to open. ``"skip"`` logs a warning for each
        and lists them in ``df.attrs["skipped"]`` as ``(path, reason)`` pairs; nothing is dropped
        silently.
    manifest : dict, optional
        Name -> SHA-256 to verify against; the packaged EmoDB manifest by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``utterance, path, speaker, sex, sentence, emotion, take, duration`` (seconds),
        sorted by file name, with a RangeIndex. ``emotion`` is categorical in the paper's order
        (:data:`EMOTIONS`). ``df.attrs["data_dir"]`` records the folder.
    """
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error={on_error!r}; allowed: 'raise', 'skip'")
    wav_dir = find_corpus(data_dir)
    if verify:
        verify_corpus(wav_dir, manifest)
    rows, skipped = [], []
    for path in sorted(wav_dir.iterdir()):
        if path.suffix.lower() != ".wav":
            continue
        try:
            row = parse_filename(path)
            row["duration"] = _header_duration(path)
        except DataError as exc:
            if on_error == "raise":
                raise
            logger.warning("skipping %s", exc)
            skipped.append((str(path), str(exc)))
            continue
        row["path"] = str(path)
        rows.append(row)
    if not rows:
        raise DataError(f"{wav_dir}: no usable EmoDB wav files ({len(skipped)} skipped)")
    df = pd.DataFrame(rows, columns=_COLUMNS)
    df["emotion"] = pd.Categorical(df["emotion"], categories=list(EMOTIONS))
    df.attrs["data_dir"] = str(wav_dir)
    df.attrs["skipped"] = skipped
    if skipped:
        logger.warning("load_emodb: %d file(s) skipped, %d loaded", len(skipped), len(df))
    return df


# --------------------------------------------------------------------------------------------
# Folds
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: integer row positions into the corpus table.

    Attributes
    ----------
    k : int
        Fold number, from 0.
    train, val, test : np.ndarray [shape=(n,), dtype=int]
        Disjoint row positions. ``val`` is carved from the training part for model selection.
    """

    k: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def take_groups(df: pd.DataFrame) -> np.ndarray:
    """Group label of each row: the repeated takes of one speaker, sentence and emotion."""
    return (df["speaker"].astype(str) + "_" + df["sentence"].astype(str) + "_" + df["emotion"].astype(str)).to_numpy()


def _check_disjoint(fold: Fold) -> None:
    parts = {"train": fold.train, "val": fold.val, "test": fold.test}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if np.intersect1d(parts[a], parts[b]).size:
                raise AssertionError(f"fold {fold.k}: {a} and {b} share utterances")


def split_validation(df: pd.DataFrame, positions: np.ndarray, *, seed: int = 0, val_splits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about 1/``val_splits`` of ``positions`` for validation, stratified, takes grouped.

    On a corpus so small that even the largest class has fewer than ``val_splits`` utterances
    (the tests' tiny look-alikes), the split uses as many parts as that class has, at least 2.

    Returns
    -------
    train, val : np.ndarray
        Sorted row positions, disjoint, together ``positions``.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    positions = np.asarray(positions)
    y = df["emotion"].astype(str).to_numpy()[positions]
    largest = int(pd.Series(y).value_counts().max()) if len(y) else 0
    inner = StratifiedGroupKFold(n_splits=max(2, min(val_splits, largest)), shuffle=True, random_state=seed)
    with warnings.catch_warnings():  # a class with fewer members than parts is expected here (see above), not news
        warnings.filterwarnings("ignore", message="The least populated class in y has only", category=UserWarning)
        tr, va = next(inner.split(np.zeros(len(positions)), y, take_groups(df)[positions]))
    return np.sort(positions[tr]), np.sort(positions[va])


def make_folds(
    df: pd.DataFrame,
    *,
    protocol: Literal["paper", "loso"] = "paper",
    n_splits: int | None = None,
    seed: int = 0,
    val_splits: int = 8,
) -> list[Fold]:
    """Cut the corpus into cross-validation folds.

    Parameters
    ----------
    df : pandas.DataFrame
        The table of :func:`load_emodb` (needs ``speaker``, ``sentence``, ``emotion``).
    protocol : {"paper", "loso"}
        ``"paper"``: stratified random folds over utterances, as the paper's 5-fold CV, with the
        repeated takes of one (speaker, sentence, emotion) kept in one fold (scikit-learn
        ``StratifiedGroupKFold``, shuffled with ``seed``). The validation part is one of
        ``val_splits`` stratified group splits of the training part (1/8 of it by default).
        ``"loso"``: leave one speaker out, one fold per speaker (10 on EmoDB); the validation
        part is one other speaker, the next in a seeded permutation, so model selection is
        speaker-independent too.
    n_splits : int, optional
        Number of folds for ``"paper"`` (default 5). Must be omitted for ``"loso"``.
    seed : int
        Same seed, same folds.
    val_splits : int
        ``"paper"`` only: the validation part is 1/``val_splits`` of the training part.

    Returns
    -------
    list of Fold
        Every utterance is in exactly one test part; no test utterance is in that fold's training
        or validation part.
    """
    if protocol not in ("paper", "loso"):
        raise ParameterError(f"protocol={protocol!r}; allowed: 'paper', 'loso'")
    # the folds are a function of these columns and options only; cutting them (scikit-learn's
    # StratifiedGroupKFold, in Python) takes seconds, and a chapter reads many runs of the same folds
    key = (tuple(df["utterance"]), tuple(take_groups(df)), tuple(df["speaker"]), protocol, n_splits, seed, val_splits)
    if key not in _FOLDS:
        if len(_FOLDS) >= _FOLDS_KEPT:
            _FOLDS.pop(next(iter(_FOLDS)))
        _FOLDS[key] = _make_folds(df, protocol=protocol, n_splits=n_splits, seed=seed, val_splits=val_splits)
    return [Fold(f.k, f.train.copy(), f.val.copy(), f.test.copy()) for f in _FOLDS[key]]


#: Folds cut in this process, by what they depend on (see :func:`make_folds`), the oldest dropped first.
_FOLDS: dict[tuple, list[Fold]] = {}
_FOLDS_KEPT = 16


def _make_folds(df: pd.DataFrame, *, protocol: str, n_splits: int | None, seed: int, val_splits: int) -> list[Fold]:
    """:func:`make_folds` without its memory."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = df["emotion"].astype(str).to_numpy()
    groups = take_groups(df)
    folds: list[Fold] = []
    if protocol == "paper":
        n_splits = 5 if n_splits is None else n_splits
        if not isinstance(n_splits, int) or n_splits < 2:
            raise ParameterError(f"n_splits={n_splits!r}; must be an integer >= 2")
        outer = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for k, (train_val, test) in enumerate(outer.split(np.zeros(len(df)), y, groups)):
            train, val = split_validation(df, train_val, seed=seed + 1000 + k, val_splits=val_splits)
            folds.append(Fold(k, train, val, np.sort(test)))
    else:
        if n_splits is not None:
            raise ParameterError("n_splits is fixed by the speakers under protocol='loso'; omit it")
        speakers = np.array(sorted(df["speaker"].unique()))
        if len(speakers) < 3:
            raise ParameterError(f"protocol='loso' needs at least 3 speakers, the table has {len(speakers)}")
        order = np.random.default_rng(seed).permutation(speakers)
        spk = df["speaker"].to_numpy()
        for k, test_speaker in enumerate(speakers):
            pos = int(np.flatnonzero(order == test_speaker)[0])
            val_speaker = order[(pos + 1) % len(order)]
            test = np.flatnonzero(spk == test_speaker)
            val = np.flatnonzero(spk == val_speaker)
            train = np.flatnonzero((spk != test_speaker) & (spk != val_speaker))
            folds.append(Fold(k, train, val, test))
    for fold in folds:
        _check_disjoint(fold)
    return folds
