"""The ``wsal`` command: a thin layer of subcommands over library calls.

Every subcommand imports its heavy dependencies lazily so ``wsal --help`` stays instant.
Bad input ends with exit status 2 and one line on stderr (``wsal: error: ...``); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from wsal import __version__
from wsal.errors import WsalError

__all__ = ["main", "build_parser"]


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="generate a synthetic dataset in a real on-disk layout",
        description="Generate a seeded synthetic dataset (temporal folder, AVA-style keyframe "
        "folder or UCF101-24-style tube folder) with the difficulties the papers address.",
    )
    p.add_argument("kind", choices=["temporal", "keyframe", "tubes"], help="dataset family")
    p.add_argument("--out", required=True, type=Path, help="output folder (created)")
    p.add_argument(
        "--preset", default="demo", help="size preset (tiny, small, demo, ...; default: demo)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed -> identical files)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a generator setting (repeatable)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an earlier output in --out")
    p.set_defaults(func=_cmd_synth)


def _cmd_synth(args: argparse.Namespace) -> int:
    from wsal import synthetic
    from wsal.config import load_config

    presets = {
        "temporal": synthetic.TEMPORAL_PRESETS,
        "keyframe": synthetic.KEYFRAME_PRESETS,
        "tubes": synthetic.TUBE_PRESETS,
    }[args.kind]
    if args.preset not in presets:
        raise WsalError(
            f"unknown preset '{args.preset}' for {args.kind}; choose from {', '.join(presets)}"
        )
    base = presets[args.preset]
    cfg = load_config(type(base), None, args.overrides, base=base)
    out = synthetic.GENERATORS[args.kind](args.out, cfg, seed=args.seed, overwrite=args.overwrite)
    print(f"wrote {args.kind} dataset ({args.preset}, seed {args.seed}) to {out}")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="generate demo data and run everything that exists end to end",
        description="Generate the bundled synthetic demo data, run the available pipeline "
        "stages on it and print the metrics tables.",
    )
    p.add_argument(
        "--out", type=Path, default=Path("demo_out"), help="output folder (default: demo_out)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--preset", default="demo", help="data size preset (default: demo; 'tiny' for a smoke run)"
    )
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from wsal.demo import run_demo

    run_demo(args.out, seed=args.seed, preset=args.preset)
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a method from a config (YAML diff over the paper defaults)",
        description="Train a temporal method; the merged config, checkpoints, history and "
        "test metrics are written to the run folder.",
    )
    p.add_argument("--config", type=Path, default=None, help="configs/<method>/<dataset>.yaml")
    p.add_argument("--data", type=Path, default=None, help="dataset folder (overrides data.root)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. train.epochs=5 (repeatable)",
    )
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    p.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="train once per seed (RUN/seed_N) and report mean +- std",
    )
    p.add_argument(
        "--no-eval", action="store_true", help="skip the test-split evaluation after training"
    )
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from wsal.config import load_run_config
    from wsal.pipeline import summarize_seeds, train_and_evaluate

    overrides = list(args.overrides) + ([f"data.root={args.data}"] if args.data else [])
    cfg = load_run_config(args.config, overrides)
    if not cfg.data.root:
        raise WsalError("no dataset: give --data DIR or set data.root in the config")
    if not args.seeds:
        result = train_and_evaluate(cfg, args.out, resume=args.resume, evaluate=not args.no_eval)
        if result is not None:
            print(result.format_table())
        return 0
    results = []
    for seed in args.seeds:
        run = args.out / f"seed_{seed}"
        print(f"== seed {seed} -> {run}")
        results.append(
            train_and_evaluate(replace(cfg, seed=seed), run, resume=args.resume, evaluate=True)
        )
    print(summarize_seeds(args.out, args.seeds, results))
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run a trained model on a split; write ActivityNet results JSON and raw scores",
        description="Predict with a trained run: raw scores are saved (RUN/raw_<split>.npz) so "
        "post-processing can be re-run with `wsal localize` without the model.",
    )
    p.add_argument("--run", type=Path, required=True, help="run folder written by `wsal train`")
    p.add_argument("--data", type=Path, default=None, help="dataset folder (default: the run's)")
    p.add_argument("--split", default="test", help="split to predict (default: test)")
    p.add_argument("--out", type=Path, required=True, help="results JSON to write")
    p.add_argument(
        "--raw",
        type=Path,
        default=None,
        help="where to save raw scores (default: RUN/raw_<split>.npz)",
    )
    p.add_argument(
        "--preset", default=None, help="localizer preset (default: the method's paper preset)"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--evaluate",
        action="store_true",
        help="also print the mAP table against the split's ground truth",
    )
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from wsal.pipeline import predict_to_files

    result = predict_to_files(
        args.run,
        args.out,
        data_root=args.data,
        split=args.split,
        raw_path=args.raw,
        preset=args.preset,
        device=args.device,
        evaluate=args.evaluate,
    )
    if result is not None:
        print(result.format_table())
    return 0


def _add_localize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "localize",
        help="re-run temporal post-processing on saved raw scores",
        description="Turn saved raw scores (from `wsal predict`) into segments with a localizer "
        "preset, without the model. Class names come from the run folder next to the scores.",
    )
    p.add_argument(
        "--scores", type=Path, required=True, help="raw scores .npz (RUN/raw_<split>.npz)"
    )
    p.add_argument("--preset", required=True, help="localizer preset name")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a localizer setting (repeatable)",
    )
    p.add_argument(
        "--run",
        type=Path,
        default=None,
        help="run folder holding run.json (default: the folder of --scores)",
    )
    p.add_argument("--out", type=Path, required=True, help="results JSON to write")
    p.set_defaults(func=_cmd_localize)


def _cmd_localize(args: argparse.Namespace) -> int:
    from wsal.pipeline import localize_to_file

    n = localize_to_file(
        args.scores, args.out, preset=args.preset, overrides=args.overrides, run_dir=args.run
    )
    print(f"wrote {n} segments to {args.out}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="official-identical metrics (temporal mAP, AVA Frame-mAP, video-mAP)",
        description="Evaluate detections against ground truth with numbers identical to the official tools.",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="{temporal,frame,video}")

    t = kinds.add_parser("temporal", help="ActivityNet-identical detection mAP at tIoU thresholds")
    t.add_argument("--gt", required=True, type=Path, help="ActivityNet-style ground-truth JSON")
    t.add_argument("--pred", required=True, type=Path, help="ActivityNet results JSON")
    t.add_argument(
        "--subset",
        default=None,
        help="evaluate only GT videos of this subset (e.g. test, validation)",
    )
    g = t.add_mutually_exclusive_group()
    g.add_argument("--tiou", default=None, help="thresholds, e.g. 0.1:0.7:0.1 or 0.3,0.5,0.7")
    g.add_argument(
        "--preset",
        choices=["thumos14", "activitynet"],
        default=None,
        help="threshold preset (default: thumos14)",
    )
    t.add_argument(
        "--ignore-ambiguous",
        action="store_true",
        help="THUMOS14 convention: drop predictions overlapping Ambiguous segments",
    )
    t.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    t.set_defaults(func=_cmd_eval_temporal)

    f = kinds.add_parser("frame", help="AVA-identical Frame-mAP@0.5")
    f.add_argument("--gt", required=True, type=Path, help="AVA ground-truth CSV")
    f.add_argument("--pred", required=True, type=Path, help="AVA detection CSV")
    f.add_argument(
        "--labelmap", required=True, type=Path, help="label map .pbtxt (60- or 80-class file)"
    )
    f.add_argument(
        "--exclusions", type=Path, default=None, help="excluded timestamps CSV (ava2019 protocol)"
    )
    f.add_argument(
        "--protocol",
        choices=["ava2019", "ava2020"],
        default="ava2019",
        help="evaluator version (default: ava2019)",
    )
    f.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    f.set_defaults(func=_cmd_eval_frame)

    v = kinds.add_parser("video", help="ACT-identical video-mAP over tubes")
    v.add_argument("--gt", required=True, type=Path, help="gt_tubes.json")
    v.add_argument("--pred", required=True, type=Path, help="tube results JSON")
    vg = v.add_mutually_exclusive_group()
    vg.add_argument(
        "--iou",
        type=float,
        nargs="+",
        default=None,
        help="tube IoU thresholds (default: 0.2 0.5 0.75)",
    )
    vg.add_argument(
        "--range",
        dest="iou_range",
        action="store_true",
        help="use 0.5:0.05:0.95; average_mAP is then the 0.5:0.95 number",
    )
    v.add_argument("--no-nms", action="store_true", help="skip the official 3D-NMS at 0.3")
    v.add_argument(
        "--ap",
        choices=["act", "act_float64", "voc"],
        default="act",
        help="AP variant (default: act, as official)",
    )
    v.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    v.set_defaults(func=_cmd_eval_video)


def _print_result(result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), allow_nan=False))
    else:
        print(result.format_table())


def _cmd_eval_temporal(args: argparse.Namespace) -> int:
    from wsal.evaluation.temporal import PRESETS, evaluate_temporal_files, parse_thresholds

    thresholds = parse_thresholds(args.tiou) if args.tiou else PRESETS[args.preset or "thumos14"]
    result = evaluate_temporal_files(
        args.gt,
        args.pred,
        subset=args.subset,
        tiou_thresholds=thresholds,
        ignore_ambiguous=args.ignore_ambiguous,
    )
    _print_result(result, args.json)
    return 0


def _cmd_eval_frame(args: argparse.Namespace) -> int:
    from wsal.evaluation.frame import evaluate_frame_files

    if args.protocol == "ava2020" and args.exclusions is not None:
        raise WsalError(
            "--exclusions is not used by the ava2020 protocol; drop it or use --protocol ava2019"
        )
    result = evaluate_frame_files(
        args.gt, args.pred, args.labelmap, exclusions_path=args.exclusions, protocol=args.protocol
    )
    _print_result(result, args.json)
    return 0


def _cmd_eval_video(args: argparse.Namespace) -> int:
    import numpy as np

    from wsal.evaluation.video import evaluate_video_files

    thresholds = (
        np.linspace(0.5, 0.95, 10).tolist()
        if args.iou_range
        else (list(args.iou) if args.iou else [0.2, 0.5, 0.75])
    )
    result = evaluate_video_files(
        args.gt,
        args.pred,
        iou_thresholds=thresholds,
        nms_threshold=None if args.no_nms else 0.3,
        ap_variant=args.ap,
    )
    _print_result(result, args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``wsal`` command (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="wsal",
        description="wsal: weakly-supervised action localization. Train, predict, localize and "
        "evaluate temporal and spatio-temporal action localization from video-level labels.",
    )
    parser.add_argument("--version", action="version", version=f"wsal {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_demo(sub)
    _add_synth(sub)
    _add_train(sub)
    _add_predict(sub)
    _add_localize(sub)
    _add_evaluate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsal`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("wsal: interrupted", file=sys.stderr)
        return 130
    except (WsalError, OSError) as e:
        if args.debug:
            raise
        msg = (
            str(e)
            if isinstance(e, WsalError)
            else f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": ")
        )
        print(f"wsal: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
