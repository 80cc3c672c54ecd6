"""Figures of the book: corpus overview (the paper's Fig. 6) and waveform with log-Mel (Fig. 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .data import EMOTION_ABBREVIATIONS, EMOTIONS

__all__ = ["plot_class_counts", "plot_speaker_counts", "plot_durations", "plot_waveform_logmel", "plot_balance", "plot_confusion"]

_CHANNELS = ("static log-Mel", "delta", "delta-delta")


def _emotion_labels() -> list[str]:
    return [f"{a}\n{e}" for a, e in zip(EMOTION_ABBREVIATIONS, EMOTIONS)]


def class_labels() -> list[str]:
    """``"An anger"``, ...: the paper's class order with its abbreviations, for table indexes."""
    return [f"{a} {e}" for a, e in zip(EMOTION_ABBREVIATIONS, EMOTIONS)]


def plot_class_counts(df: pd.DataFrame, ax=None):
    """Utterances per emotion in the paper's class order (Fig. 6)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    counts = df["emotion"].value_counts().reindex(EMOTIONS, fill_value=0)
    sns.barplot(x=_emotion_labels(), y=counts.to_numpy(), hue=_emotion_labels(), palette="colorblind", legend=False, ax=ax)
    for i, v in enumerate(counts.to_numpy()):
        ax.text(i, v, str(v), ha="center", va="bottom")
    ax.set(ylabel="utterances", xlabel="", title="EmoDB: utterances per emotion")
    ax.margins(y=0.12)
    return ax


def plot_speaker_counts(df: pd.DataFrame, ax=None):
    """Utterances per speaker, stacked by emotion, speakers grouped by sex."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    order = df.sort_values(["sex", "speaker"])[["speaker", "sex"]].drop_duplicates()
    table = pd.crosstab(df["speaker"], df["emotion"]).reindex(index=order["speaker"], columns=EMOTIONS, fill_value=0)
    bottom = np.zeros(len(table))
    colors = sns.color_palette("colorblind", len(EMOTIONS))
    labels = [f"{s} ({x[0]})" for s, x in zip(order["speaker"], order["sex"])]
    for color, emotion, abbr in zip(colors, EMOTIONS, EMOTION_ABBREVIATIONS):
        ax.bar(labels, table[emotion].to_numpy(), bottom=bottom, color=color, label=abbr)
        bottom += table[emotion].to_numpy()
    ax.set(ylabel="utterances", xlabel="speaker (f = female, m = male)", title="Utterances per speaker")
    ax.legend(ncols=7, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.25), frameon=False)
    return ax


def plot_durations(df: pd.DataFrame, ax=None, *, segment_seconds: float | None = 3.0):
    """Histogram of utterance durations by emotion, with the segment length marked."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    sns.histplot(data=df, x="duration", hue="emotion", hue_order=list(EMOTIONS), multiple="stack", bins=30, palette="colorblind", ax=ax)
    if segment_seconds:
        ax.axvline(segment_seconds, color="k", ls="--", lw=1)
        ax.annotate(f"{segment_seconds:g} s segment", (segment_seconds, ax.get_ylim()[1] * 0.9), xytext=(4, 0), textcoords="offset points")
    ax.set(xlabel="duration (s)", ylabel="utterances", title="Utterance durations")
    return ax


def plot_waveform_logmel(y: np.ndarray, features: np.ndarray, *, sr: int, hop_length: int = 160, title: str = ""):
    """Waveform above its three log-Mel channels (the paper's Fig. 7 layout).

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Audio.
    features : np.ndarray [shape=(T, n_mels, 3)]
        Its 3D log-Mel features.
    sr : int
        Sample rate of ``y``.
    hop_length : int
        Hop of the features in samples, for the time axis.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 1, figsize=(8, 8), sharex=True, constrained_layout=True)
    t = np.arange(len(y)) / sr
    axes[0].plot(t, y, lw=0.5)
    axes[0].set(ylabel="amplitude", title=title or "waveform")
    extent = (0, features.shape[0] * hop_length / sr, 0, features.shape[1])
    for ax, ch, name in zip(axes[1:], range(3), _CHANNELS):
        im = ax.imshow(features[:, :, ch].T, origin="lower", aspect="auto", extent=extent, cmap="magma")
        ax.set(ylabel="Mel band", title=name)
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xlabel("time (s)")
    return fig


def plot_balance(counts: pd.DataFrame, ax=None):
    """Utterances per emotion in one training fold, one bar group per emotion, one bar per column.

    Parameters
    ----------
    counts : pandas.DataFrame
        Index: the emotions; columns: e.g. ``original``, ``+ time_shift``, ``+ pitch_shift``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    counts = counts.reindex(EMOTIONS)
    counts.index = _emotion_labels()
    counts.plot.bar(ax=ax, rot=0, width=0.8)
    ax.set(ylabel="training utterances", xlabel="", title="One training fold before and after balancing")
    ax.legend(frameon=False, ncols=len(counts.columns), loc="upper center", bbox_to_anchor=(0.5, -0.22))
    return ax


def plot_confusion(matrix: np.ndarray, ax=None, *, title: str = ""):
    """Row-normalized confusion matrix in the paper's class order (as its Figs. 8, 10, 12, 14, 16).

    Parameters
    ----------
    matrix : np.ndarray [shape=(7, 7)]
        Counts, rows the true emotion, columns the predicted one.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.2))
    counts = np.asarray(matrix, dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    sns.heatmap(
        100 * share, annot=True, fmt=".0f", cmap="Blues", vmin=0, vmax=100, square=True, cbar_kws={"label": "% of the true class"},
        xticklabels=EMOTION_ABBREVIATIONS, yticklabels=EMOTION_ABBREVIATIONS, ax=ax,
    )
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return ax
