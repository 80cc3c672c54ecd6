"""The GAN budget ladder: how well one fold's GANs have learned after 20, 100, 300, ... generator steps.

For each GAN kind and augmented emotion of one training fold, the GAN that fold's runs train (the
same settings, seed and source utterances, so the same cache folder) is trained up a geometric
ladder of generator steps, resuming from the rung below; at every rung its clips are judged:

* **two judges**, both trained on the fold's *real* training utterances only: the fold's ADCRNN
  (trained as :func:`~adcrnn_lib.experiments.quality.fold_quality_report` trains it; every clip is one 1.024 s
  segment) and the ComParE + logistic-regression baseline (openSMILE functionals of each clip, ``C``
  chosen by inner cross-validation as :func:`~adcrnn_lib.experiments.baselines.fit_fold` does). Each gives the
  *intended share* (clips assigned to the GAN's emotion) and the inception-style *spread*
  (:func:`~adcrnn_lib.experiments.quality.classifier_scores`). A GAN cannot score by fooling one network alone;
* **the ceiling**: the same scores of the fold's real *test* utterances of that emotion, each cut
  to the GANs' 1.024 s (its middle), which a perfect generator could reach with these judges;
* **memorization** (:func:`~adcrnn_lib.experiments.quality.memorization`) and the screening counts.

Records live under ``<results>/gan-ladder/<profile>/fold<k>-seed<s>/``: ``ceiling.json`` and one
``<kind>-<emotion>.json`` per GAN, a list of rungs, written atomically as each rung is judged, so
two processes can climb different GANs at once and a killed climb resumes at the next rung. The
state of each rung is kept in the cache (``checkpoint-step<k>.npz``,
:func:`~adcrnn_lib.augment.gan_clips.emotion_gan`), so the profile's own GAN at its own step is read
back whatever rung the ladder reached.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import ParameterError

__all__ = [
    "RUNGS",
    "CLIPS_PER_RUNG",
    "PLAYED_EMOTION",
    "GAN_OVERRIDABLE",
    "check_gan_overrides",
    "variant_name",
    "ladder_dir",
    "gan_record_path",
    "Judges",
    "middle_slice",
    "real_ceiling",
    "climb",
    "run_ladder",
    "load_ladder",
    "played_clips",
    "CEILING_FRACTION",
    "NEAR_COPY_MAX",
    "JUDGE_NAMES",
    "find_ladder",
    "ceiling_medians",
    "ladder_summary",
    "chosen_rung",
]

#: Generator steps of the ladder's rungs (geometric; the ``cpu`` profile's 20 first).
RUNGS: tuple[int, ...] = (20, 100, 300, 1_000, 3_000)
#: Clips judged per GAN and rung.
CLIPS_PER_RUNG = 40
#: The emotion one clip of which is kept at every rung, for the page's audio players.
PLAYED_EMOTION = "happiness"


#: GAN settings a ladder may change against the profile's (sizes and training details, chosen by
#: measurement: the objective, the architectures and the per-emotion, per-fold training stay).
GAN_OVERRIDABLE: tuple[str, ...] = ("size", "batch_size", "learning_rate", "precision")


def check_gan_overrides(overrides: dict | None) -> dict:
    """``overrides`` as a dict of :data:`GAN_OVERRIDABLE` settings, validated by building settings with them."""
    from ..augment.gan import GanSettings

    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(GAN_OVERRIDABLE))
    if unknown:
        raise ParameterError(f"GAN settings {unknown} cannot be changed by a ladder; allowed: {', '.join(GAN_OVERRIDABLE)}")
    rate = overrides.get("learning_rate", 1e-4)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
        raise ParameterError(f"GAN learning_rate={rate!r}; must be a number > 0")
    GanSettings("wavegan", **overrides)  # raises on a bad size, batch or precision
    return overrides


def variant_name(overrides: dict | None) -> str:
    """A ladder variant's folder suffix: ``""`` for the profile's own GANs, else ``-size16``,
    ``-batch_size64-learning_rate0.0003``, ``-mixed_bfloat16`` (precision is named by its value)."""
    parts = []
    for name in GAN_OVERRIDABLE:
        if name in (overrides or {}):
            value = overrides[name]
            if name == "precision":
                if value != "float32":
                    parts.append(str(value))
            else:
                parts.append(f"{name}{value:g}" if isinstance(value, float) else f"{name}{value}")
    return "".join(f"-{p}" for p in parts)


def ladder_dir(profile: str, *, fold: int = 0, seed: int = 0, overrides: dict | None = None, results_dir=None) -> Path:
    """The folder of one fold's ladder records: ``fold0-seed0`` for the profile's GANs, with
    :func:`variant_name`'s suffix for a variant (``fold0-seed0-size16``, ``fold0-seed0-mixed_bfloat16``)."""
    from .results import results_root

    return results_root(results_dir) / "gan-ladder" / profile / f"fold{fold}-seed{seed}{variant_name(overrides)}"


def gan_record_path(folder: str | os.PathLike, kind: str, emotion: str) -> Path:
    """The record of one GAN's rungs."""
    return Path(folder) / f"{kind}-{emotion}.json"


def middle_slice(y: np.ndarray, n: int) -> np.ndarray:
    """The middle ``n`` samples of ``y`` (zero-padded at the end when shorter)."""
    y = np.asarray(y, np.float32)
    if len(y) <= n:
        return np.pad(y, (0, n - len(y)))
    start = (len(y) - n) // 2
    return y[start : start + n]


@dataclasses.dataclass
class Judges:
    """The fold's two real-speech classifiers, each mapping clips to class probabilities ``(n, 7)``.

    Attributes
    ----------
    adcrnn : callable
        Audio -> probabilities (7,) (a :class:`~adcrnn_lib.predict.Predictor`'s ``predict_audio``).
    compare : callable or None
        ComParE functionals ``(n, d)`` -> probabilities ``(n, 7)``; None leaves the second judge out.
    """

    adcrnn: object
    compare: object | None = None

    def judge(self, clips: list[np.ndarray], intended: str) -> dict[str, float]:
        """Both judges' intended share and spread of ``clips`` (keys ``adcrnn_*``, ``compare_*``)."""
        from .quality import classifier_scores

        out = {f"adcrnn_{k}": v for k, v in classifier_scores(np.stack([self.adcrnn(y) for y in clips]), intended).items()}
        if self.compare is not None:
            out.update({f"compare_{k}": v for k, v in classifier_scores(self.compare(compare_functionals(clips)), intended).items()})
        return out

    @classmethod
    def for_fold(cls, df: pd.DataFrame, fold, *, profile: str, seed: int = 0, folder: str | os.PathLike, compare: bool = True, progress: bool = False) -> Judges:
        """Train (or read back from ``folder``) the fold's ADCRNN, and fit its ComParE judge."""
        return cls(_adcrnn_judge(df, fold, profile=profile, seed=seed, folder=Path(folder), progress=progress), _compare_judge(df, fold, seed=seed, progress=progress) if compare else None)


def _adcrnn_judge(df: pd.DataFrame, fold, *, profile: str, seed: int, folder: Path, progress: bool):
    """The fold's no-augmentation ADCRNN (as the GAN quality report trains it), saved as ``judge.keras``."""
    from ..config import ExperimentConfig
    from ..features import extract_features
    from ..predict import Predictor, save_model
    from ..train import train_split

    path = folder / "judge.keras"
    if path.is_file():
        return Predictor.load(path).predict_audio
    config = ExperimentConfig(profile=profile, augmentation="none", seed=seed)
    feats = extract_features(df["path"].tolist(), progress=progress)
    trained, normalizer, _ = train_split(config, df, feats, fold.train, fold.val, fold=fold.k, seed=seed + fold.k, progress=progress, description="judge")
    save_model(trained.model, normalizer, config, path, extra={"fold": fold.k, "best_epoch": trained.best_epoch})
    return Predictor.from_training(trained.model, normalizer, config).predict_audio


def compare_functionals(clips: list[np.ndarray]) -> np.ndarray:
    """openSMILE ComParE functionals of in-memory clips (16 kHz), via temporary wav files."""
    import soundfile as sf

    from ..data import SAMPLE_RATE
    from .baselines import opensmile_features

    with tempfile.TemporaryDirectory(prefix="adcrnn-ladder-") as tmp:
        paths = []
        for i, y in enumerate(clips):
            path = Path(tmp) / f"clip{i}.wav"
            sf.write(path, np.asarray(y, np.float32), SAMPLE_RATE, subtype="FLOAT")
            paths.append(path)
        return opensmile_features(paths, feature_set="compare", cache=False, progress=False, workers=1)


def _compare_judge(df: pd.DataFrame, fold, *, seed: int, progress: bool):
    """ComParE + logistic regression fitted on the fold's training rows, as the baseline's fold is."""
    from ..data import take_groups
    from .baselines import fit_fold, opensmile_features

    X = opensmile_features(df["path"].tolist(), feature_set="compare", progress=progress)
    y = df["emotion"].cat.codes.to_numpy().astype(np.int64)
    search = fit_fold(X, y, take_groups(df), np.concatenate([fold.train, fold.val]), classifier="logreg", protocol="paper", seed=seed)
    model = search.best_estimator_
    classes = list(model.classes_)

    def predict(features: np.ndarray) -> np.ndarray:
        probs = np.zeros((len(features), len(df["emotion"].cat.categories)))
        probs[:, classes] = model.predict_proba(features)
        return probs

    return predict


def real_ceiling(df: pd.DataFrame, fold, judges: Judges, emotions) -> dict[str, dict]:
    """Per emotion: both judges' scores of the fold's real test utterances cut to 1.024 s (their middle)."""
    from ..augment.wavegan import SLICE_SAMPLES
    from ..data import load_audio

    test = df.iloc[fold.test]
    out = {}
    for emotion in emotions:
        rows = test[test["emotion"].astype(str) == emotion]
        clips = [middle_slice(load_audio(p), SLICE_SAMPLES) for p in rows["path"]]
        out[emotion] = {"clips": len(clips), **judges.judge(clips, emotion)} if clips else {"clips": 0}
    return out


def _encode_clip(y: np.ndarray) -> str:
    """A clip as base64 16-bit PCM (for a page's audio player); :func:`played_clips` reads it back."""
    return base64.b64encode((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()).decode()


def played_clips(folder: str | os.PathLike) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Kind -> ``[(steps, clip)]``: the :data:`PLAYED_EMOTION` clip kept at each rung of a ladder folder."""
    from ..augment.gan import GAN_KINDS

    out = {}
    for kind in GAN_KINDS:
        path = gan_record_path(folder, kind, PLAYED_EMOTION)
        if path.is_file():
            out[kind] = [(r["steps"], np.frombuffer(base64.b64decode(r["example_clip"]), "<i2").astype(np.float32) / 32767) for r in json.loads(path.read_text()) if "example_clip" in r]
    return out


def climb(
    kind: str,
    emotion: str,
    rows: pd.DataFrame,
    judges: Judges,
    *,
    fold_seed: int,
    profile: str,
    rungs=RUNGS,
    record: str | os.PathLike,
    n_clips: int = CLIPS_PER_RUNG,
    overrides: dict | None = None,
    cache_dir=None,
    progress: bool = False,
) -> list[dict]:
    """Train one emotion's GAN up ``rungs`` and judge it at each; return (and keep) the record.

    Rungs already in ``record`` are skipped; the GAN resumes from its checkpoint, so a ladder costs
    its top rung. Each row: ``steps``, ``from_steps`` (the rung below), ``trained_from`` (the step
    the training of this call resumed at: past the rung below when a killed climb resumed),
    ``train_s`` (the seconds this call trained), ``seconds_per_step`` (over the steps it trained), the judges' scores, memorization, screening counts,
    the GAN's cache key and the machine (provenance).
    """
    from ..augment.balance import gan_seed
    from ..augment.gan import GanSettings
    from ..augment.gan_clips import emotion_gan, generate_clips
    from ..data import load_audio
    from ..features import resolve_cache_dir
    from ..provenance import provenance
    from ..storage import write_json
    from .quality import memorization

    record = Path(record)
    done = json.loads(record.read_text()) if record.is_file() else []
    have = {row["steps"] for row in done}
    seed = gan_seed(fold_seed, emotion)
    paths = rows["path"].astype(str).tolist()
    real = [load_audio(p) for p in paths]
    base = dataclasses.replace(GanSettings.from_profile(kind, profile), **check_gan_overrides(overrides))
    cache = resolve_cache_dir(True if cache_dir is None else cache_dir)
    if cache is None:
        raise ParameterError("the GAN ladder keeps every rung's GAN state in the cache: set ADCRNN_CACHE_DIR or pass cache_dir")
    for steps in sorted(rungs):
        if steps in have:
            continue
        settings = dataclasses.replace(base, steps=steps, checkpoint_every=max(1, min(base.checkpoint_every * 10, steps)))
        below = max((row["steps"] for row in done if row["steps"] < steps), default=0)
        t0 = time.perf_counter()
        model = emotion_gan(settings, rows["utterance"].astype(str).tolist(), paths, seed=seed, cache_dir=cache, progress=progress, desc=f"{kind} {emotion} to {steps}", keep=True)
        train_s = time.perf_counter() - t0
        clips, counts = generate_clips(model, n_clips, seed=seed)
        row = {
            "steps": steps,
            "from_steps": below,
            "train_s": train_s,
            "trained_from": model.trained_from,  # past ``below`` when a killed climb resumed
            "seconds_per_step": train_s / max(1, steps - model.trained_from),
            "clips": len(clips),
            "counts": counts,
            **judges.judge(clips, emotion),
            **{f"memorization_{k}": v for k, v in memorization(clips, real).items()},
            "gan_key": model.key,
            "settings": settings.to_dict(),
            "provenance": provenance(profile=profile),
        }
        if emotion == PLAYED_EMOTION:
            row["example_clip"] = _encode_clip(clips[0])
        done = sorted([*done, row], key=lambda r: r["steps"])
        write_json(record, done)
    return done


def run_ladder(
    profile: str = "cpu",
    data_dir=None,
    *,
    kinds=("specgan", "wavegan"),
    emotions=None,
    rungs=RUNGS,
    fold: int = 0,
    seed: int = 0,
    overrides: dict | None = None,
    results_dir=None,
    compare: bool = True,
    verify: bool = True,
    progress: bool = True,
) -> Path:
    """Climb the ladder for ``kinds`` x ``emotions`` of fold ``fold`` (the grid's paper-protocol folds); returns the folder.

    Every GAN reaches a rung before any climbs to the next. ``emotions`` defaults to every emotion the fold's GANs augment. The judges and the ceiling are
    made once per folder (``judge.keras``, ``ceiling.json``) and read back after. ``overrides``
    (:data:`GAN_OVERRIDABLE`: e.g. ``{"size": 16}``, ``{"precision": "mixed_bfloat16"}``) climbs a
    variant of the profile's GANs, in a folder of its own (:func:`ladder_dir`).
    """
    from ..augment import fold_seed as generation_seed
    from ..augment.balance import emotion_sources
    from ..augment.gan import GAN_KINDS
    from ..config import ExperimentConfig
    from ..data import load_emodb
    from ..storage import write_json
    from .cv import folds_of

    for kind in kinds:
        if kind not in GAN_KINDS:
            raise ParameterError(f"GAN kind={kind!r}; allowed: {', '.join(GAN_KINDS)}")
    df = load_emodb(data_dir, verify=verify)
    folds = folds_of(ExperimentConfig(profile=profile, seed=seed), df)  # the grid's paper folds
    the_fold = folds[fold]
    train = df.iloc[the_fold.train]
    sources = emotion_sources(train)
    wanted = list(sources) if emotions is None else list(emotions)
    unknown = [e for e in wanted if e not in sources]
    if unknown:
        raise ParameterError(f"emotions {unknown}: fold {fold}'s GANs augment only {', '.join(sources)}")
    overrides = check_gan_overrides(overrides)
    folder = ladder_dir(profile, fold=fold, seed=seed, overrides=overrides, results_dir=results_dir)
    home = ladder_dir(profile, fold=fold, seed=seed, results_dir=results_dir)  # the judges and the ceiling do not depend on the GANs
    for f in {folder, home}:
        f.mkdir(parents=True, exist_ok=True)
    judges = Judges.for_fold(df, the_fold, profile=profile, seed=seed, folder=home, compare=compare, progress=progress)
    if not (home / "ceiling.json").is_file():
        write_json(home / "ceiling.json", real_ceiling(df, the_fold, judges, list(sources)))
    if not (folder / "ceiling.json").is_file():
        write_json(folder / "ceiling.json", json.loads((home / "ceiling.json").read_text()))
    for top in sorted(rungs):  # rung by rung over every GAN, so an interrupted ladder leaves an even curve
        for kind in kinds:
            for emotion in wanted:
                climb(kind, emotion, sources[emotion][0], judges, fold_seed=generation_seed(seed, fold), profile=profile, overrides=overrides,
                      rungs=[r for r in rungs if r <= top], record=gan_record_path(folder, kind, emotion), progress=progress)
    return folder


def load_ladder(folder: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Every judged rung of a ladder folder as one table (columns ``kind``, ``emotion``, ``steps``, ...), and its ceiling."""
    folder = Path(folder)
    from ..augment.gan import GAN_KINDS

    rows = []
    for path in sorted(p for kind in GAN_KINDS for p in folder.glob(f"{kind}-*.json")):
        kind, emotion = path.stem.split("-", 1)
        for row in json.loads(path.read_text()):
            flat = {k: v for k, v in row.items() if k not in ("counts", "settings", "provenance", "example_clip")}
            rows.append({"kind": kind, "emotion": emotion, **flat, "kept": row["counts"]["accepted"], "drawn": row["counts"]["drawn"]})
    ceiling_path = folder / "ceiling.json"
    ceiling = json.loads(ceiling_path.read_text()) if ceiling_path.is_file() else {}
    return pd.DataFrame(rows), ceiling


#: The goal a rung must meet to be chosen as a profile's GAN budget: a median intended share of at
#: least this fraction of the real clips' median (the ceiling), under both judges ...
CEILING_FRACTION = 0.5
#: ... with the median share of near-copies (generated clips closer to a training clip than 95 % of
#: training clips are to each other) at most this.
NEAR_COPY_MAX = 0.05
#: The judges as the pages name them.
JUDGE_NAMES = {"adcrnn": "ADCRNN", "compare": "ComParE + logistic regression"}


def find_ladder(profile: str, *, fold: int = 0, seed: int = 0, results_dir=None) -> tuple[Path | None, str | None]:
    """The ladder folder of this build's results, else the committed reference's; and which (``"this build"``, ``"reference"``)."""
    from .results import reference_root

    for where, root in (("this build", results_dir), ("reference", reference_root())):
        folder = ladder_dir(profile, fold=fold, seed=seed, results_dir=root)
        if any(folder.glob("*-*.json")):
            return folder, where
    return None, None


def ceiling_medians(ceiling: dict, emotions) -> dict[str, float]:
    """Judge -> the median over ``emotions`` of the real clips' intended share (the ceiling)."""
    out = {}
    for judge in JUDGE_NAMES:
        values = [ceiling[e][f"{judge}_intended_share"] for e in emotions if f"{judge}_intended_share" in ceiling.get(e, {})]
        if values:
            out[judge] = float(np.median(values))
    return out


def ladder_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per GAN kind and rung reached by every emotion of that kind: medians over the emotions.

    Columns: ``emotions``; ``adcrnn_share``, ``compare_share`` (median intended share),
    ``adcrnn_spread``, ``compare_spread`` (median inception-style spread), ``above_chance`` (emotions
    whose ADCRNN share beats 1 in 7), ``near_copies`` (median share of near-copies),
    ``seconds_per_step`` (median), ``minutes_per_gan`` (median cumulative training time to the rung).
    """
    from .quality import CHANCE

    if table.empty:
        return pd.DataFrame()
    table = table.sort_values(["kind", "emotion", "steps"]).copy()
    table["cumulative_s"] = table.groupby(["kind", "emotion"])["train_s"].cumsum()
    rows = []
    for kind, of_kind in table.groupby("kind", sort=False):
        n = of_kind["emotion"].nunique()
        for steps, at in of_kind.groupby("steps"):
            if at["emotion"].nunique() < n:
                continue  # a rung not every emotion has reached yet
            row = {"kind": kind, "steps": int(steps), "emotions": n}
            for judge in JUDGE_NAMES:
                if f"{judge}_intended_share" in at:
                    row[f"{judge}_share"] = float(at[f"{judge}_intended_share"].median())
                    row[f"{judge}_spread"] = float(at[f"{judge}_inception_score"].median())
            row["above_chance"] = int((at["adcrnn_intended_share"] > CHANCE).sum())
            row["near_copies"] = float(at["memorization_share_closer_than_train_p5"].median())
            row["seconds_per_step"] = float(at["seconds_per_step"].median())
            row["minutes_per_gan"] = float(at["cumulative_s"].median() / 60)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["kind", "steps"])


def chosen_rung(summary: pd.DataFrame, medians: dict[str, float], kind: str) -> int | None:
    """The cheapest rung of ``kind`` that meets the goal (:data:`CEILING_FRACTION` of the ceiling under both judges, :data:`NEAR_COPY_MAX`), or None."""
    if summary.empty or kind not in summary.index.get_level_values("kind"):
        return None
    for steps, row in summary.loc[kind].sort_index().iterrows():
        judged = [j for j in JUDGE_NAMES if f"{j}_share" in row and j in medians]
        if len(judged) == len(JUDGE_NAMES) and all(row[f"{j}_share"] >= CEILING_FRACTION * medians[j] for j in judged) and row["near_copies"] <= NEAR_COPY_MAX:
            return int(steps)
    return None


def extrapolated_steps(summary: pd.DataFrame, medians: dict[str, float], kind: str) -> tuple[int | None, str]:
    """Where ``kind`` would meet the goal if its median shares kept rising as between its top two rungs.

    For each judge, the median intended share is extended in a straight line over log steps
    through the top two rungs every emotion has reached, to :data:`CEILING_FRACTION` of that
    judge's ceiling; both judges must get there, so the later point counts. An extrapolation, not a
    measurement: it assumes the rise continues.

    Returns
    -------
    steps : int or None
        Generator steps (two significant digits), the top rung if it already meets the shares, or
        None when a judge's median did not rise between the two rungs (nothing to extend).
    why : str
        ``""``, or for None which judge did not rise and between which rungs.
    """
    import math

    if summary.empty or kind not in summary.index.get_level_values("kind"):
        return None, "no rung reached by every emotion"
    of_kind = summary.loc[kind].sort_index()
    if len(of_kind) < 2:
        return None, "one rung only"
    (s1, r1), (s2, r2) = list(of_kind.iloc[-2:].iterrows())
    needed = int(s2)
    for judge in JUDGE_NAMES:
        if f"{judge}_share" not in r2 or judge not in medians:
            continue
        goal, v1, v2 = CEILING_FRACTION * medians[judge], float(r1[f"{judge}_share"]), float(r2[f"{judge}_share"])
        if v2 >= goal:
            continue
        if v2 <= v1:
            return None, f"the {JUDGE_NAMES[judge]} judge's median share did not rise from {int(s1):,} to {int(s2):,} steps"
        decades = (goal - v2) / ((v2 - v1) / math.log10(s2 / s1))
        needed = max(needed, int(s2 * 10**decades))
    digits = max(0, len(str(needed)) - 2)
    return int(round(needed, -digits)), ""

