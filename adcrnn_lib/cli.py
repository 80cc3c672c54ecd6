"""The ``adcrnn`` command.

::

    adcrnn data info [--data-dir DIR] [--no-verify]   where the corpus is, what it holds
    adcrnn data download [--dest DIR] [--url URL] [--force]
    adcrnn book [--profile cpu] [--data-dir DIR] [--download] [--no-verify]
    adcrnn cv [--profile cpu] [--protocol paper|loso] [--augmentation none] [--loss lf1] [--no-attention] [--speaker-norm] [--seed 0] [--set NAME=VALUE ...]
    adcrnn study [--profile cpu] [--points NAME ...] [--seeds 0 1] [--timnet] [--leaky] [--list]
    adcrnn train [experiment options] --out model.keras
    adcrnn predict FILE.wav [FILE ...] --model model.keras [--json]
    adcrnn baseline [--features compare|egemaps] [--classifier logreg|svm] [--protocol paper|loso] [--speaker-norm]

``--verbose`` (before or after the command) logs debug messages and everything TensorFlow's runtime
logs; without it, the runtime's harmless "E0000" lines are hidden (see :mod:`adcrnn_lib._quiet`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .exceptions import AdcrnnError, ParameterError

__all__ = ["main"]


def _cmd_data_info(args: argparse.Namespace) -> int:
    from .data import EMOTIONS, load_emodb

    df = load_emodb(args.data_dir, verify=not args.no_verify)
    print(f"corpus:     {df.attrs['data_dir']}")
    print(f"verified:   {'yes, every file matches its checksum' if not args.no_verify else 'no (--no-verify)'}")
    print(f"utterances: {len(df)}  speakers: {df['speaker'].nunique()}  audio: {df['duration'].sum():.1f} s")
    counts = df["emotion"].value_counts()
    print("emotions:   " + ", ".join(f"{e} {counts.get(e, 0)}" for e in EMOTIONS))
    return 0


def _cmd_data_download(args: argparse.Namespace) -> int:
    from .download import EMODB_URL, download_emodb

    target = download_emodb(args.dest, url=args.url or EMODB_URL, force=args.force)
    print(f"EmoDB ready in {target}")
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from .chapters.book import build_book

    index = build_book(args.profile, data_dir=args.data_dir, download=args.download, verify=not args.no_verify, workers=args.workers, scheduler=args.scheduler, jobs=args.jobs, threads=args.threads)
    print(f"book built: {index}")
    return 0


def _config(args: argparse.Namespace):
    from .config import ExperimentConfig

    return ExperimentConfig(
        profile=args.profile,
        protocol=getattr(args, "protocol", "paper"),
        augmentation=args.augmentation,
        loss=args.loss,
        attention=not args.no_attention,
        seed=args.seed,
        speaker_norm=getattr(args, "speaker_norm", False),
        data_dir=args.data_dir,
        overrides=_overrides(getattr(args, "set", None) or []),
    )


def _overrides(pairs: Sequence[str], *, option: str = "--set", example: str = "epochs=30") -> dict[str, object]:
    """``["epochs=30", "selection=last"]`` -> ``{"epochs": 30, "selection": "last"}`` (numbers as numbers)."""
    import json

    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"{option} {pair!r}; expected NAME=VALUE, e.g. {option} {example}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        out[name.strip()] = value
    return out


def _cmd_study(args: argparse.Namespace) -> int:
    from .experiments.grid import LEAKY_POINTS, LEAKY_SEEDS, LEVEL_POINTS, STUDY_LEVERS, STUDY_SEEDS, run_leaky_points, run_level_points, run_study

    if args.list:
        for name, overrides in STUDY_LEVERS.items():
            print(f"{name}: {', '.join(f'{k}={v}' for k, v in overrides.items()) or 'the profile as it is'}")
        for name, (leaks, recipe) in LEAKY_POINTS.items():
            print(f"{name} (--leaky): {', '.join(leaks)}, on {recipe}")
        for name, overrides in LEVEL_POINTS.items():
            print(f"{name} (--level): {', '.join(f'{k}={v}' for k, v in overrides.items())}, paired with the profile under both protocols")
        return 0
    if args.leaky and args.level:
        raise ParameterError("--leaky and --level: choose one")
    if args.level and (args.points or args.seeds or args.timnet):
        raise ParameterError("--level trains its own points and seeds (see --list): leave out --points, --seeds and --timnet")
    if args.level:
        summary = run_level_points(args.profile, args.data_dir, verify=not args.no_verify, results_dir=args.results_dir)
    elif args.leaky:
        summary = run_leaky_points(args.profile, args.data_dir, names=args.points, seeds=tuple(args.seeds or LEAKY_SEEDS), verify=not args.no_verify, results_dir=args.results_dir)
    else:
        summary = run_study(args.profile, args.data_dir, names=args.points, seeds=tuple(args.seeds or STUDY_SEEDS), timnet=args.timnet, verify=not args.no_verify, results_dir=args.results_dir)
    print(f"study: {summary['runs_trained']} run(s) trained, {summary['runs_cached']} found; results under {args.results_dir or 'results/runs'}")
    return 0


def _cmd_gan_ladder(args: argparse.Namespace) -> int:
    from .experiments.distributed import pin_threads

    pin_threads(args.threads)  # before the backend's first operation
    from .experiments.gan_ladder import RUNGS, run_ladder

    folder = run_ladder(
        args.profile, args.data_dir, kinds=tuple(args.kinds), emotions=args.emotions, rungs=tuple(args.rungs or RUNGS), fold=args.fold,
        seed=args.seed, overrides={**_overrides(args.gan_set or [], option="--gan-set", example="size=16"), **({"precision": args.precision} if args.precision != "float32" else {})},
        results_dir=args.results_dir, compare=not args.no_compare, verify=not args.no_verify,
    )
    print(f"gan-ladder: records in {folder}")
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    from .experiments.cv import run_cv
    from .experiments.distributed import close, connect, run_config

    config = _config(args)
    client = connect(args.workers, args.scheduler, threads=args.threads)
    try:
        if client is None:
            result = run_cv(config, results_dir=args.results_dir, verify=not args.no_verify)
        else:
            result = run_config(config, client=client, results_dir=args.results_dir, verify=not args.no_verify)
    finally:
        close(client)
    _print_result(result, str(config))
    return 0


def _cluster_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, help="train folds in parallel on a local Dask cluster of N worker processes (default: one after another in this process)")
    p.add_argument("--threads", type=int, help="backend threads of each local worker (default: this machine's cores shared among the workers); a fold's numbers depend on it in the last float digits")
    p.add_argument("--scheduler", help="train folds on the Dask cluster at tcp://HOST:PORT (default: $ADCRNN_DASK_SCHEDULER); its workers must see the corpus, caches and results folder at the same paths")


def _print_result(result, name: str) -> None:
    table = result.table()
    print(f"{name}\nresults: {result.run_dir}")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    for metric, s in result.summary().items():
        print(f"{metric:9s} {100 * s['mean']:6.2f} +- {100 * s['std']:5.2f} %  (mean +- std over {len(table)} folds)")


def _cmd_baseline(args: argparse.Namespace) -> int:
    from .experiments.baselines import BaselineConfig, run_baseline

    config = BaselineConfig(
        features=args.features, classifier=args.classifier, protocol=args.protocol, speaker_norm=args.speaker_norm, seed=args.seed, data_dir=args.data_dir
    )
    _print_result(run_baseline(config, results_dir=args.results_dir, verify=not args.no_verify), str(config))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .predict import train_final

    out = train_final(_config(args), args.out, verify=not args.no_verify)
    print(f"model saved: {out} (+ {out.name}.json)")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from .predict import Predictor, predict_files

    results = predict_files(args.files, Predictor.load(args.model))
    if args.json:
        print(json.dumps(results, indent=2))
    for r in results:
        if "error" in r:
            print(f"adcrnn: error: {r['error']}", file=sys.stderr)
            continue
        if not args.json:
            probs = "  ".join(f"{c} {p:.3f}" for c, p in r["probabilities"].items())
            print(f"{r['file']}: {r['emotion']}  ({probs})  [RMS {r['level']['rms_dbfs']:.1f} dBFS]")
        for warning in r["warnings"]:
            print(f"adcrnn: warning: {r['file']}: {warning}", file=sys.stderr)
    return 1 if any("error" in r for r in results) else 0


def _run_options(p: argparse.ArgumentParser) -> None:
    """The corpus, its checksum check, the results folder and ``--verbose``: what every command that trains runs needs."""
    p.add_argument("--data-dir", help="folder of the EmoDB wav files")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    p.add_argument("--results-dir", help="root of the run folders")
    _verbose_option(p)


def _experiment_options(p: argparse.ArgumentParser, *, protocol: bool = True) -> None:
    p.add_argument("--profile", default="cpu", help="compute profile: smoke, cpu (default) or paper")
    if protocol:
        p.add_argument("--protocol", default="paper", help="paper (stratified 5-fold, default) or loso (leave one speaker out)")
        p.add_argument("--speaker-norm", action="store_true", help="standardize features per speaker (uses the test speaker's unlabeled audio; beyond the paper)")
    p.add_argument("--augmentation", default="none", help="training-set augmentation (default none)")
    p.add_argument("--loss", default="lf1", help="lf1 (default), lf2, lf3 or lf4")
    p.add_argument("--no-attention", action="store_true", help="average over time instead of attention (Table IV, model 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder of the EmoDB wav files")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum check (for look-alike corpora)")


VERBOSE_HELP = "log debug messages, and everything TensorFlow's runtime logs (TF_CPP_MIN_LOG_LEVEL=0; by default its harmless E0000 lines are hidden)"


def _verbose_option(p: argparse.ArgumentParser) -> None:
    """``--verbose`` after the command too (``adcrnn cv --verbose``); absent, it leaves ``adcrnn -v cv``'s value alone."""
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)


def _set_option(parser: argparse.ArgumentParser, what: str = "this run, e.g. --set epochs=30 --set selection=last") -> None:
    parser.add_argument("--set", action="append", metavar="NAME=VALUE", help=f"change one training setting of the profile for {what} (repeatable)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adcrnn", description="HDA + ADCRNN speech emotion recognition, reproduced.")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="the EmoDB corpus").add_subparsers(dest="data_command", required=True)
    info = data.add_parser("info", help="locate, verify and summarise the corpus")
    info.add_argument("--data-dir", help="folder of the wav files (default: $ADCRNN_EMODB, then data/emodb/wav)")
    info.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    info.set_defaults(func=_cmd_data_info)
    dl = data.add_parser("download", help="download the public EmoDB zip and verify every file")
    dl.add_argument("--dest", help="folder that receives wav/ (default: data/emodb in the project)")
    dl.add_argument("--url", help="where the zip is served (default: the corpus home page)")
    dl.add_argument("--force", action="store_true", help="replace an existing copy")
    dl.set_defaults(func=_cmd_data_download)

    book = sub.add_parser("book", help="run every chapter notebook and build the HTML book")
    book.add_argument("--profile", default="cpu", help="compute profile: smoke, cpu (default) or paper")
    book.add_argument("--data-dir", help="folder of the EmoDB wav files")
    book.add_argument("--download", action="store_true", help="download EmoDB when it is found nowhere")
    book.add_argument("--no-verify", action="store_true", help="skip the checksum check (for look-alike corpora)")
    book.add_argument("--jobs", type=int, default=2, help="chapters executed at once, each in its own kernel (default 2)")
    _cluster_options(book)
    _verbose_option(book)
    book.set_defaults(func=_cmd_book)

    cv = sub.add_parser("cv", help="cross-validate one configuration; completed folds are reused")
    _experiment_options(cv)
    cv.add_argument("--results-dir", help="root of the run folders (default: $ADCRNN_RESULTS_DIR, then results/runs)")
    _set_option(cv)
    _cluster_options(cv)
    _verbose_option(cv)
    cv.set_defaults(func=_cmd_cv)

    study = sub.add_parser("study", help="the training-budget study: one lever of the profile at a time, several seeds")
    study.add_argument("--profile", default="cpu", help="the profile whose levers are studied (default cpu)")
    study.add_argument("--points", nargs="+", metavar="NAME", help="study points to train (default all; see --list)")
    study.add_argument("--seeds", nargs="+", type=int, help="seeds (default 0 1)")
    study.add_argument("--timnet", action="store_true", help="also the TIM-Net calibration row (500 epochs per fold)")
    study.add_argument("--leaky", action="store_true", help="the leaky-protocol points instead (labelled leaky; never in an honest table)")
    study.add_argument("--level", action="store_true", help="the level-normalization points and the profile runs they pair with, both protocols")
    study.add_argument("--list", action="store_true", help="list the study points and exit")
    _run_options(study)
    study.set_defaults(func=_cmd_study)

    ladder = sub.add_parser("gan-ladder", help="train one fold's GANs up a ladder of generator steps and judge their clips at each rung (resumable)")
    ladder.add_argument("--profile", default="cpu", help="the profile whose GANs climb (default cpu)")
    ladder.add_argument("--kinds", nargs="+", default=["specgan", "wavegan"], help="GAN kinds (default specgan wavegan)")
    ladder.add_argument("--emotions", nargs="+", help="augmented emotions (default every one the fold's GANs make)")
    ladder.add_argument("--rungs", nargs="+", type=int, help="generator steps of the rungs (default 20 100 300 1000 3000)")
    ladder.add_argument("--fold", type=int, default=0, help="fold of the paper protocol (default 0)")
    ladder.add_argument("--seed", type=int, default=0, help="seed of the folds and the GANs (default 0)")
    ladder.add_argument("--precision", default="float32", help="the GANs' computation: float32 (default) or mixed_bfloat16 (records in a folder of their own)")
    ladder.add_argument("--gan-set", action="append", metavar="NAME=VALUE", help="a variant of the profile's GANs, e.g. --gan-set size=16 --gan-set learning_rate=3e-4 (size, batch_size, learning_rate; records in a folder of their own)")
    ladder.add_argument("--threads", type=int, help="backend threads of this process (two processes on different emotions: 1 each)")
    ladder.add_argument("--no-compare", action="store_true", help="leave out the second judge (ComParE + logistic regression)")
    _run_options(ladder)
    ladder.set_defaults(func=_cmd_gan_ladder)

    train = sub.add_parser("train", help="fit a final model on the whole corpus and save it")
    _experiment_options(train, protocol=False)
    train.add_argument("--out", required=True, help="model file, ending in .keras")
    _set_option(train, "this model, e.g. --set level_norm=utterance (its metadata records it; predict applies it)")
    _verbose_option(train)
    train.set_defaults(func=_cmd_train)

    predict = sub.add_parser("predict", help="emotion and class probabilities of audio files")
    predict.add_argument("files", nargs="+", help="audio files (any sample rate and channel count)")
    predict.add_argument("--model", required=True, help="a model saved by adcrnn train")
    predict.add_argument("--json", action="store_true", help="print JSON")
    _verbose_option(predict)
    predict.set_defaults(func=_cmd_predict)

    base = sub.add_parser("baseline", help="openSMILE functionals + logistic regression or SVM, in the same folds")
    base.add_argument("--features", default="compare", help="compare (ComParE_2016, default) or egemaps (eGeMAPSv02)")
    base.add_argument("--classifier", default="logreg", help="logreg (default) or svm")
    base.add_argument("--protocol", default="paper", help="paper (default) or loso")
    base.add_argument("--speaker-norm", action="store_true", help="standardize each speaker's features with its own statistics")
    base.add_argument("--seed", type=int, default=0)
    base.add_argument("--data-dir", help="folder of the EmoDB wav files")
    base.add_argument("--no-verify", action="store_true", help="skip the checksum check")
    base.add_argument("--results-dir", help="root of the run folders")
    _verbose_option(base)
    base.set_defaults(func=_cmd_baseline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for a clear error, with the message on stderr).

    TensorFlow's runtime log is set before TensorFlow loads (:func:`~adcrnn_lib._quiet.command_log_level`):
    its harmless "E0000" lines stay hidden unless ``--verbose`` or the user's ``TF_CPP_MIN_LOG_LEVEL`` asks for them.
    """
    import os

    from ._quiet import LOG_LEVEL_VAR, command_log_level

    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    saved = os.environ.get(LOG_LEVEL_VAR)
    os.environ[LOG_LEVEL_VAR] = command_log_level(verbose)  # read by TensorFlow when it loads, and by the processes the command starts
    try:
        return args.func(args)
    except AdcrnnError as exc:
        print(f"adcrnn: error: {exc}", file=sys.stderr)
        return 2
    finally:  # a caller in the same process (a test, a notebook) gets its environment back
        if saved is None:
            os.environ.pop(LOG_LEVEL_VAR, None)
        else:
            os.environ[LOG_LEVEL_VAR] = saved


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
