"""The ``adcrnn`` command.

::

    adcrnn data info [--data-dir DIR] [--no-verify]   where the corpus is, what it holds
    adcrnn data download [--dest DIR] [--url URL] [--force]
    adcrnn book [--profile cpu] [--data-dir DIR] [--download] [--no-verify]
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .exceptions import AdcrnnError

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
    from .book import build_book

    index = build_book(args.profile, data_dir=args.data_dir, download=args.download, verify=not args.no_verify)
    print(f"book built: {index}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adcrnn", description="HDA + ADCRNN speech emotion recognition, reproduced.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
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
    book.set_defaults(func=_cmd_book)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for a clear error, with the message on stderr)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except AdcrnnError as exc:
        print(f"adcrnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
