"""The baseline a reader tries first: openSMILE functionals with a linear or SVM classifier.

* **Features**: openSMILE's ``ComParE_2016`` (6373) or ``eGeMAPSv02`` (88) functionals per utterance,
  through the ``opensmile`` package, cached per file like the log-Mel features.
* **Classifiers**: scikit-learn pipelines, standardization fitted on the training fold, then
  logistic regression or an RBF SVM. The regularization ``C`` is chosen by an inner
  cross-validation on the training fold only, with the outer protocol's grouping (repeated takes
  grouped for ``paper``, leave one speaker out for ``loso``), scored by UA.
* **Folds and results**: exactly the outer folds of :func:`~adcrnn_lib.data.make_folds` (the
  validation part joins the training part, since the inner cross-validation does the selecting),
  the same metrics and the same fold JSON as :func:`~adcrnn_lib.experiments.cv.run_cv`, under
  ``<results>/baseline/<config key>/``, so :func:`~adcrnn_lib.experiments.cv.compare` pairs a baseline with
  any ADCRNN run fold by fold.
* **Speaker normalization** (beyond the paper, off by default): each speaker's features are
  standardized with the mean and standard deviation of that speaker's own utterances. It uses no
  labels, but it does use the *test* speaker's unlabeled audio, which a deployed system would have
  to collect first.

For the SVM the "probabilities" in the fold JSON are the softmax of its one-vs-rest decision
values, not calibrated probabilities.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from ..data import load_emodb, take_groups
from ..exceptions import AdcrnnError, ParameterError
from ..metrics import softmax, unweighted_accuracy
from ..storage import save_npy, sha256_file
from .results import write_run_config

__all__ = [
    "FEATURE_SETS",
    "CLASSIFIERS",
    "BaselineConfig",
    "opensmile_features",
    "speaker_normalize",
    "make_classifier",
    "fit_fold",
    "run_baseline",
]

#: Our names -> openSMILE feature set names.
FEATURE_SETS: dict[str, str] = {"compare": "ComParE_2016", "egemaps": "eGeMAPSv02"}
#: Classifier name -> grid of C for the inner cross-validation.
CLASSIFIERS: dict[str, list[float]] = {
    "logreg": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "svm": [0.1, 1.0, 10.0, 100.0],
}
_VERSION = 1


@dataclass(frozen=True)
class BaselineConfig:
    """One baseline experiment; the same fields as an ADCRNN one where they mean the same."""

    features: str = "compare"
    classifier: str = "logreg"
    protocol: str = "paper"
    speaker_norm: bool = False
    seed: int = 0
    data_dir: str | None = None
    n_splits: int = 5

    def __post_init__(self) -> None:
        from ..config import PROTOCOLS, check_choice, check_seed

        if isinstance(self.n_splits, bool) or not isinstance(self.n_splits, int) or self.n_splits < 2:
            raise ParameterError(f"n_splits={self.n_splits!r}; must be an integer >= 2 (the paper protocol's folds; match the ADCRNN profile's)")
        check_choice("features", self.features, tuple(FEATURE_SETS))
        check_choice("classifier", self.classifier, tuple(CLASSIFIERS))
        check_choice("protocol", self.protocol, PROTOCOLS)
        if not isinstance(self.speaker_norm, bool):
            raise ParameterError(f"speaker_norm={self.speaker_norm!r}; allowed: True, False")
        check_seed(self.seed)

    @property
    def name(self) -> str:
        return f"{self.features}+{self.classifier}" + ("+speaker_norm" if self.speaker_norm else "")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def results_group(self) -> str:
        """The folder under the results root that holds baseline runs."""
        return "baseline"

    def key(self) -> str:
        """Stable hash of the fields (except ``data_dir``), the C grid and the code version."""
        skip = {"data_dir"} | ({"n_splits"} if self.n_splits == 5 else set())  # runs from before the field keep their keys
        payload = {**{k: v for k, v in self.to_dict().items() if k not in skip}, "grid": CLASSIFIERS[self.classifier], "version": _VERSION}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------
def _require_opensmile():
    """The opensmile module, or an AdcrnnError saying how to install it."""
    try:
        import opensmile
    except ImportError as exc:
        raise AdcrnnError("the openSMILE baseline needs the opensmile package: pip install opensmile") from exc
    return opensmile


def _smile(feature_set: str):
    opensmile = _require_opensmile()
    return opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, FEATURE_SETS[feature_set]),
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def _extract(paths: list[str], feature_set: str) -> np.ndarray:
    """openSMILE functionals of ``paths`` in this process (the worker's job)."""
    from ..data import SAMPLE_RATE, load_audio

    smile = _smile(feature_set)
    return np.vstack([smile.process_signal(load_audio(p), SAMPLE_RATE).to_numpy(dtype=np.float64) for p in paths])


def _extract_in_workers(paths: list[str], feature_set: str, workers: int) -> np.ndarray:
    """Run :func:`_extract` in ``workers`` fresh ``python -m adcrnn_lib.experiments.baselines`` processes."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from ..exceptions import DataError

    chunks = [paths[w::workers] for w in range(max(1, min(workers, len(paths))))]
    with tempfile.TemporaryDirectory(prefix="adcrnn-opensmile-") as tmp:
        procs = []
        for w, chunk in enumerate(chunks):
            job, out = Path(tmp) / f"job{w}.json", Path(tmp) / f"out{w}.npy"
            job.write_text(json.dumps({"paths": chunk, "feature_set": feature_set}))
            cmd = [sys.executable, "-m", "adcrnn_lib.experiments.baselines", str(job), str(out)]
            procs.append((subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), out))
        results = []
        for proc, out in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                last = err.strip().splitlines()[-1] if err.strip() else f"exit status {proc.returncode}"
                raise DataError(f"openSMILE extraction failed: {last}")
            results.append(np.load(out))
    rows = np.empty((len(paths), results[0].shape[1]))
    for w, result in enumerate(results):
        rows[w::len(chunks)] = result
    return rows


def opensmile_features(
    paths, *, feature_set: str = "compare", cache: bool | str | os.PathLike = True, progress: bool = True, workers: int = 2
) -> np.ndarray:
    """openSMILE functionals of each file, shape (n_files, n_features), cached per file content.

    Every file is read with :func:`~adcrnn_lib.data.load_audio` first, so bad files raise the same
    :class:`~adcrnn_lib.exceptions.DataError` as everywhere else (naming the file).

    openSMILE runs in ``workers`` separate ``python -m adcrnn_lib.experiments.baselines`` processes: its native
    library corrupts the heap when TensorFlow was loaded first in the same process (seen with
    opensmile 2.6 and tensorflow-cpu 2.21: ``malloc(): invalid size``), and a notebook or the book
    needs both.
    """
    from ..features import resolve_cache_dir

    if feature_set not in FEATURE_SETS:
        raise ParameterError(f"feature_set={feature_set!r}; allowed: {', '.join(FEATURE_SETS)}")
    _require_opensmile()  # a missing package fails here, with its message, not in a worker
    paths = [str(p) for p in paths]
    root = resolve_cache_dir(cache)
    folder = None if root is None else root / "opensmile" / feature_set
    entries = [folder / f"{sha256_file(p)}.npy" if folder is not None else None for p in paths]
    rows: list[np.ndarray | None] = [np.load(e) if e is not None and e.exists() else None for e in entries]
    todo = [i for i, r in enumerate(rows) if r is None]
    if todo:
        if progress:
            print(f"openSMILE {feature_set}: extracting {len(todo)} file(s) in {workers} process(es)", flush=True)
        fresh = _extract_in_workers([paths[i] for i in todo], feature_set, workers)
        for i, row in zip(todo, fresh):
            rows[i] = row
            if entries[i] is not None:
                save_npy(entries[i], row)
    return np.vstack(rows)


def speaker_normalize(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Standardize each speaker's rows with that speaker's own mean and standard deviation.

    Takes no labels: only the features and who spoke them.
    """
    out = np.empty_like(features, dtype=np.float64)
    for s in np.unique(speakers):
        rows = speakers == s
        mean = features[rows].mean(axis=0)
        std = features[rows].std(axis=0)
        out[rows] = (features[rows] - mean) / np.where(std > 1e-12, std, 1.0)
    return out


# --------------------------------------------------------------------------------------------
# One fold
# --------------------------------------------------------------------------------------------
def make_classifier(name: str, *, seed: int = 0) -> Pipeline:
    """Standardization then the classifier (``C`` is set by the inner cross-validation)."""
    if name == "logreg":
        clf = LogisticRegression(max_iter=2000, random_state=seed)
    elif name == "svm":
        clf = SVC(kernel="rbf", gamma="scale", random_state=seed)
    else:
        raise ParameterError(f"classifier={name!r}; allowed: {', '.join(CLASSIFIERS)}")
    return Pipeline([("scale", StandardScaler()), ("clf", clf)])


def _inner_splitter(protocol: str, seed: int):
    if protocol == "loso":
        return LeaveOneGroupOut()
    return StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=seed)


def fit_fold(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, train: np.ndarray, *, classifier: str, protocol: str, seed: int = 0, n_jobs: int = -1
) -> GridSearchCV:
    """Choose ``C`` by inner cross-validation on ``train`` rows and refit on all of them.

    ``groups`` are the take groups (``paper``) or the speakers (``loso``) of every row; only the
    ``train`` rows are ever passed to scikit-learn. ``n_jobs`` inner fits run in parallel (all
    cores by default).
    """
    search = GridSearchCV(
        make_classifier(classifier, seed=seed),
        {"clf__C": CLASSIFIERS[classifier]},
        cv=_inner_splitter(protocol, seed),
        scoring=make_scorer(unweighted_accuracy),  # balanced accuracy, without its warning on classes a speaker lacks
        n_jobs=n_jobs,
    )
    search.fit(X[train], y[train], groups=groups[train])
    return search


def run_baseline(config: BaselineConfig, *, results_dir=None, verify: bool = True, progress: bool = True, features: np.ndarray | None = None, folds: Sequence[int] | None = None):
    """Cross-validate a baseline over the same folds as ADCRNN; completed folds are reused.

    Parameters
    ----------
    config : BaselineConfig
    results_dir : path, optional
        Root of the run folders (see :func:`~adcrnn_lib.experiments.cv.results_root`).
    verify : bool
        Check the corpus checksums.
    progress : bool
    features : np.ndarray, optional
        Precomputed features of every corpus row (else extracted, cached).
    folds : sequence of int, optional
        Only these fold numbers (see :func:`~adcrnn_lib.experiments.cv.run_cv`).

    Returns
    -------
    adcrnn_lib.experiments.cv.CVResult
    """
    from .cv import fold_record, folds_of, run_folds
    from .results import run_dir

    df = load_emodb(config.data_dir, verify=verify)
    all_folds = folds_of(config, df)
    folder = run_dir(config, results_dir)
    write_run_config(folder, config, name=config.name)
    speakers = df["speaker"].to_numpy()
    y = df["emotion"].cat.codes.to_numpy().astype(np.int64)
    groups = speakers if config.protocol == "loso" else take_groups(df)
    ids = df["utterance"].to_numpy()
    inputs: list = []  # the features, made at the first fold to train: a finished run is only read

    def train_fold(fold) -> dict:
        t0 = time.perf_counter()
        if not inputs:
            X = opensmile_features(df["path"].tolist(), feature_set=config.features, progress=progress) if features is None else features
            inputs.append(speaker_normalize(X, speakers) if config.speaker_norm else X)
        X = inputs[0]
        train = np.concatenate([fold.train, fold.val])
        search = fit_fold(X, y, groups, train, classifier=config.classifier, protocol=config.protocol, seed=config.seed)
        model = search.best_estimator_
        if hasattr(model, "predict_proba"):
            probs = model.predict_proba(X[fold.test])
        else:
            probs = softmax(model.decision_function(X[fold.test]))
        return fold_record(
            config,
            fold.k,
            test_ids=ids[fold.test].tolist(),
            y_true=y[fold.test],
            probs=probs,
            train_ids=ids[train].tolist(),
            val_ids=[],
            n_generated=0,
            n_train_segments=len(train),
            best_epoch=0,
            val={"C": float(search.best_params_["clf__C"]), "inner_ua": float(search.best_score_)},
            history={"loss": [], "val_wa": [], "val_ua": []},
            started=t0,
            profile="baseline",
            data_dir=df.attrs.get("data_dir"),
            keras_model=False,
        )

    return run_folds(config, all_folds, ids, train_fold, folder, only=folds, progress=progress, description=config.name)


def _worker_main(argv: list[str]) -> int:
    """``python -m adcrnn_lib.experiments.baselines JOB.json OUT.npy``: extract the job's files (no TensorFlow here)."""
    import sys

    from ..exceptions import AdcrnnError as _Error

    job = json.loads(open(argv[0]).read())
    try:
        rows = _extract(job["paths"], job["feature_set"])
    except _Error as exc:
        print(f"{exc}", file=sys.stderr)
        return 2
    save_npy(argv[1], rows)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_worker_main(sys.argv[1:]))
