"""Export a LiteCNN student to ONNX (fp32, and int8 with `--int8`), checked on real clips before anything is written.

    python export.py ./student export/ --data_dir CREMA-D/AudioWAV             # export/model.onnx
    python export.py ./student export/ --data_dir CREMA-D/AudioWAV --int8      # + export/model_int8.onnx
    python export.py org/litecnn-cremad export/ --data_dir CREMA-D/AudioWAV --int8

The ONNX model takes `input_values` (batch, samples), both dynamic, normalised as the model's feature extractor
does, and returns `logits` (batch, labels). Its metadata holds the labels, the sampling rate, the normalisation and
the window the model was evaluated with, so `litecnn_ser/onnx_runtime.py` (onnxruntime, numpy, soundfile, soxr: no torch)
needs nothing else. A device classifies one clip or window at a time, so no padding and no attention mask: the
graph is smaller and faster without it; `--attention_mask` adds the mask input for padded batches.

Checks, before writing: onnxruntime against PyTorch on the model's validation clips (`--data_dir`, split as the
model's `training_data` records): the largest absolute logit difference must stay under `--tolerance` and every
argmax must agree. `--int8`: static quantisation (QDQ, per-channel int8 weights, uint8 activations) calibrated on
`--calibration_clips` clips of the model's training split; its validation accuracy must stay within
`--max_accuracy_drop` of fp32 (`--int8_fp32_stem` keeps the convolution that reads the waveform in fp32, for models
whose all-int8 graph falls short). An export that fails a check is not written; the report says why.
`export_report.json` holds every number with the command that produced it.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from litecnn_ser import export as onnx_export
from litecnn_ser.loading import model_error
from litecnn_ser.scoring import model_windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved LiteCNN student folder or a hub repo id")
    parser.add_argument("output_dir", help="where model.onnx (and model_int8.onnx) and export_report.json go")
    parser.add_argument(
        "--data_dir",
        required=True,
        nargs="+",
        help="the folder(s) the model was trained on, as given to training (checks, calibration)",
    )
    parser.add_argument("--int8", action="store_true", help="also write a statically quantised int8 model")
    parser.add_argument("--calibration_clips", type=int, default=300, help="training clips that calibrate int8")
    parser.add_argument("--tolerance", type=float, default=1e-3, help="largest |logit difference| ONNX vs PyTorch")
    parser.add_argument("--max_accuracy_drop", type=float, default=0.01, help="int8 vs fp32 validation accuracy")
    parser.add_argument(
        "--int8_fp32_stem",
        action="store_true",
        help="keep the first convolution (it reads the waveform) in fp32: more accurate, about 3x int8's latency",
    )
    parser.add_argument("--attention_mask", action="store_true", help="add an attention_mask input (padded batches)")
    parser.add_argument("--dataset_cache_dir", help="where the decoded-audio cache lives (default: datasets')")
    args = parser.parse_args(argv)
    command = "python export.py " + shlex.join(sys.argv[1:] if argv is None else argv)

    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    import modeling_litecnn  # noqa: F401  (LiteCNN folders saved without remote code)

    problem = model_error(args.model)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        model = AutoModelForAudioClassification.from_pretrained(args.model, trust_remote_code=True).eval()
        feature_extractor = AutoFeatureExtractor.from_pretrained(args.model)
    except (OSError, ValueError) as error:
        print(f"error: cannot load the model {args.model!r}: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    if model.config.model_type != "litecnn":
        print(f"error: {args.model} is a {model.config.model_type} model; export.py exports LiteCNN", file=sys.stderr)
        return 2
    record = getattr(model.config, "training_data", None) or {}
    window_s = model_windows(record)[0]
    try:
        validation, labels, calibration = onnx_export.load_clips(
            args.data_dir, record, window_s, args.calibration_clips, args.dataset_cache_dir
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: --data_dir {' '.join(args.data_dir)}: {error}", file=sys.stderr)
        return 2

    report = onnx_export.check_and_write(
        model,
        feature_extractor,
        args.model,
        validation,
        labels,
        calibration,
        args.output_dir,
        command,
        int8=args.int8,
        tolerance=args.tolerance,
        max_accuracy_drop=args.max_accuracy_drop,
        int8_fp32_stem=args.int8_fp32_stem,
        attention_mask=args.attention_mask,
    )
    print_report(report)
    if report["failures"]:
        for failure in report["failures"]:
            print(f"error: not written: {failure}", file=sys.stderr)
        return 1
    output = Path(args.output_dir)
    print(f"wrote {', '.join(sorted(os.listdir(output)))} to {output}")
    return 0


def print_report(report: dict) -> None:
    print(f"{report['model']}: {report['validation_clips']} validation clips, windows of {report['window_s']:g} s")
    print(f"  PyTorch  accuracy {report['pytorch_accuracy']:.4f}")
    fp32 = report["fp32"]
    print(
        f"  ONNX fp32 accuracy {fp32['accuracy']:.4f}  {fp32['size_mb']:.2f} MB  max |logit diff| vs PyTorch "
        f"{fp32['max_abs_logit_difference_vs_pytorch']:.2e}  argmax agreement {fp32['argmax_agreement_vs_pytorch']:.1%}"
    )
    if "int8" in report:
        int8 = report["int8"]
        print(
            f"  ONNX int8 accuracy {int8['accuracy']:.4f}  {int8['size_mb']:.2f} MB  argmax agreement vs fp32 "
            f"{int8['argmax_agreement_vs_fp32']:.1%}  max |prob diff| {int8['max_abs_probability_difference_vs_fp32']:.3f}"
            + (f"  fp32 nodes: {', '.join(int8['fp32_nodes'])}" if int8["fp32_nodes"] else "")
        )


if __name__ == "__main__":
    sys.exit(main())
