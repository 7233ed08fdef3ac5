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
        description="Train a temporal or keyframe method; the merged config, checkpoints, "
        "history and test metrics (temporal mAP or Frame-mAP) are written to the run folder.",
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
    from wsal.methods import METHODS
    from wsal.pipeline import summarize_seeds, train_and_evaluate

    overrides = list(args.overrides) + ([f"data.root={args.data}"] if args.data else [])
    from wsal.engine.tubes import cli_train, is_tube_method  # tube methods (stil): own engine

    if is_tube_method(args.config, overrides):
        return cli_train(args.config, overrides, args.out, evaluate=not args.no_eval)
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
    if any(r is None for r in results):  # DDP rank > 0: rank 0 evaluates and summarizes
        return 0
    if getattr(METHODS[cfg.method], "task", "temporal") == "keyframe":
        from wsal.pipeline import summarize_keyframe_seeds

        print(summarize_keyframe_seeds(args.out, args.seeds, results))
        return 0
    print(summarize_seeds(args.out, args.seeds, results))
    return 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="run a trained model on a split; write results (ActivityNet JSON or AVA CSV)",
        description="Predict with a trained run. Temporal runs: ActivityNet results JSON, and "
        "raw scores are saved (RUN/raw_<split>.npz) so post-processing can be re-run with "
        "`wsal localize` without the model. Keyframe runs (ua_mil, mitl): an AVA detection CSV "
        "with the top classes of every person box. End-to-end runs (`wsal train-e2e`): the same "
        "CSV, scored from the video frames (--videos) with the fine-tuned backbone.",
    )
    p.add_argument(
        "--run", type=Path, required=True,
        help="run folder written by `wsal train` or `wsal train-e2e`",
    )  # fmt: skip
    p.add_argument("--data", type=Path, default=None, help="dataset folder (default: the run's)")
    p.add_argument(
        "--split",
        default=None,
        help="split to predict (default: test; keyframe runs: the config's data.test_split; "
        "end-to-end runs: its test_split)",
    )
    p.add_argument(
        "--videos",
        type=Path,
        default=None,
        help="end-to-end runs: folder of <video_id>.<ext> files of the split (default: the run's)",
    )
    p.add_argument(
        "--out", type=Path, required=True, help="results JSON (temporal) or detection CSV to write"
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="keyframe runs: classes per box (default: eval.top_k)",
    )
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
        help="also print the mAP table against the split's ground truth "
        "(end-to-end runs: also RUN/metrics_<split>.json)",
    )
    p.set_defaults(func=_cmd_predict)


def _cmd_predict(args: argparse.Namespace) -> int:
    from wsal.engine.end_to_end import run_is_end_to_end
    from wsal.engine.tubes import predict_tubes, run_is_tube
    from wsal.pipeline import predict_keyframe_to_file, predict_to_files, run_task

    if run_is_end_to_end(args.run):  # frames -> fine-tuned backbone -> RoI head: AVA CSV
        from wsal.pipeline import predict_end_to_end_to_file

        result = predict_end_to_end_to_file(
            args.run, args.out, data_root=args.data, split=args.split, videos=args.videos,
            device=args.device, top_k=args.top_k, evaluate=args.evaluate,
        )  # fmt: skip
        print(f"wrote detections to {args.out}")
        if result is not None:
            print(result.format_table())
        return 0
    if args.videos is not None:
        raise WsalError(
            f"{args.run}: --videos applies to end-to-end runs (`wsal train-e2e`) only; this run "
            "predicts from its dataset's features"
        )
    if run_is_tube(args.run):  # tube methods (stil): tube results JSON
        result = predict_tubes(
            args.run, args.out, split=args.split or "test", data_root=args.data,
            evaluate=args.evaluate,
        )  # fmt: skip
        print(f"wrote tubes to {args.out}")
        if result is not None:
            print(result.format_table())
        return 0
    if run_task(args.run) == "keyframe":
        result = predict_keyframe_to_file(
            args.run, args.out, data_root=args.data, split=args.split, device=args.device,
            top_k=args.top_k, evaluate=args.evaluate,
        )  # fmt: skip
        print(f"wrote detections to {args.out}")
        if result is not None:
            print(result.format_table())
        return 0
    result = predict_to_files(
        args.run,
        args.out,
        data_root=args.data,
        split=args.split or "test",
        raw_path=args.raw,
        preset=args.preset,
        device=args.device,
        evaluate=args.evaluate,
    )
    if result is not None:
        print(result.format_table())
    return 0


def _add_extractor_args(p: argparse.ArgumentParser, *, streams_default: str | None) -> None:
    """Options shared by `wsal extract` and `wsal localize VIDEO`: backbone, weights, sizes."""
    g = p.add_argument_group("extractor (see docs/extract.md)")
    g.add_argument(
        "--extractor",
        default="i3d",
        help="i3d (default), stats (no weights; tests only), or a torchvision model: "
        "r2plus1d_18, r3d_18, s3d, mvit_v2_s, swin3d_t (optional extra)",
    )
    g.add_argument(
        "--weights", "--backbone-weights", dest="weights", action="append", default=[],
        metavar="[STREAM=]PATH",
        help="local checkpoint per stream, e.g. rgb=rgb_imagenet.pt (repeatable; never downloaded)",
    )  # fmt: skip
    g.add_argument(
        "--random-init",
        action="store_true",
        help="allow a randomly initialized backbone (smoke runs, speed tests; meaningless features)",
    )
    if streams_default is not None:
        g.add_argument(
            "--streams",
            default=streams_default,
            help=f"comma-separated (default: {streams_default})",
        )
    g.add_argument(
        "--flow", default="tvl1", choices=["tvl1", "raft", "difference"],
        help="optical flow of the flow stream: tvl1 (OpenCV contrib, as published), raft "
        "(torchvision, --flow-weights) or difference (a cheap proxy, NOT compatible with "
        "published features)",
    )  # fmt: skip
    g.add_argument("--flow-weights", type=Path, default=None, help="local RAFT state dict")
    g.add_argument("--short-side", type=int, default=256, help="resize shorter side (default 256)")
    g.add_argument("--crop", type=int, default=224, help="centre crop side (default 224; 0: none)")
    g.add_argument("--width", type=float, default=1.0, help=argparse.SUPPRESS)  # I3D width (tests)
    g.add_argument("--batch-size", type=int, default=8, help="snippets per forward pass")
    g.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")


def _weights_by_stream(items: list[str], streams: list[str]) -> dict[str, Path]:
    """``--weights`` values -> {stream: path}; a bare PATH is allowed with a single stream."""
    out: dict[str, Path] = {}
    for item in items:
        stream, sep, path = item.partition("=")
        if not sep:
            if len(streams) != 1:
                raise WsalError(f"--weights {item}: say which stream, e.g. rgb={item}")
            stream, path = streams[0], item
        if stream not in streams:
            raise WsalError(f"--weights {item}: stream '{stream}' is not extracted ({streams})")
        out[stream] = Path(path)
    return out


def _encoders(args: argparse.Namespace, streams: list[str]):
    """Snippet encoders and the flow function of the extractor options."""
    from wsal.extract.features import build_encoder
    from wsal.extract.flow import flow_method

    weights = _weights_by_stream(args.weights, streams)
    encoders = [
        build_encoder(args.extractor, s, weights=weights.get(s), random_init=args.random_init,
                      width=args.width, device=args.device)
        for s in streams
    ]  # fmt: skip
    flow = (
        flow_method(args.flow, weights=args.flow_weights, device=args.device)
        if "flow" in streams
        else None
    )
    return encoders, flow


def _add_extract(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extract",
        help="extract snippet or box features from video files",
        description="Decode videos (PyAV), resample to a fixed fps and encode snippets or person "
        "boxes with a backbone whose weights come from local files. Sharded over torchrun ranks "
        "(RANK/WORLD_SIZE), resumable, atomic; failures are summarized and the batch goes on.",
    )
    kinds = p.add_subparsers(dest="kind", required=True, metavar="{snippets,boxes}")
    s = kinds.add_parser(
        "snippets", help="temporal dataset folder: features/<split>/<stream>/<video>.npy"
    )
    s.add_argument("inputs", nargs="+", type=Path, help="video files, folders or .txt lists")
    s.add_argument("--out", type=Path, required=True, help="dataset folder (created)")
    s.add_argument("--split", default="test", help="split sub-folder (default: test)")
    s.add_argument("--fps", type=float, default=25.0, help="frame grid rate (default 25)")
    s.add_argument("--snippet-frames", type=int, default=16, help="frames per snippet (default 16)")
    s.add_argument(
        "--stride", type=int, default=None, help="frames between snippets (default: =length)"
    )
    s.add_argument("--overwrite", action="store_true", help="re-extract finished videos")
    _add_extractor_args(s, streams_default="rgb,flow")
    s.set_defaults(func=_cmd_extract_snippets)

    b = kinds.add_parser(
        "boxes", help="keyframe folder: proposals/<split>.csv + features/<split>.npy"
    )
    b.add_argument("--detections", type=Path, default=None, help="AVA proposals CSV or .npz")
    b.add_argument(
        "--detector", default=None,
        help="instead of --detections: a torchvision person detector, e.g. "
        "fasterrcnn_resnet50_fpn (optional extra; needs --detector-weights)",
    )  # fmt: skip
    b.add_argument("--detector-weights", type=Path, default=None, help="local detector state dict")
    b.add_argument("--detector-threshold", type=float, default=0.8, help="person score threshold")
    b.add_argument("--videos", type=Path, required=True, help="folder of <video_id>.<ext> files")
    b.add_argument("--out", type=Path, required=True, help="keyframe dataset folder")
    b.add_argument("--split", default="val", help="split name (default: val)")
    b.add_argument("--fps", type=float, default=25.0, help="frame grid rate (default 25)")
    b.add_argument("--clip-frames", type=int, default=32, help="frames per keyframe clip")
    b.add_argument(
        "--time-offset", type=float, default=0.0,
        help="seconds subtracted from timestamps (900 for AVA's 15-minute clips)",
    )  # fmt: skip
    _add_extractor_args(b, streams_default=None)
    b.set_defaults(func=_cmd_extract_boxes)


def _cmd_extract_snippets(args: argparse.Namespace) -> int:
    from wsal.extract.decode import Resize
    from wsal.extract.features import extract_videos, list_videos
    from wsal.extract.snippets import SnippetSpec

    streams = [s.strip() for s in args.streams.split(",") if s.strip()]
    encoders, flow = _encoders(args, streams)
    spec = SnippetSpec(frames=args.snippet_frames, stride=args.stride, fps=args.fps)
    info = {"extractor": args.extractor, "streams": streams, "flow": args.flow if flow else None,
            "short_side": args.short_side, "crop": args.crop or None,
            "random_init": bool(args.random_init)}  # fmt: skip
    report = extract_videos(
        list_videos(args.inputs), args.out, encoders, split=args.split, spec=spec,
        resize=Resize("short_side", args.short_side, min(args.crop or args.short_side, args.short_side)),
        crop=args.crop or None, flow=flow, batch_size=args.batch_size,
        overwrite=args.overwrite, info=info,
    )  # fmt: skip
    print(report.summary())
    return 1 if report.failed else 0


def _cmd_extract_boxes(args: argparse.Namespace) -> int:
    from wsal.extract.boxes import extract_box_features, read_detections, write_keyframe_split
    from wsal.extract.features import list_videos

    if args.extractor == "stats":
        raise WsalError(
            "box features need a convolutional backbone (i3d, r3d_18, r2plus1d_18, s3d)"
        )
    if (args.detections is None) == (args.detector is None):
        raise WsalError("give either --detections FILE or --detector NAME --detector-weights PATH")
    encoders, _ = _encoders(args, ["rgb"])
    enc = encoders[0]
    if args.detections is not None:
        proposals = read_detections(args.detections)
    else:
        from wsal.extract.detector import build_person_detector, detect_persons

        if args.detector_weights is None:
            raise WsalError("--detector needs --detector-weights PATH (a local file)")
        det = build_person_detector(args.detector, args.detector_weights)
        proposals, _ = detect_persons(
            dict(list_videos([args.videos])), det, time_offset=args.time_offset, fps=args.fps,
            threshold=args.detector_threshold, device=args.device,
        )  # fmt: skip
    feats, report = extract_box_features(
        proposals, dict(list_videos([args.videos])), enc.module, dim=enc.dim,
        rgb_range=enc.rgb_range, clip_frames=args.clip_frames, fps=args.fps,
        short_side=args.short_side, time_offset=args.time_offset, device=args.device,
    )  # fmt: skip
    write_keyframe_split(args.out, args.split, proposals, feats)
    print(f"wrote {len(feats)} box features ({feats.shape[1]}-d) to {args.out} in "
          f"{report.seconds:.1f} s; {len(report.failed)} videos failed ({report.zero_rows} zero rows)")  # fmt: skip
    return 1 if report.failed else 0


def _add_train_e2e(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-e2e",
        help="train backbone + RoI head + a keyframe head (ua_mil, mil_max, mitl) end to end "
        "from video frames",
        description="End-to-end keyframe training (docs/extract.md): clips around each keyframe "
        "of an AVA-layout folder go through a video backbone, RoIAlign pools the proposal boxes "
        "and the head's loss (ua_mil, mil_max or mitl) trains both; then test_split (default val) "
        "is predicted and its Frame-mAP printed (RUN/metrics_<split>.json) when the folder has it. Predict with "
        "`wsal predict --run RUN --videos DIR`. Settings: wsal.engine.end_to_end.EndToEndConfig.",
    )
    p.add_argument("--data", type=Path, required=True, help="AVA-layout keyframe folder")
    p.add_argument("--videos", type=Path, required=True, help="folder of <video_id>.<ext> files")
    p.add_argument("--out", type=Path, required=True, help="run folder")
    p.add_argument("--config", type=Path, default=None, help="YAML diff over the defaults")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a setting, e.g. backbone=tiny, steps=100 (repeatable)",
    )  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    p.add_argument(
        "--no-eval", action="store_true",
        help="skip predicting and evaluating test_split (default: val) after training",
    )  # fmt: skip
    p.set_defaults(func=_cmd_train_e2e)


def _cmd_train_e2e(args: argparse.Namespace) -> int:
    from wsal.config import load_config
    from wsal.engine.end_to_end import EndToEndConfig
    from wsal.pipeline import train_and_evaluate_end_to_end

    overrides = [*args.overrides, f"data={args.data}", f"videos={args.videos}"]
    cfg = load_config(EndToEndConfig, args.config, overrides)
    history, result = train_and_evaluate_end_to_end(
        cfg, args.out, resume=args.resume, evaluate=not args.no_eval
    )
    print(f"trained {len(history)} steps; final loss {history[-1]['loss/total']:.4f}; "
          f"wrote {args.out}")  # fmt: skip
    if result is not None:
        print(result.format_table())
    return 0


def _add_localize(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "localize",
        help="localize actions in videos, or re-run post-processing on saved raw scores",
        description="Two modes. `wsal localize VIDEO|FOLDER --run RUN [--out DIR]`: decode, "
        "extract features, predict, localize and write segments (JSON, CSV) and timeline PNGs. "
        "`wsal localize --scores RAW --preset NAME --out FILE`: turn saved raw scores (from "
        "`wsal predict`) into segments with a localizer preset, without the model.",
    )
    p.add_argument("inputs", nargs="*", type=Path, help="video files, folders or .txt lists")
    p.add_argument(
        "--scores", type=Path, default=None, help="raw scores .npz (RUN/raw_<split>.npz)"
    )
    p.add_argument("--preset", default=None, help="localizer preset name (video mode: the run's)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a localizer setting (repeatable; --scores mode)",
    )
    p.add_argument(
        "--run",
        type=Path,
        default=None,
        help="run folder holding run.json (default: the folder of --scores)",
    )
    p.add_argument(
        "--out", type=Path, default=None,
        help="results JSON to write (--scores mode) or output folder (video mode; default: localized)",
    )  # fmt: skip
    p.add_argument("--no-plot", action="store_true", help="video mode: skip the timeline PNGs")
    _add_extractor_args(p, streams_default=None)
    p.set_defaults(func=_cmd_localize)


def _cmd_localize(args: argparse.Namespace) -> int:
    if args.inputs:
        return _cmd_localize_videos(args)
    from wsal.pipeline import localize_to_file

    if args.scores is None or args.preset is None or args.out is None:
        raise WsalError("give VIDEO|FOLDER --run RUN, or --scores RAW --preset NAME --out FILE")
    n = localize_to_file(
        args.scores, args.out, preset=args.preset, overrides=args.overrides, run_dir=args.run
    )
    print(f"wrote {n} segments to {args.out}")
    return 0


def _cmd_localize_videos(args: argparse.Namespace) -> int:
    from wsal.config import load_run_config
    from wsal.extract.decode import Resize
    from wsal.extract.localize_video import localize_videos

    if args.run is None:
        raise WsalError("video mode needs --run RUN (a folder written by `wsal train`)")
    if args.scores is not None or args.overrides:
        raise WsalError("--scores/--set belong to the raw-scores mode; drop the video arguments")
    streams = list(load_run_config(args.run / "config.yaml").data.streams)
    encoders, flow = _encoders(args, streams)
    out = args.out or Path("localized")
    report = localize_videos(
        args.inputs, args.run, out, encoders, preset=args.preset,
        resize=Resize("short_side", args.short_side, min(args.crop or args.short_side, args.short_side)),
        crop=args.crop or None, flow=flow, device=args.device, plot=not args.no_plot,
    )  # fmt: skip
    print(report.summary())
    print(f"wrote results to {out}")
    return 1 if report.failed and not report.segments else 0


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
        help="evaluate the GT videos of this subset (e.g. testing, validation); required when "
        "the GT file holds several subsets",
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

    try:
        thresholds = (
            parse_thresholds(args.tiou) if args.tiou else PRESETS[args.preset or "thumos14"]
        )
    except ValueError as e:
        raise WsalError(f"--tiou: {e}") from None
    # the GT's subset is checked there: none named and several present, or an unknown name,
    # is a one-line ConfigError listing the file's subsets
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


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a temporal run",
        description="One HTML file (no network needed): config, training curves, metrics "
        "tables and plots, DETAD error analysis and a paged list of video timelines.",
    )
    p.add_argument("--run", type=Path, required=True, help="run folder written by `wsal train`")
    p.add_argument("--data", type=Path, default=None, help="dataset folder (default: the run's)")
    p.add_argument(
        "--split", default=None, help="evaluated split (default: the config's test split)"
    )
    p.add_argument("--out", type=Path, default=None, help="HTML file (default: RUN/report.html)")
    p.add_argument(
        "--max-videos", type=int, default=60, help="timelines embedded at most (default: 60)"
    )
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from wsal.viz.report import write_report

    if args.max_videos < 0:
        raise WsalError("--max-videos must be >= 0")
    out = write_report(
        args.run, args.out, data=args.data, split=args.split, max_videos=args.max_videos
    )
    print(f"wrote report to {out}")
    return 0


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plot",
        help="draw one plot: a video timeline, metrics plots, a keyframe or a tube clip",
        description="Individual plots (PNG or SVG by the --out suffix; no suffix: both).",
    )
    kinds = p.add_subparsers(
        dest="kind", required=True, metavar="{timeline,metrics,frame,tubes,tube-errors}"
    )

    t = kinds.add_parser("timeline", help="ground truth, predictions and activations of a video")
    t.add_argument("--run", type=Path, required=True, help="run folder")
    t.add_argument("--data", type=Path, default=None, help="dataset folder (default: the run's)")
    t.add_argument("--split", default=None, help="split (default: the config's test split)")
    t.add_argument("--video", required=True, help="video id")
    t.add_argument(
        "--class", dest="classes", action="append", default=None, metavar="NAME",
        help="class to show (repeatable; default: ground-truth and best predicted classes)",
    )  # fmt: skip
    t.add_argument("--out", type=Path, required=True, help="output .png/.svg (no suffix: both)")
    t.set_defaults(func=_cmd_plot_timeline)

    m = kinds.add_parser("metrics", help="AP bars, PR curves, mAP vs tIoU, training, DETAD")
    m.add_argument("--run", type=Path, required=True, help="run folder")
    m.add_argument("--data", type=Path, default=None, help="dataset folder (default: the run's)")
    m.add_argument("--split", default=None, help="split (default: the config's test split)")
    m.add_argument("--out", type=Path, required=True, help="output folder")
    m.add_argument("--format", choices=["png", "svg"], default="png", help="image format")
    m.set_defaults(func=_cmd_plot_metrics)

    f = kinds.add_parser("frame", help="an AVA keyframe with person boxes and actions")
    f.add_argument("--data", type=Path, required=True, help="AVA-layout keyframe folder")
    f.add_argument("--video", required=True, help="video id")
    f.add_argument("--timestamp", type=int, required=True, help="keyframe second")
    f.add_argument("--split", default=None, help="train or val (default: where the video is)")
    f.add_argument("--detections", type=Path, default=None, help="AVA detection CSV")
    f.add_argument("--no-gt", action="store_true", help="do not draw the ground truth")
    f.add_argument("--video-file", type=Path, default=None, help="draw on this video's frame")
    f.add_argument("--min-score", type=float, default=0.1, help="hide actions scored below")
    f.add_argument("--out", type=Path, required=True, help="output .png/.svg (no suffix: both)")
    f.set_defaults(func=_cmd_plot_frame)

    u = kinds.add_parser("tubes", help="a GIF/MP4 clip of ground-truth and detected tubes")
    u.add_argument("--data", type=Path, required=True, help="tube folder (gt_tubes.json)")
    u.add_argument("--video", required=True, help="video id")
    u.add_argument("--results", type=Path, default=None, help="tube results JSON")
    u.add_argument("--video-file", type=Path, default=None, help="draw on this video's frames")
    u.add_argument("--fps", type=float, default=10.0, help="playback frames per second")
    u.add_argument("--frame-step", type=int, default=1, help="draw every N-th frame")
    u.add_argument("--max-frames", type=int, default=300, help="frames at most")
    u.add_argument("--out", type=Path, required=True, help="output .gif or .mp4")
    u.set_defaults(func=_cmd_plot_tubes)

    e = kinds.add_parser("tube-errors", help="ACT-style error breakdown of detected tubes")
    e.add_argument("--gt", type=Path, required=True, help="gt_tubes.json")
    e.add_argument("--pred", type=Path, required=True, help="tube results JSON")
    e.add_argument("--iou", type=float, default=0.5, help="tube-IoU threshold (default: 0.5)")
    e.add_argument("--out", type=Path, required=True, help="output .png/.svg (no suffix: both)")
    e.set_defaults(func=_cmd_plot_tube_errors)


def _cmd_plot_timeline(args: argparse.Namespace) -> int:
    from wsal.viz.common import save_figure
    from wsal.viz.run import load_run_view
    from wsal.viz.timeline import video_timeline

    view = load_run_view(args.run, data=args.data, split=args.split)
    for path in save_figure(video_timeline(view, args.video, args.classes), args.out):
        print(f"wrote {path}")
    return 0


def _cmd_plot_metrics(args: argparse.Namespace) -> int:
    from wsal.viz.plots import write_metrics_plots

    for path in write_metrics_plots(
        args.run, args.out, data=args.data, split=args.split, fmt=args.format
    ):
        print(f"wrote {path}")
    return 0


def _cmd_plot_frame(args: argparse.Namespace) -> int:
    from wsal.viz.common import save_figure
    from wsal.viz.overlays import keyframe_figure, load_keyframe_data, read_video_frame

    data = load_keyframe_data(
        args.data, args.video, args.timestamp, split=args.split,
        detections=args.detections, with_gt=not args.no_gt,
    )  # fmt: skip
    frame = read_video_frame(args.video_file, args.timestamp) if args.video_file else None
    fig = keyframe_figure(data, frame=frame, min_score=args.min_score)
    for path in save_figure(fig, args.out):
        print(f"wrote {path}")
    return 0


def _cmd_plot_tubes(args: argparse.Namespace) -> int:
    from wsal.io.tubes import read_gt_tubes, read_tube_results
    from wsal.viz.overlays import write_tube_clip

    gt = read_gt_tubes(args.data / "gt_tubes.json")
    dets = read_tube_results(args.results, gt.labels) if args.results else None
    out = write_tube_clip(
        args.out, video=args.video, gt=gt, dets=dets, video_file=args.video_file,
        fps=args.fps, frame_step=args.frame_step, max_frames=args.max_frames,
    )  # fmt: skip
    print(f"wrote {out}")
    return 0


def _cmd_plot_tube_errors(args: argparse.Namespace) -> int:
    from wsal.evaluation.analysis import tube_error_breakdown
    from wsal.io.tubes import read_gt_tubes, read_tube_results
    from wsal.viz.common import save_figure
    from wsal.viz.metrics import tube_errors_figure

    gt = read_gt_tubes(args.gt)
    result = tube_error_breakdown(
        gt, read_tube_results(args.pred, gt.labels), iou_threshold=args.iou
    )
    print(json.dumps(result.to_json()))
    for path in save_figure(tube_errors_figure(result), args.out):
        print(f"wrote {path}")
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
    _add_extract(sub)
    _add_train_e2e(sub)
    _add_evaluate(sub)
    _add_plot(sub)
    _add_report(sub)
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
    finally:
        if "torch.distributed" in sys.modules:  # only a command that trained can hold a group
            from wsal.engine.runtime import shutdown_distributed

            shutdown_distributed()


if __name__ == "__main__":
    sys.exit(main())
