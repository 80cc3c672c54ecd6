"""Chapter 1, the corpus: EmoDB's utterances, speakers, durations and folds, and one happy utterance."""

from __future__ import annotations

import pandas as pd

from .common import Findings, fold_table

__all__ = ["corpus_chapter"]


def corpus_chapter(data_dir: str | None, *, profile: str, verify: bool) -> Findings:
    """What chapter 1 states and shows about the corpus ``data_dir`` finds.

    ``table``: utterances per emotion (label, count, share). ``facts``: ``n_utterances``,
    ``n_speakers``, ``n_sentences``, ``total_minutes``, ``mean_duration``, ``min_duration``,
    ``max_duration`` (s); ``largest_emotion``, ``n_largest``, ``smallest_emotion``, ``n_smallest``,
    ``imbalance`` (largest over smallest count); ``share_one_segment`` (% of utterances that fit
    in one model segment of :data:`~adcrnn_lib.features.SEGMENT_FRAMES` frames), ``n_segments``
    (segments of all utterances); ``happy_utterance`` (the id of the utterance drawn). ``extra``:
    ``df`` (the corpus table), ``counts`` (utterances per emotion), ``sex`` (emotion x sex counts),
    ``folds`` (protocol -> fold table: the profile's paper folds and the speakers' folds), ``happy``
    (the drawn utterance's row), ``audio`` and ``log_mel`` (its samples and 3D log-Mel).
    """
    import numpy as np

    from .. import data, features
    from ..config import ExperimentConfig
    from ..experiments.cv import folds_of

    df = data.load_emodb(data_dir, verify=verify)
    counts = df["emotion"].value_counts().reindex(data.EMOTIONS)
    feats = features.extract_features(df["path"].tolist(), progress=False)  # cached for later chapters
    frames = np.array([f.shape[0] for f in feats])
    n_segments = sum(len(features.segment(f)) for f in feats)
    happy = df[df["emotion"] == "happiness"].iloc[0]
    audio = data.load_audio(happy["path"])
    facts = {
        "n_utterances": len(df),
        "n_speakers": df["speaker"].nunique(),
        "n_sentences": df["sentence"].nunique(),
        "total_minutes": f"{df['duration'].sum() / 60:.1f}",
        "mean_duration": f"{df['duration'].mean():.2f}",
        "min_duration": f"{df['duration'].min():.2f}",
        "max_duration": f"{df['duration'].max():.1f}",
        "n_largest": int(counts.max()),
        "largest_emotion": counts.idxmax(),
        "n_smallest": int(counts.min()),
        "smallest_emotion": counts.idxmin(),
        "imbalance": f"{counts.max() / counts.min():.1f}",
        "share_one_segment": f"{100 * np.mean(frames <= features.SEGMENT_FRAMES):.0f}",
        "n_segments": int(n_segments),
        "happy_utterance": happy["utterance"],
    }
    table = pd.DataFrame(
        {"label": data.EMOTION_ABBREVIATIONS, "utterances": counts.to_numpy(), "share (%)": (100 * counts / len(df)).round(1).to_numpy()},
        index=pd.Index(data.EMOTIONS, name="emotion"),
    )
    folds = {
        protocol: fold_table(df, folds_of(ExperimentConfig(profile=profile, protocol=protocol), df)) for protocol in ("paper", "loso")
    }
    extra = {
        "df": df, "counts": counts, "sex": pd.crosstab(df["emotion"], df["sex"], margins=True, margins_name="total"), "folds": folds,
        "happy": happy, "audio": audio, "log_mel": features.log_mel_3d(audio),
    }
    return Findings({}, table, facts, extra)
