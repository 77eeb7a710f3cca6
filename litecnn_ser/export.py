"""ONNX export of a LiteCNN student, fp32 and statically quantised int8, checked against PyTorch on real clips
before anything is written: the library behind `export.py` (which documents the checks and the flags).

The files it writes carry their metadata (`FORMAT`, labels, sampling rate, normalisation, windows), so
`litecnn_ser.onnx_runtime` needs nothing else."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from tqdm.auto import tqdm

from data.audio import MIN_DURATION_S, SAMPLING_RATE, crop, load_audio, random_offset
from data.views import View, apply_view
from litecnn_ser.onnx_runtime import FORMAT, NORMALIZATION_EPSILON, OnnxClassifier, normalize, softmax
from litecnn_ser.scoring import config_labels, model_windows
from litecnn_ser.vad import trim_silence

CALIBRATION_WINDOW_S = 1.0
"""Calibration windows share one length: percentile calibration stacks the activations of all of them."""

QUANTIZED_OPS = ["Conv", "Gemm", "MatMul", "Relu", "MaxPool"]
"""Everything between two convolutions stays uint8 (ReLU fuses into the convolution, max-pooling commutes with
quantisation), so no dequantise/quantise pair runs between layers. It needs the pools as 1-D MaxPool nodes
(`one_dimensional_pools`): onnxruntime runs a uint8 1 x k 2-D pool through transposes to NHWC, and that graph
measured 4.0 ms against 0.62 ms with the convolutions alone quantised (2 threads, 1 s, batch 1);
with 1-D pools, 0.33 ms."""


class _MaxPool1dAs2d(nn.Module):
    """`nn.MaxPool1d` as a 2-D pool over a height of 1: the same numbers.

    torch 2.13's `torch.export` specialises the time dimension at every `aten.max_pool1d` (the length is guarded
    to the example's), so the dynamo exporter would produce a fixed-length graph; `max_pool2d` keeps it symbolic."""

    def __init__(self, pool: nn.MaxPool1d):
        super().__init__()
        self.kernel_size, self.stride = _single(pool.kernel_size), _single(pool.stride)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return nn.functional.max_pool2d(hidden[:, :, None, :], (1, self.kernel_size), (1, self.stride))[:, :, 0, :]


def _single(value) -> int:
    return value[0] if isinstance(value, tuple) else value


class _Logits(nn.Module):
    """The classifier as a plain function of tensors: (input_values[, attention_mask]) -> logits."""

    def __init__(self, model: nn.Module, attention_mask: bool):
        super().__init__()
        self.model, self.attention_mask = model, attention_mask

    def forward(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_values, attention_mask=attention_mask if self.attention_mask else None).logits


def exportable(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode whose max-pools the dynamo exporter keeps dynamic (see `_MaxPool1dAs2d`)."""
    import copy

    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.MaxPool1d):
                setattr(module, name, _MaxPool1dAs2d(child))
    return model


def export_onnx(model: nn.Module, path: Path, metadata: dict[str, str], attention_mask: bool = False) -> None:
    """fp32 ONNX with dynamic batch and length, weights inside the file, `metadata` as the model's properties."""
    wrapper = _Logits(exportable(model), attention_mask)
    example = torch.randn(2, SAMPLING_RATE)
    batch = torch.export.Dim("batch")
    samples = torch.export.Dim("samples", min=int(MIN_DURATION_S * SAMPLING_RATE))
    inputs, shapes, names = (example,), {"input_values": {0: batch, 1: samples}}, ["input_values"]
    if attention_mask:
        inputs += (torch.ones_like(example, dtype=torch.long),)
        shapes["attention_mask"] = {0: batch, 1: samples}
        names.append("attention_mask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and its own deprecations
        torch.onnx.export(
            wrapper,
            inputs,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_shapes=shapes,
            dynamo=True,
            optimize=True,
            external_data=False,
            verbose=False,
        )
    model = onnx.load(str(path))
    one_dimensional_pools(model)
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, str(path))


def set_metadata(path: Path, metadata: dict[str, str]) -> None:
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, metadata)
    onnx.save(model, str(path))


def graph_links(graph: onnx.GraphProto) -> tuple[dict[str, onnx.NodeProto], dict[str, list[onnx.NodeProto]]]:
    """Each tensor's producing node, and the nodes that consume it (by tensor name)."""
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return producers, consumers


def one_dimensional_pools(model: onnx.ModelProto) -> int:
    """Rewrites each Unsqueeze(axis 2) -> MaxPool(1 x k) -> Gather(axis 2, index 0) of `_MaxPool1dAs2d` back into
    one 1-D MaxPool, in place; returns how many. Fewer nodes: at LiteCNN's sub-millisecond latency every node
    costs (and an int8 graph would wrap each in quantise/dequantise pairs). The export check then compares the
    rewritten graph with PyTorch like any other."""
    graph, constants = model.graph, {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}
    producers, consumers = graph_links(graph)
    attribute = onnx.helper.get_attribute_value
    removed, rewritten = set(), 0
    for pool in [node for node in graph.node if node.op_type == "MaxPool"]:
        attributes = {a.name: attribute(a) for a in pool.attribute}
        unsqueeze, users = producers.get(pool.input[0]), consumers.get(pool.output[0], [])
        if (
            unsqueeze is None
            or unsqueeze.op_type != "Unsqueeze"
            or constants.get(unsqueeze.input[1], np.array([])).tolist() != [2]
            or len(users) != 1
            or users[0].op_type != "Gather"
            or {a.name: attribute(a) for a in users[0].attribute}.get("axis") != 2
            or constants.get(users[0].input[1], np.array([1])).tolist() != 0
            or attributes["kernel_shape"][0] != 1
            or attributes["strides"][0] != 1
            or any(attributes.get("pads", [0]))
            or attributes.get("ceil_mode", 0)
            or len(consumers.get(unsqueeze.output[0], [])) != 1
        ):
            continue
        gather = users[0]
        pool_1d = onnx.helper.make_node(
            "MaxPool",
            [unsqueeze.input[0]],
            [gather.output[0]],
            name=pool.name,
            kernel_shape=[attributes["kernel_shape"][1]],
            strides=[attributes["strides"][1]],
        )
        graph.node.insert(list(graph.node).index(pool), pool_1d)
        removed.update(id(node) for node in (unsqueeze, pool, gather))
        rewritten += 1
    kept = [node for node in graph.node if id(node) not in removed]
    del graph.node[:]
    graph.node.extend(kept)
    return rewritten


def quantize_int8(
    fp32: Path, int8: Path, calibration: list[np.ndarray], metadata: dict[str, str], fp32_stem: bool = False
) -> list[str]:
    """Static QDQ quantisation, per-channel int8 weights, uint8 activations, calibrated on `calibration`; returns
    the names of the quantisable nodes left in fp32.

    Percentile calibration (99.999th of |activation|), not MinMax: a normalised waveform has rare large peaks, and
    ranges set by them waste the 256 levels. On the seed-42 speaker-split student (820 validation clips) MinMax
    lost 2.2 points of accuracy and agreed with fp32 on 73% of clips; percentile lost 1.0 and agreed on 96%.

    `fp32_stem` keeps the first convolution, the one that reads the waveform, in fp32 (its input is then never
    rounded to 256 levels). Measured on a 7-block student (`configs/student_recipe_deep.json`, from scratch,
    seed 2, 820 validation clips): all-int8 lost 1.6 points against fp32 (0.520 vs 0.535, 94.1% argmax agreement),
    with the stem in fp32 0.1 (0.534, 96.8%), at the same size (1.22 MB) and about 3x the int8 latency (1.9 ms
    against 0.6 ms for 1 s on 2 threads beside a training run; fp32 5.9 ms). Leaving the classifier in fp32 instead
    did not help (0.520)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.clips = iter(calibration)

        def get_next(self):
            clip = next(self.clips, None)
            return None if clip is None else {"input_values": clip[None, :]}

    with tempfile.TemporaryDirectory() as folder:
        prepared = Path(folder) / "prepared.onnx"
        # onnxruntime's recommended pre-processing (graph optimisation, shape inference); its symbolic shape
        # inference does not follow the pooled lengths, and the dynamo export already carries the shapes.
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        excluded = [first_convolution(onnx.load(str(prepared)))] if fp32_stem else []
        quantize_static(
            str(prepared),
            str(int8),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=QUANTIZED_OPS,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=excluded,
        )
    set_metadata(int8, metadata)
    return excluded


def first_convolution(model: onnx.ModelProto) -> str:
    """The name of the Conv node that reads the graph's waveform input (through any ops in between)."""
    _, consumers = graph_links(model.graph)
    frontier, seen = [model.graph.input[0].name], set()
    while frontier:  # breadth first from the input: the nearest Conv
        for node in consumers.get(frontier.pop(0), []):
            if node.op_type == "Conv":
                return node.name
            if node.name not in seen:
                seen.add(node.name)
                frontier.extend(node.output)
    raise ValueError("the graph has no convolution reachable from its input")


def export_metadata(model, feature_extractor, model_id: str) -> dict[str, str]:
    config = model.config
    window_s, stream_window_s = model_windows(getattr(config, "training_data", None))
    return {
        "format": FORMAT,
        "labels": json.dumps(config_labels(config)),
        "sampling_rate": str(feature_extractor.sampling_rate),
        "do_normalize": "true" if getattr(feature_extractor, "do_normalize", False) else "false",
        "normalization": f"(x - mean(x)) / sqrt(var(x) + {NORMALIZATION_EPSILON:g}) per clip or window",
        "window_s": f"{window_s:g}",
        "stream_window_s": f"{stream_window_s:g}",
        "trim_silence": "true" if (getattr(config, "training_data", None) or {}).get("trim_silence") else "false",
        "source": model_id,
        "training_data": json.dumps(getattr(config, "training_data", None) or {}),
    }


def load_clips(data_dir: list[str], record: dict, window_s: float, calibration_clips: int, cache_dir: str | None):
    """(validation clips, their labels, calibration windows), 16 kHz float32: validation clips as the model was
    evaluated, calibration windows of `CALIBRATION_WINDOW_S` at a random offset in random training clips."""
    from data.sources import load_sources
    from litecnn_ser.splits import split_mix

    corpus, _ = load_sources(data_dir, cache_dir)
    if not record.get("split"):
        raise SystemExit("error: the model does not record the split it was trained on (`training_data`)")
    # a model trained on a mix with --validation_corpus: its validation clips are that corpus's split
    within = record.get("validation_corpus") if "corpus" in corpus.column_names else None
    splits = split_mix(corpus, record["split"], record["test_size"], record["seed"], within)
    view = View(1.0, 0.0, window_s)

    def clips(dataset) -> list[np.ndarray]:
        audios = dataset.with_format(None)["audio"]
        decoded = (load_audio(audio) for audio in tqdm(audios, desc="decoding", unit="clip"))
        return [apply_view(trim_silence(clip) if record.get("trim_silence") else clip, view) for clip in decoded]

    train, rng = splits["train"], np.random.default_rng(0)
    chosen = rng.choice(len(train), size=min(calibration_clips, len(train)), replace=False)
    length = int(CALIBRATION_WINDOW_S * SAMPLING_RATE)
    calibration = [
        crop(clip, length, random_offset(clip.size, length, rng))
        for clip in clips(train.select(sorted(chosen.tolist())))
        if clip.size >= length  # a shorter clip cannot give a window of the common length
    ]
    validation = splits["validation"]
    return clips(validation), np.asarray(validation["label"]), calibration


@torch.no_grad()
def torch_logits(model, feature_extractor, clips: list[np.ndarray]) -> np.ndarray:
    """PyTorch's logits, one clip at a time, through the model's own feature extractor (as `predict.py`)."""
    logits = []
    for clip in clips:
        features = feature_extractor(clip, sampling_rate=SAMPLING_RATE, return_tensors="pt")
        logits.append(model(features["input_values"]).logits.numpy())
    return np.concatenate(logits)


def onnx_logits(classifier: OnnxClassifier, clips: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([classifier.logits(normalize(clip)[None]) for clip in clips])


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(-1) == labels).mean())


def check_and_write(
    model,
    feature_extractor,
    model_id: str,
    validation: list[np.ndarray],
    labels: np.ndarray,
    calibration: list[np.ndarray],
    output_dir: str | Path,
    command: str,
    int8: bool = False,
    tolerance: float = 1e-3,
    max_accuracy_drop: float = 0.01,
    int8_fp32_stem: bool = False,
    attention_mask: bool = False,
) -> dict:
    """Exports `model` (and its int8 twin with `int8`) to a temporary folder, checks it on the validation clips, and
    moves the files and `export_report.json` to `output_dir` only when every check passes. The report: every number,
    and `failures` (why nothing was written; empty when written)."""
    window_s = model_windows(getattr(model.config, "training_data", None) or {})[0]
    metadata = export_metadata(model, feature_extractor, model_id)
    report = {"command": command, "model": model_id, "window_s": window_s, "validation_clips": len(validation)}
    reference = torch_logits(model, feature_extractor, validation)
    report["pytorch_accuracy"] = accuracy(reference, labels)
    output = Path(output_dir)
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder)
        start = time.perf_counter()
        export_onnx(model, staged / "model.onnx", metadata, attention_mask)
        fp32 = onnx_logits(OnnxClassifier(staged / "model.onnx"), validation)
        report["fp32"] = {
            "seconds": round(time.perf_counter() - start, 1),
            "size_mb": (staged / "model.onnx").stat().st_size / 1e6,
            "max_abs_logit_difference_vs_pytorch": float(np.abs(fp32 - reference).max()),
            "argmax_agreement_vs_pytorch": float((fp32.argmax(-1) == reference.argmax(-1)).mean()),
            "accuracy": accuracy(fp32, labels),
        }
        failures = []
        if report["fp32"]["max_abs_logit_difference_vs_pytorch"] > tolerance:
            failures.append(
                f"fp32 logits differ from PyTorch by up to {report['fp32']['max_abs_logit_difference_vs_pytorch']:.2e} (> --tolerance {tolerance:g})"
            )
        if report["fp32"]["argmax_agreement_vs_pytorch"] < 1.0:
            failures.append(
                f"fp32 argmax agrees with PyTorch on {report['fp32']['argmax_agreement_vs_pytorch']:.1%} of clips only"
            )
        if int8 and not failures:
            start = time.perf_counter()
            fp32_nodes = quantize_int8(
                staged / "model.onnx",
                staged / "model_int8.onnx",
                [normalize(c) for c in calibration],
                metadata,
                fp32_stem=int8_fp32_stem,
            )
            int8_logits = onnx_logits(OnnxClassifier(staged / "model_int8.onnx"), validation)
            report["int8"] = {
                "seconds": round(time.perf_counter() - start, 1),
                "calibration_clips": len(calibration),
                "fp32_nodes": fp32_nodes,
                "size_mb": (staged / "model_int8.onnx").stat().st_size / 1e6,
                "max_abs_probability_difference_vs_fp32": float(np.abs(softmax(int8_logits) - softmax(fp32)).max()),
                "argmax_agreement_vs_fp32": float((int8_logits.argmax(-1) == fp32.argmax(-1)).mean()),
                "accuracy": accuracy(int8_logits, labels),
            }
            drop = report["fp32"]["accuracy"] - report["int8"]["accuracy"]
            if drop > max_accuracy_drop:
                hint = "" if int8_fp32_stem else "; --int8_fp32_stem keeps the stem in fp32, which can recover it"
                failures.append(
                    f"int8 accuracy {report['int8']['accuracy']:.3f} is {drop:.3f} below fp32 (> --max_accuracy_drop {max_accuracy_drop:g}){hint}"
                )
        report["failures"] = failures
        if failures:
            return report
        output.mkdir(parents=True, exist_ok=True)
        for name in ("model.onnx", "model_int8.onnx"):
            if (staged / name).exists():
                shutil.move(staged / name, output / name)
    (output / "export_report.json").write_text(json.dumps(report, indent=1))
    return report
