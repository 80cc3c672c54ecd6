"""A final model for any wav file: ``adcrnn train`` fits it, ``adcrnn predict`` uses it.

A model is two files: ``NAME.keras`` (the Keras model, loaded in safe mode) and ``NAME.keras.json``
(class names, feature settings, the training normalization statistics, the configuration and its
provenance). Prediction reads any sample rate and channel count, computes the paper's features,
normalizes them with the training statistics, cuts segments of the model's length (300 frames in
the paper, 100 in the ``cpu`` profile) and averages their logits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ExperimentConfig
from .data import EMOTIONS, load_audio, load_emodb, split_validation
from .exceptions import AdcrnnError, DataError, ParameterError
from .features import PARAMS, SEGMENT_FRAMES, FeatureParams, Normalizer, extract_features, log_mel_3d, segment
from .level import level_warnings, measure_level
from .metrics import softmax
from .provenance import provenance
from .storage import write_json
from .train import train_split, training_rows

__all__ = ["train_final", "save_model", "Predictor", "predict_files"]


def _meta_path(model_path: Path) -> Path:
    return model_path.with_name(model_path.name + ".json")


def train_final(config: ExperimentConfig, out: str | os.PathLike, *, verify: bool = True, progress: bool = True) -> Path:
    """Fit one model on the whole corpus (1/8 held out for model selection) and save it.

    Parameters
    ----------
    config : ExperimentConfig
        ``protocol`` is ignored: there is no test fold.
    out : str or os.PathLike
        Model path ending in ``.keras``; the metadata goes next to it as ``out + ".json"``.
    verify : bool
        Check the corpus checksums.
    progress : bool
        tqdm bar over epochs.

    Raises
    ------
    ParameterError
        With ``config.speaker_norm``: a model for any wav file has no statistics of its speaker.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise ParameterError(f"--out {out}: the model file name must end in .keras")
    if config.speaker_norm:
        raise ParameterError("speaker_norm=True: a final model for any wav file has no statistics of that file's speaker")
    df = load_emodb(config.data_dir, verify=verify)
    train, val = split_validation(df, np.arange(len(df)), seed=config.seed)
    features = extract_features(df["path"].tolist(), progress=progress)
    trained, normalizer, _ = train_split(config, df, features, train, val, fold=-1, seed=config.seed, progress=progress, description="final model")
    seen = training_rows(train, val, config.settings())  # the validation part too, where the profile trains on it
    levels = [measure_level(load_audio(p)).rms_dbfs for p in df["path"].iloc[seen]]
    held_out = len(seen) == len(train)
    extra = {"best_epoch": trained.best_epoch, "validation": trained.best_val if held_out else None, "training_rms_dbfs": [round(min(levels), 2), round(max(levels), 2)]}
    return save_model(trained.model, normalizer, config, out, extra=extra)


def save_model(model, normalizer: Normalizer, config: ExperimentConfig, out: str | os.PathLike, *, params: FeatureParams = PARAMS, extra: dict | None = None) -> Path:
    """Write a trained model to ``out`` (``.keras``, atomically) and the metadata :meth:`Predictor.load` reads beside it.

    ``extra`` adds keys to the metadata (e.g. the best epoch); the provenance is always written.
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise ParameterError(f"{out}: the model file name must end in .keras")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:  # Keras writes the file itself: stage it
        staged = Path(tmp) / out.name
        model.save(staged)
        os.replace(staged, out)
    write_json(
        _meta_path(out),
        {
            "classes": list(EMOTIONS),
            "features": dataclasses.asdict(params),
            "segment_frames": config.settings().segment_frames,
            "segment_hop": config.settings().segment_hop,
            "normalizer": normalizer.to_dict(),
            "config": config.to_dict(),
            **(extra or {}),
            "provenance": provenance(profile=config.profile),
        },
    )
    return out


@dataclass
class Predictor:
    """A loaded model with what it needs to read raw audio."""

    model: object
    normalizer: Normalizer
    params: FeatureParams
    classes: list[str]
    segment_frames: int = SEGMENT_FRAMES
    segment_hop: int | None = None
    #: The quietest and loudest RMS level (dBFS) of the training utterances, when the metadata has them.
    training_rms_dbfs: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        frames = self.model.inputs[0].shape[1]
        if frames != self.segment_frames:
            raise ParameterError(f"the model takes segments of {frames} frames, not segment_frames={self.segment_frames}: build the Predictor with Predictor.from_training or Predictor.load")

    @classmethod
    def from_training(cls, model, normalizer: Normalizer, config: ExperimentConfig) -> Predictor:
        """A model just trained with ``config`` and its training ``normalizer``: segments cut as ``config`` cuts them."""
        settings = config.settings()
        return cls(model, normalizer, PARAMS, list(EMOTIONS), settings.segment_frames, settings.segment_hop)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Predictor:
        """Load ``path`` (``.keras``, in safe mode) and its ``.keras.json`` metadata.

        Raises
        ------
        DataError
            Naming the file: a missing or unreadable model, missing or malformed metadata, or
            metadata that does not fit the model (feature shape, segment length, class count).
        """
        import keras

        from . import models  # noqa: F401  registers the custom layers

        path = Path(path)
        meta_path = _meta_path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such model file")
        if not meta_path.is_file():
            raise DataError(f"{meta_path}: metadata missing (adcrnn train writes it next to the model)")
        try:
            meta = json.loads(meta_path.read_text())
            normalizer = Normalizer.from_dict(meta["normalizer"])
            params = FeatureParams(**meta["features"])
            classes = list(meta["classes"])
            segment_frames = int(meta.get("segment_frames", SEGMENT_FRAMES))
            segment_hop = int(meta.get("segment_hop", segment_frames))
            levels = meta.get("training_rms_dbfs")
            training_rms = (float(levels[0]), float(levels[1])) if levels is not None else None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # ValueError: bad JSON, text or arrays
            raise DataError(f"{meta_path}: not valid adcrnn model metadata ({exc})") from exc
        try:
            model = keras.models.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:  # keras raises many types for a bad file
            raise DataError(f"{path}: cannot load the model ({exc})") from exc
        _check_consistent(meta_path, model, normalizer, params, classes, segment_frames)
        return cls(model, normalizer, params, classes, segment_frames, segment_hop, training_rms)

    def predict_audio(self, y: np.ndarray) -> np.ndarray:
        """Class probabilities of one mono signal at the feature sample rate, shape (n_classes,)."""
        segments = segment(self.normalizer.transform(log_mel_3d(y, sr=self.params.sr, params=self.params)), length=self.segment_frames, hop=self.segment_hop)
        out = self.model.predict_on_batch(segments)  # the compiled function, not an eager call
        logits = np.asarray(out[0] if isinstance(out, (list, tuple)) else out)
        return softmax(logits.astype(np.float64).mean(axis=0, keepdims=True))[0]

    def predict_file(self, path: str | os.PathLike) -> dict:
        """``{"file", "emotion", "probabilities", "level", "warnings"}`` for one audio file of any rate and channel count.

        ``level`` is the clip's RMS and peak in dBFS and its share of clipped samples
        (:func:`~adcrnn_lib.level.measure_level`); ``warnings`` says why the prediction is not to
        be trusted, if so (clipped, or far quieter than the training utterances:
        :func:`~adcrnn_lib.level.level_warnings`).
        """
        y = load_audio(path, sr=self.params.sr)
        probs = self.predict_audio(y)
        level = measure_level(y)
        return {
            "file": str(path),
            "emotion": self.classes[int(np.argmax(probs))],
            "probabilities": {c: round(float(p), 4) for c, p in zip(self.classes, probs)},
            "level": level.to_dict(),
            "warnings": level_warnings(level, self.training_rms_dbfs),
        }


def _check_consistent(meta_path: Path, model, normalizer: Normalizer, params: FeatureParams, classes: list[str], segment_frames: int) -> None:
    """Raise DataError, naming the metadata file, unless model and metadata describe the same inputs and classes.

    Caught here, a mismatch (metadata of another model, another ``n_mels``) stops loading with one
    clear message instead of failing inside every prediction.
    """
    features = (params.n_mels, 3)  # static, delta, delta-delta
    for name, stats in (("mean", normalizer.mean), ("std", normalizer.std)):
        if tuple(stats.shape) != features:
            raise DataError(f"{meta_path}: normalizer {name} has shape {tuple(stats.shape)}, but the features have shape (frames, {params.n_mels}, 3)")
    expected = (segment_frames, *features)
    got = tuple(model.inputs[0].shape[1:])
    if got != expected:
        raise DataError(f"{meta_path}: the model takes segments of shape {got}, the metadata describes {expected} (n_mels={params.n_mels}, segment_frames={segment_frames})")
    n_out = model.outputs[0].shape[-1]
    if n_out != len(classes):
        raise DataError(f"{meta_path}: {len(classes)} classes listed, but the model has {n_out} outputs")


def predict_files(paths, predictor: Predictor) -> list[dict]:
    """Predict each file; a file that fails gets ``{"file", "error"}`` and the others go on."""
    results = []
    for path in paths:
        try:
            results.append(predictor.predict_file(path))
        except AdcrnnError as exc:
            results.append({"file": str(path), "error": str(exc)})
    return results
