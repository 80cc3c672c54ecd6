"""Figures of the book: the corpus (the paper's Fig. 6), waveform with log-Mel (Fig. 7), confusion
matrices, GAN and training curves, scores per fold, and the summary of Tables IV and V."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data import EMOTION_ABBREVIATIONS, EMOTIONS

__all__ = [
    "class_labels",
    "plot_class_counts",
    "plot_speaker_counts",
    "plot_durations",
    "plot_waveform_logmel",
    "plot_balance",
    "plot_confusion",
    "plot_gan_curves",
    "plot_fold_scores",
    "plot_training_curves",
    "plot_summary",
]

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


def plot_gan_curves(gans: dict):
    """WGAN-GP critic loss and gradient penalty per generator step, one line per emotion's GAN.

    Parameters
    ----------
    gans : dict
        Kind -> emotion -> ``{"history": {"step", "critic_loss", "gradient_penalty"}}``, as
        :func:`~adcrnn_lib.chapters.gan_examples.fold_gan_examples` returns under ``"gans"``.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(gans), figsize=(5.5 * len(gans), 5.6), constrained_layout=True, sharex="col", squeeze=False)
    for col, (kind, models) in enumerate(gans.items()):
        for emotion, g in models.items():
            h = g["history"]
            axes[0, col].plot(h["step"], h["critic_loss"], label=emotion)
            axes[1, col].plot(h["step"], h["gradient_penalty"], label=emotion)
        axes[0, col].set(title=kind, ylabel="critic loss")
        axes[1, col].set(xlabel="generator step", ylabel="gradient penalty")
    axes[0, -1].legend(fontsize=7)
    return fig


def plot_fold_scores(results: dict, *, baseline=None, baseline_label: str = "best baseline (mean)", metric: str = "ua", ax=None):
    """One column per run: its folds' scores as dots, mean ± std as an error bar, the baseline as a line.

    Parameters
    ----------
    results : dict
        Label -> :class:`~adcrnn_lib.experiments.cv.CVResult`.
    baseline : CVResult, optional
        Drawn as a dashed line at its mean.
    metric : {"ua", "wa"}
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
    for i, r in enumerate(results.values()):
        scores = 100 * r.table()[metric].to_numpy()
        ax.scatter([i] * len(scores), scores, color="0.5", s=14)
        ax.errorbar(i, scores.mean(), yerr=scores.std(ddof=1) if len(scores) > 1 else 0, fmt="o", color="C0", capsize=4)
    if baseline is not None:
        ax.axhline(100 * baseline.summary()[metric]["mean"], color="C3", ls="--", label=baseline_label)
        ax.legend(loc="lower right")
    ax.set_xticks(range(len(results)), list(results))
    ax.set_ylabel(f"{metric.upper()} per fold (%)")
    return ax


def plot_training_curves(results: dict, *, fold: int = 0):
    """Training loss and validation UA per epoch of one fold, one line per run (only the loss for a
    run that trained on its validation part).

    Parameters
    ----------
    results : dict
        Label -> :class:`~adcrnn_lib.experiments.cv.CVResult` (ADCRNN runs, whose folds keep a ``history``).
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), constrained_layout=True)
    for i, (label, r) in enumerate(results.items()):
        h = r.folds[fold]["history"]
        style = {"color": f"C{i % 10}", "ls": ("-", "--", ":", "-.")[(i // 10) % 4]}  # ten colours, then the next line style
        axes[0].plot(h["loss"], label=label, **style)
        if r.folds[fold]["config"].get("overrides", {}).get("validation") == "trained":
            continue  # its validation utterances were trained on: their scores are not a validation curve
        axes[1].plot(100 * np.asarray(h["val_ua"]), label=label, **style)
    axes[0].set(xlabel="epoch", ylabel="training loss")
    axes[1].set(xlabel="epoch", ylabel="validation UA (%)")
    if len(results) > 4:  # under both plots in two columns, not over the curves
        fig.set_size_inches(11, 3.4 + 0.13 * math.ceil(len(results) / 2))
        fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=7)
    else:
        axes[1].legend(fontsize=7)
    return fig


def plot_summary(groups: dict, *, baseline, baseline_label: str, metric: str = "wa"):
    """The book at a glance: per table row, the paper's number, ours (folds and mean ± std), the baseline.

    Parameters
    ----------
    groups : dict
        Panel title -> list of rows ``{"label", "result", "paper"}``: ``result`` a
        :class:`~adcrnn_lib.experiments.cv.CVResult`, ``paper`` the paper's ``(mean, std)`` in % or None.
    baseline : CVResult
        Drawn as a dashed line at its mean ``metric``.
    baseline_label : str
    metric : {"wa", "ua"}
        Ours; the paper's "accuracy" is most likely WA (see :mod:`adcrnn_lib.chapters.paper`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    heights = [len(rows) for rows in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 0.5 * sum(heights) + 1.2 * len(groups) + 0.8), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    base = 100 * baseline.summary()[metric]["mean"]
    for ax, (title, rows) in zip(axes[:, 0], groups.items()):
        for i, row in enumerate(rows):
            y = len(rows) - 1 - i
            scores = 100 * row["result"].table()[metric].to_numpy()
            ax.scatter(scores, np.full(len(scores), y + 0.12), color="0.55", s=12, zorder=2, label="ours, one fold" if i == 0 else None)
            ax.errorbar(scores.mean(), y + 0.12, xerr=scores.std(ddof=1) if len(scores) > 1 else 0, fmt="o", color="C0", capsize=3, zorder=3,
                        label=f"ours, mean ± std ({metric.upper()})" if i == 0 else None)
            if row.get("paper") is not None:
                m, s = row["paper"]
                ax.errorbar(m, y - 0.18, xerr=s, fmt="D", color="C3", ms=5, capsize=3, zorder=3, label="the paper's accuracy, mean ± std" if i == 0 else None)
        ax.axvline(base, color="0.3", ls="--", lw=1, label=baseline_label)
        ax.set_yticks(range(len(rows)), [r["label"] for r in reversed(rows)])
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_title(title, loc="left", fontsize="medium")
        ax.grid(axis="x", color="0.9")
    axes[-1, 0].set_xlabel("accuracy (%)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig


def plot_gan_ladder(table, medians: dict[str, float], *, chance: float = 1 / 7):
    """Intended share against generator steps: one panel per judge (rows) and GAN kind (columns).

    Thin lines are the emotions' GANs, the thick black line their median; the dotted line is chance
    and the dashed line the real test clips' median share (the ceiling of that judge).

    Parameters
    ----------
    table : pandas.DataFrame
        Every judged rung (:func:`~adcrnn_lib.experiments.gan_ladder.load_ladder`).
    medians : dict
        Judge -> the real clips' median intended share (:func:`~adcrnn_lib.experiments.gan_ladder.ceiling_medians`).
    """
    import matplotlib
    import matplotlib.pyplot as plt

    from ..experiments.gan_ladder import JUDGE_NAMES
    from ..experiments.quality import GAN_NAMES

    judges = [j for j in JUDGE_NAMES if f"{j}_intended_share" in table]
    kinds = [k for k in ("wavegan", "specgan") if k in set(table["kind"])]
    fig, axes = plt.subplots(len(judges), len(kinds), figsize=(5.2 * len(kinds), 3.0 * len(judges)), constrained_layout=True, sharex=True, sharey=True, squeeze=False)
    colours = dict(zip(sorted(table["emotion"].unique()), plt.get_cmap("tab10").colors))
    for r, judge in enumerate(judges):
        for c, kind in enumerate(kinds):
            ax = axes[r, c]
            of_kind = table[table["kind"] == kind]
            for emotion, rows in of_kind.groupby("emotion"):
                rows = rows.sort_values("steps")
                ax.plot(rows["steps"], 100 * rows[f"{judge}_intended_share"], marker="o", ms=3, lw=1, alpha=0.7, color=colours[emotion], label=emotion)
            complete = of_kind.groupby("steps")["emotion"].nunique() == of_kind["emotion"].nunique()  # rungs every emotion has reached
            med = of_kind[of_kind["steps"].isin(complete[complete].index)].groupby("steps")[f"{judge}_intended_share"].median()
            ax.plot(med.index, 100 * med.to_numpy(), color="black", lw=2.5, label="median")
            ax.axhline(100 * chance, color="0.4", ls=":", lw=1, label="chance (1 in 7)")
            if judge in medians:
                ax.axhline(100 * medians[judge], color="tab:red", ls="--", lw=1, label="real clips (median)")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set(ylim=(-3, 103), title=f"{GAN_NAMES.get(kind, kind)}, {JUDGE_NAMES[judge]} judge")
            if c == 0:
                ax.set_ylabel("intended share (%)")
            if r == len(judges) - 1:
                ax.set_xlabel("generator steps (log scale)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
