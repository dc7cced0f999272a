"""The ``videoadviser`` command line: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from videoadviser import __version__
from videoadviser.errors import VideoAdviserError

Handler = Callable[[argparse.Namespace], int]


def _cmd_make_demo(args: argparse.Namespace) -> int:
    from videoadviser.data.demo import DemoConfig, make_demo_dataset

    config = DemoConfig(
        seed=args.seed, n_train=args.n_train, n_valid=args.n_valid, n_test=args.n_test
    )
    path = make_demo_dataset(args.dir, config, overwrite=args.overwrite, progress=not args.quiet)
    print(f"embedded dataset ready at {path}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from videoadviser.data.dataset import load_dataset
    from videoadviser.utils.io import write_json

    dataset = load_dataset(
        args.path, video_policy=args.video_policy, raw_root=args.raw_root, progress=not args.quiet
    )
    summary = dataset.summary()
    if args.json:
        write_json(args.json, summary)
    shown = {k: v for k, v in summary.items() if k != "videos"}
    shown["videos"] = {k: v for k, v in summary["videos"].items() if k != "bad_files"}  # type: ignore[union-attr]
    print(json.dumps(shown, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videoadviser",
        description="Distil a multimodal CLIP video teacher into a text-only student "
        "(VideoAdviser).",
    )
    parser.add_argument("--version", action="version", version=f"videoadviser {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="make, inspect and check datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    demo = data_commands.add_parser(
        "make-demo",
        help="write the embedded dataset (MMSA raw layout) to DIR",
        description="Write the embedded dataset: real tweets as transcripts, rendered talking "
        "faces as mp4 video, MOSI-like labels and splits. Deterministic under --seed.",
    )
    demo.add_argument(
        "dir", type=Path, help="output folder (created; reused if made with the same settings)"
    )
    demo.add_argument("--seed", type=int, default=0, help="generation seed (default 0)")
    demo.add_argument("--n-train", type=int, default=1284, help="training clips (default 1284)")
    demo.add_argument("--n-valid", type=int, default=229, help="validation clips (default 229)")
    demo.add_argument("--n-test", type=int, default=686, help="test clips (default 686)")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_cmd_make_demo)

    check = data_commands.add_parser(
        "check",
        help="load a dataset under a video policy and print a summary",
        description="Read an MMSA raw-layout folder or processed pickle, check every label and "
        "video, and print the split sizes and what happened to bad videos.",
    )
    check.add_argument("path", type=Path, help="MMSA raw-layout folder, or processed .pkl file")
    add_video_policy(check)
    check.add_argument(
        "--raw-root", type=Path, default=None, help="raw-layout folder with a pickle's videos"
    )
    check.add_argument(
        "--json", type=Path, default=None, help="also write the summary (with bad files) here"
    )
    check.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    check.set_defaults(handler=_cmd_check)
    return parser


def add_video_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--video-policy",
        choices=("error", "skip", "blank"),
        default="error",
        help="missing/corrupt videos: error (list them all and stop; default), skip (drop the "
        "rows), blank (keep the rows, transcript only)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Handler = args.handler
    try:
        return handler(args)
    except VideoAdviserError as error:
        print(f"videoadviser: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("videoadviser: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
