"""Size, compute and speed of LiteCNN against wav2vec2 teachers, in one process, on the CPU.

    python bench.py                 # the table, and experiments/results/bench.json
    python bench.py --runs 20       # quicker, noisier

For each model: parameters, fp32 safetensors size on disk, multiply-accumulates (MACs) per second of audio,
batch-1 latency on a 1 s clip (median and p90 over `--runs` runs after warm-up) and batched throughput (clips/s),
with `--threads` torch threads (2 by default: the target phone-class CPU budget). The teachers have random
weights built from the wav2vec2-base and wav2vec2-large-lv60 configurations: speed does not depend on the
weights. LiteCNN also runs exported by `export.py` to ONNX, fp32 (its outputs checked against PyTorch's) and
int8 (static QDQ quantisation), in onnxruntime.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

from configuration_litecnn import LiteCNNConfig
from data.audio import SAMPLING_RATE
from modeling_litecnn import LiteCNNForAudioClassification

# The architectures of facebook/wav2vec2-base and facebook/wav2vec2-large-960h-lv60-self (their config.json).
CONFIGS = Path(__file__).resolve().parent / "configs"
TEACHERS = {
    "wav2vec2-base (teacher)": CONFIGS / "wav2vec2_base.json",
    "wav2vec2-large-lv60 (paper's teacher)": CONFIGS / "wav2vec2_large_lv60.json",
}

PAPER_PARAMETERS = 1_080_000


def litecnn_of_paper_size(**overrides) -> LiteCNNForAudioClassification:
    """A LiteCNN variant whose classifier hidden layer is sized so that the whole model has the paper's 1.08M."""
    probe = LiteCNNForAudioClassification(LiteCNNConfig(classifier_hidden_size=1, **overrides))
    config = probe.config
    fixed = probe.num_parameters() - (config.hidden_size + 1 + config.num_labels)  # all but the hidden layer
    hidden = round((PAPER_PARAMETERS - fixed - config.num_labels) / (config.hidden_size + 1 + config.num_labels))
    return LiteCNNForAudioClassification(LiteCNNConfig(classifier_hidden_size=hidden, **overrides))


# Same parameter count, other layouts: why the default widths and the stem pool (configuration_litecnn.py).
DEEP_RECIPE = json.loads((CONFIGS / "student_recipe_deep.json").read_text())
VARIANTS = {
    "LiteCNN 32-64-128-256, no stem pool (paper's layout)": {"stem_pool": 1},
    "LiteCNN 64-128-256-512 (wide)": {"stem_channels": 64, "block_channels": [128, 256, 512]},
    "LiteCNN 7 blocks, mean+std pooling (configs/student_recipe_deep.json)": {
        key: DEEP_RECIPE[key] for key in ("block_channels", "pooling")
    },
}


def count_macs(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[int, dict[str, int]]:
    """Total MACs of one forward pass (FLOPs / 2, counted by PyTorch), and per top-level layer."""
    counter = FlopCounterMode(display=False, depth=None)
    with torch.no_grad(), counter:
        model(inputs)
    per_module = {name: sum(counts.values()) // 2 for name, counts in counter.get_flop_counts().items()}
    return counter.get_total_flops() // 2, per_module


def latency_ms(forward, runs: int, warmup: int = 10) -> tuple[float, float]:
    for _ in range(warmup):
        forward()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        forward()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.percentile(times, 90))


def throughput(forward, batch: int, seconds: float = 3.0) -> float:
    forward()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        forward()
        done += batch
    return done / (time.perf_counter() - start)


def disk_mb(model: torch.nn.Module) -> float:
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        return (Path(folder) / "model.safetensors").stat().st_size / 1e6


def bench_torch(name: str, model: torch.nn.Module, runs: int, batch: int) -> dict:
    model.eval()
    one = torch.randn(1, SAMPLING_RATE)
    many = torch.randn(batch, SAMPLING_RATE)
    macs, per_module = count_macs(model, one)
    with torch.inference_mode():
        median, p90 = latency_ms(lambda: model(one), runs)
        clips_per_s = throughput(lambda: model(many), batch)
    return {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "disk_mb": disk_mb(model),
        "macs_per_s_audio": macs,
        "latency_ms_median": median,
        "latency_ms_p90": p90,
        "throughput_clips_per_s": clips_per_s,
        "batch": batch,
        "macs_per_layer": per_module,
    }


def bench_onnx(
    model: LiteCNNForAudioClassification, runs: int, batch: int, threads: int, int8: bool = True
) -> list[dict]:
    """LiteCNN exported by `export.py` (fp32, and int8 when `int8`) in onnxruntime: one row each.

    The int8 model here is calibrated on noise (the weights are random too): its speed and size are those of a
    real export, its accuracy is measured by `export.py` on real clips."""
    import onnxruntime

    from litecnn_ser.export import export_onnx, quantize_int8
    from litecnn_ser.onnx_runtime import session_for

    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, SAMPLING_RATE)).astype(np.float32)
    many = rng.standard_normal((batch, SAMPLING_RATE)).astype(np.float32)
    with torch.no_grad():
        reference = model.eval()(torch.from_numpy(many)).logits.numpy()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "model.onnx"
        export_onnx(model, fp32, {})
        paths = {"LiteCNN (ONNX Runtime, fp32)": fp32}
        if int8:
            calibration = [rng.standard_normal(SAMPLING_RATE).astype(np.float32) for _ in range(16)]
            quantize_int8(fp32, Path(folder) / "model_int8.onnx", calibration, {})
            paths["LiteCNN (ONNX Runtime, int8)"] = Path(folder) / "model_int8.onnx"
        for name, path in paths.items():
            session: onnxruntime.InferenceSession = session_for(path, threads)
            logits = session.run(None, {"input_values": many})[0]
            max_error = float(np.abs(logits - reference).max())
            if name.endswith("fp32") and max_error > 1e-3:
                raise RuntimeError(f"ONNX and PyTorch disagree: max |difference| of logits {max_error:.2e}")
            row = onnx_row(name, path, session, one, many, runs)
            rows.append(
                {**row, "parameters": sum(p.numel() for p in model.parameters()), "max_abs_diff_vs_torch": max_error}
            )
    return rows


def onnx_row(name: str, path: Path, session, one: np.ndarray, many: np.ndarray, runs: int) -> dict:
    """One graph's row: size on disk, batch-1 latency and batched throughput in onnxruntime."""
    median, p90 = latency_ms(lambda: session.run(None, {"input_values": one}), runs)
    return {
        "model": name,
        "parameters": None,
        "disk_mb": path.stat().st_size / 1e6,
        "macs_per_s_audio": None,
        "latency_ms_median": median,
        "latency_ms_p90": p90,
        "throughput_clips_per_s": throughput(lambda: session.run(None, {"input_values": many}), len(many)),
        "batch": len(many),
    }


def bench_graphs(name: str, graphs: dict[str, Path], runs: int, batch: int, threads: int) -> list[dict]:
    """A trained model's own exports (`export.py`: fp32 and int8) in onnxruntime, one row each."""
    from litecnn_ser.onnx_runtime import session_for

    rng = np.random.default_rng(0)
    one = rng.standard_normal((1, SAMPLING_RATE)).astype(np.float32)
    many = rng.standard_normal((batch, SAMPLING_RATE)).astype(np.float32)
    sessions = {kind: (path, session_for(path, threads)) for kind, path in graphs.items()}
    return [
        onnx_row(f"{name} (ONNX Runtime, {kind})", path, session, one, many, runs)
        for kind, (path, session) in sessions.items()
    ]


def model_graphs(model: Path, onnx_dir: Path | None) -> dict[str, Path]:
    """The fp32 and int8 graphs of a model folder (its `onnx/`, as hub repos lay them out, or `--onnx_dir`)."""
    folder = onnx_dir or model / "onnx"
    graphs = {"fp32": folder / "model.onnx", "int8": folder / "model_int8.onnx"}
    missing = [str(path) for path in graphs.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"error: --model {model}: no {', '.join(missing)} (export it: export.py MODEL DIR --int8)")
    return graphs


def table(rows: list[dict], reference: dict) -> str:
    lines = [
        "| model | parameters | disk (MB) | MACs / s audio | latency 1 s, batch 1 (ms): median / p90 | throughput (clips/s) | speed-up vs wav2vec2-base |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        macs = f"{row['macs_per_s_audio'] / 1e6:,.0f}M" if row["macs_per_s_audio"] else "same as above"
        parameters = f"{row['parameters'] / 1e6:.2f}M" if row["parameters"] else "same as above"
        lines.append(
            f"| {row['model']} | {parameters} | {row['disk_mb']:.1f} | {macs} | "
            f"{row['latency_ms_median']:.2f} / {row['latency_ms_p90']:.2f} | {row['throughput_clips_per_s']:,.0f} | "
            f"{reference['latency_ms_median'] / row['latency_ms_median']:.1f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads")
    parser.add_argument("--runs", type=int, default=50, help="timed batch-1 runs per model (after 10 warm-up runs)")
    parser.add_argument("--batch", type=int, default=32, help="batch size of the throughput measurement")
    parser.add_argument("--no_large", action="store_true", help="skip the 315M-parameter wav2vec2-large")
    parser.add_argument("--variants", action="store_true", help="also time LiteCNN layouts of the same size")
    parser.add_argument(
        "--model",
        type=Path,
        help="a trained LiteCNN folder (e.g. models/litecnn-ser): time it and its own ONNX graphs (its onnx/ folder, "
        "or --onnx_dir) instead of the paper's layout with random weights",
    )
    parser.add_argument("--onnx_dir", type=Path, help="where --model's model.onnx and model_int8.onnx are")
    parser.add_argument("--output", default="experiments/results/bench.json", help="where the JSON goes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    if args.model:
        graphs = model_graphs(args.model, args.onnx_dir)
        student = f"LiteCNN `{args.model.name}`"
        litecnn = LiteCNNForAudioClassification.from_pretrained(args.model)
        rows = [
            bench_torch(f"{student} (PyTorch)", litecnn, args.runs, args.batch),
            *bench_graphs(student, graphs, args.runs, args.batch, args.threads),
        ]
    else:
        student = "LiteCNN"
        litecnn = LiteCNNForAudioClassification(LiteCNNConfig())
        rows = [
            bench_torch("LiteCNN (PyTorch)", litecnn, args.runs, args.batch),
            *bench_onnx(litecnn, args.runs, args.batch, args.threads),
        ]
    for name, config_file in list(TEACHERS.items())[: 1 if args.no_large else 2]:
        teacher = Wav2Vec2ForSequenceClassification(Wav2Vec2Config.from_pretrained(config_file, num_labels=6))
        rows.append(bench_torch(name, teacher, max(10, args.runs // 5), max(1, args.batch // 4)))
        del teacher
    if args.variants:
        for name, overrides in VARIANTS.items():
            rows.append(bench_torch(name, litecnn_of_paper_size(**overrides), args.runs, args.batch))
    reference = next(row for row in rows if row["model"].startswith("wav2vec2-base"))
    by_name = {row["model"]: row for row in rows}
    fp32, int8 = by_name[f"{student} (ONNX Runtime, fp32)"], by_name[f"{student} (ONNX Runtime, int8)"]
    machine = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": args.threads}
    result = {
        "command": "python bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": str(args.model) if args.model else "the paper's layout, random weights",
        "machine": machine,
        # what a model card quotes: a 1 s window, batch 1, median of --runs
        "release": {
            "machine": f"{machine['cpu']}, {machine['cores']} cores",
            "threads": args.threads,
            "runs": args.runs,
            "window_s": 1.0,
            "fp32_ms": fp32["latency_ms_median"],
            "int8_ms": int8["latency_ms_median"],
            "wav2vec2_base_ms": reference["latency_ms_median"],
        },
        "torch": torch.__version__,
        "rows": rows,
        "speedup_vs_wav2vec2_base": reference["latency_ms_median"] / rows[0]["latency_ms_median"],
        "int8_vs_fp32_onnx": {
            "speedup": fp32["latency_ms_median"] / int8["latency_ms_median"],
            "smaller": fp32["disk_mb"] / int8["disk_mb"],
            "int8_speedup_vs_wav2vec2_base": reference["latency_ms_median"] / int8["latency_ms_median"],
        },
    }
    print(table(rows, reference))
    ratios = result["int8_vs_fp32_onnx"]
    print(
        f"\nint8 vs fp32 ONNX: {ratios['speedup']:.2f}x faster, {ratios['smaller']:.2f}x smaller; "
        f"int8 vs wav2vec2-base: {ratios['int8_speedup_vs_wav2vec2_base']:.0f}x faster"
    )
    print("\nLiteCNN MACs per layer for 1 s of audio:")
    for layer, macs in rows[0]["macs_per_layer"].items():
        if layer.count(".") in (2, 3) or layer.endswith("classifier"):
            print(f"  {layer.removeprefix('LiteCNNForAudioClassification.'):<24} {macs / 1e6:8.2f}M")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
