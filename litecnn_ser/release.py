"""The shipped model's folder, as a hub repo lays it out, and its model card, from a trained student and its checks.

    python -m litecnn_ser.release runs/model/student models/litecnn-ser --export runs/model/export \
        --eval cremad=runs/model/eval/cremad savee=runs/model/eval/savee tess=runs/model/eval/tess \
        --bench runs/model/bench.json --command "make model"
    # a student trained on a mix: its own corpora are not scored as unseen (refused), its recipe's
    # leave-one-corpus-out rows go on the card instead
    python -m litecnn_ser.release runs/model/student models/litecnn-ser --export runs/model/export \
        --eval cremad=runs/model/eval/cremad --recipe configs/RECIPE.json --loco experiments/results/loco_NAME

The folder: `config.json`, `model.safetensors`, `preprocessor_config.json`, the remote-code files
(`configuration_litecnn.py`, `modeling_litecnn.py`), `README.md` (the card) and `onnx/` (`model.onnx`,
`model_int8.onnx`, `export_report.json`). Every number on the card is read from the files the build wrote: the
validation scores from `eval.py --output_dir` (one clip and speaker-adapted), the int8 graph's accuracy from the
export report, its speed from `bench.py --model`. `card_numbers()` reads them back, so a test can recompute them.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml
from safetensors import safe_open

from litecnn_ser.metrics import mean_sd
from litecnn_ser.model_card import (
    CORPORA,
    HUMAN_VOICE_ONLY,
    PAPER,
    _data_source,
    _milliseconds,
    _sources,
    _windows,
    describe_training,
)

MODEL_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")
REMOTE_CODE = ("configuration_litecnn.py", "modeling_litecnn.py")
ONNX_FILES = ("model.onnx", "model_int8.onnx", "export_report.json")
LICENCES = {  # corpus -> its licence, as its distributors state it
    "cremad": (
        "CREMA-D: Open Database License (ODbL 1.0), contents under the Database Contents License (DbCL 1.0), "
        "https://github.com/CheyneyComputerScience/CREMA-D"
    ),
    "savee": "SAVEE: distributed by the University of Surrey for research; read its terms before any other use",
    "tess": "TESS: distributed by the University of Toronto (TSpace); read its terms before any other use",
}
HUB_DATASETS = {"cremad": "crema-d", "savee": "savee", "tess": "tess", "ravdess": "ravdess"}
INT8_ROW = "int8 ONNX graph (onnx/model_int8.onnx)"
"""The card's row of the int8 graph's validation accuracy: `card_numbers` finds it by this name."""


class ReleaseError(ValueError):
    pass


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise ReleaseError(f"{path}: no such file (run the step that writes it first)")
    return json.loads(path.read_text())


def _percent(value: float) -> str:
    return f"{value:.3f}"


def _recalls(metrics: dict) -> dict[str, float]:
    return {key.removeprefix("recall_"): value for key, value in metrics.items() if key.startswith("recall_")}


def trained_corpora(config: dict) -> list[str]:
    """The corpora the model heard in training (CREMA-D alone for a model that records no sources)."""
    return [source["corpus"] for source in _sources(config.get("training_data") or {})]


def cross_corpus_rows(evaluations: dict[str, dict]) -> list[str]:
    rows = []
    for name, result in evaluations.items():
        if name == "cremad":
            continue
        described, _ = CORPORA.get(name, (name, None))
        one = result["metrics"]
        rows.append(
            f"| {described} | {one['num_clips']} | {_percent(one['accuracy'])} / {_percent(one['uar'])} "
            f"| {_accuracy(result.get('recording_adapted'))} | {_accuracy(result.get('speaker_adapted'))} |"
        )
    return rows


SEED_SUFFIX = re.compile(r"_seed\d+$")
"""`loco_NAME_seedN` beside `loco_NAME`: the same recipe, its command with another `--seed`."""


def training_seed(row: dict) -> int | None:
    """The seed a protocol row's own training command used (its last `--seed`), or None."""
    command = row.get("train_command", "").split()
    seeds = [command[i + 1] for i, word in enumerate(command[:-1]) if word == "--seed"]
    return int(seeds[-1]) if seeds else None


def _loco_rows(folder: Path) -> list[dict]:
    rows = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    # the `none` fold scores CREMA-D's validation actors of a model that heard the other corpora: not a corpus left out
    return [row for row in rows if "scored_on" in row and "one_clip" in row and row.get("fold") != "none"]


def read_loco(folder: Path) -> tuple[str, list[dict]]:
    """(the folder's name, its rows) of a leave-one-corpus-out run (`experiments/cross_corpus/loco.py`'s
    `experiments/results/loco_NAME/FOLD.json`); a clear error when it holds none. Each row's `seeds` lists (seed,
    one-clip accuracy) of its fold in this folder and in the recipe's reruns with other seeds beside it
    (`loco_NAME_seedN`)."""
    rows = _loco_rows(folder)
    if not rows:
        raise ReleaseError(f"--loco {folder}: no leave-one-corpus-out rows (FOLD.json files written by loco.py)")
    reruns = [
        rerun
        for path in sorted(folder.parent.glob(f"{folder.name}_seed*"))
        if SEED_SUFFIX.sub("", path.name) == folder.name
        for rerun in _loco_rows(path)
    ]
    for row in rows:
        runs = [row] + [rerun for rerun in reruns if rerun.get("fold") == row.get("fold")]
        row["seeds"] = [(training_seed(run), run["one_clip"]["accuracy"]) for run in runs]
    return folder.name, rows


def _name(corpus: str) -> str:
    return CORPORA.get(corpus, (corpus,))[0].split(" (")[0]


def _accuracy(scores: dict | None) -> str:
    return _percent(scores["accuracy"]) if scores else "n/a"


def _over_seeds(seeds: list[tuple[int | None, float]]) -> str:
    if len(seeds) < 2:
        return "one seed"
    names = ", ".join("?" if seed is None else str(seed) for seed, _ in seeds)
    return f"{mean_sd([accuracy for _, accuracy in seeds])} (seeds {names})"


RARELY_SAID = 0.10
"""An emotion whose one-clip recall on a corpus left out is below this is one the model (almost) never says there."""


def _rarely_said(one_clip: dict) -> str:
    """The emotions a row's model recalls below RARELY_SAID on the corpus left out; "not kept" for rows scored
    before loco.py kept each emotion's recall."""
    recall = one_clip.get("recall")
    if recall is None:
        return "not kept"
    return ", ".join(name for name, value in recall.items() if value < RARELY_SAID) or "none"


def loco_rows(rows: list[dict]) -> list[str]:
    lines = []
    for row in rows:
        one = row["one_clip"]
        lines.append(
            f"| {_name(row['scored_on'])} | {' + '.join(map(_name, row['trained_on']))} | {one['num_clips']} "
            f"| {_percent(one['accuracy'])} / {_percent(one['uar'])} "
            f"| {_accuracy(row.get('recording_adapted'))} | {_accuracy(row.get('speaker_adapted'))} "
            f"| {_over_seeds(row.get('seeds', []))} | {_rarely_said(one)} |"
        )
    return lines


def _other_corpora(
    evaluations: dict[str, dict], heard: list[str], labels: list[str], loco: tuple[str, list[dict]] | None = None
) -> str:
    """The card's section on corpora it never heard; a mix's own corpora are named, never scored as unseen, and
    its recipe's leave-one-corpus-out rows (`loco`) say how it does on a corpus left out of its training."""
    chance = 1 / len(labels)
    others = [_name(name) for name in heard if name != "cremad"]
    mix = ""
    if others:
        mix = (
            f" {' and '.join(others)} {'were' if len(others) > 1 else 'was'} in its training mix, so this model has "
            "no never-heard number for them; the project's leave-one-corpus-out protocol "
            "(`experiments/cross_corpus/loco.py`) trains its recipe without the corpus it scores."
        )
    if loco:
        name, rows = loco
        mix += f"""

Its recipe under that protocol (`experiments/results/{name}/`, each row's training command in its file, the
model's own seed; "one clip over seeds": one-clip accuracy, mean ± sd over the recipe's runs with other seeds too,
`experiments/results/{name}_seedN/`; the last column: the emotions it recalls below {RARELY_SAID:.2f} there, from one
clip: on a corpus it never heard, its answers gather on a few emotions, which centring or speaker adaptation partly undo):

| left out | trained on | clips | one clip: accuracy / UAR | centred over the corpus: accuracy | speaker-adapted accuracy | one clip over seeds | emotions it (almost) never says |
|---|---|---:|---:|---:|---:|---:|---|
{chr(10).join(loco_rows(rows))}"""
    rows = cross_corpus_rows(evaluations)
    if not rows:
        return f"No corpus outside its training data was scored.{mix}"
    one_clip = [result["metrics"]["accuracy"] for name, result in evaluations.items() if name != "cremad"]
    verdict = ""
    if max(one_clip) < 2 * chance:
        verdict = (
            " **This model does not travel well**: it learnt its training data's recording conditions as much as "
            "emotion, and from one clip it is little better than chance on corpora it never heard."
        )
    return f"""| corpus | clips | one clip: accuracy / UAR | centred over the corpus: accuracy | speaker-adapted accuracy |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}

{len(labels)} emotions, so chance is about {chance:.2f}. Centred over the corpus: each clip's log-probabilities minus
their mean over all the corpus's clips (`--adapt_recording` of `predict.py` and the ONNX runtime): it uses the other
clips of the same recording setup, no label and no speaker, so it is not a one-clip number; on a setup the model was
trained on it costs accuracy.{verdict}{mix}"""


def _frame(config: dict) -> str:
    """What one output frame hears ("259 ms at 16 kHz"), from the layout the config records."""
    from configuration_litecnn import LiteCNNConfig
    from modeling_litecnn import LiteCNNModel

    layout = {key: value for key, value in config.items() if key not in ("auto_map", "architectures")}
    return _milliseconds(LiteCNNModel(LiteCNNConfig(**layout)))


def _speakers_heard(data: dict) -> str:
    """'40 adult actors reading 12 English sentences ... in one studio', or a mix's speakers and corpora."""
    validation_actors = len(data.get("validation_actors", []))
    sources = _sources(data)
    if [source["corpus"] for source in sources] == ["cremad"]:
        actors = (data.get("actors") or 0) - validation_actors
        return f"it heard {actors} adult actors reading 12 English sentences with acted emotions in one studio"
    speakers = sum(source.get("speakers") or 0 for source in sources) - validation_actors
    names = ", ".join(CORPORA.get(source["corpus"], (source["corpus"],))[0].split(" (")[0] for source in sources)
    return f"it heard {speakers} adult speakers acting emotions in English ({names}), recorded in studios"


def write_card(
    folder: Path,
    config: dict,
    evaluations: dict[str, dict],
    export: dict,
    bench: dict | None,
    command: str,
    recipe: str = "configs/litecnn_ser.json",
    loco: tuple[str, list[dict]] | None = None,
) -> Path:
    """The model card of the shipped model: what it saw, its numbers on unseen actors and corpora, its limits."""
    data = config.get("training_data") or {}
    heard = trained_corpora(config)
    for name in evaluations:
        if name != "cremad" and name in heard:
            raise ReleaseError(
                f"--eval {name}=...: {name} is in the model's training data, so its score says nothing about a "
                "corpus it never heard; leave it out (the leave-one-corpus-out protocol scores such a recipe)"
            )
    validation = evaluations["cremad"]
    one, adapted = validation["metrics"], validation["speaker_adapted"]
    labels = [config["id2label"][str(index)] for index in range(len(config["id2label"]))]
    int8 = export.get("int8") or {}
    int8_accuracy = int8.get("accuracy")
    fp32_accuracy = (export.get("fp32") or {}).get("accuracy")
    latency = ""
    if bench:
        latency = (
            f" On {bench['threads']} CPU threads ({bench['machine']}), one {bench['window_s']:g} s window takes "
            f"**{bench['fp32_ms']:.2f} ms** with the fp32 graph and **{bench['int8_ms']:.2f} ms** with the int8 graph "
            f"(median of {bench['runs']} runs, batch 1), against {bench['wav2vec2_base_ms']:.1f} ms for a "
            f"wav2vec2-base-sized classifier in PyTorch ({bench['wav2vec2_base_ms'] / bench['int8_ms']:.0f}x)."
        )
    metadata = {
        "language": ["en"],
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "audio-classification",
        "datasets": [HUB_DATASETS.get(name, name) for name in heard],
        "tags": ["audio-classification", "speech-emotion-recognition", "knowledge-distillation", "litecnn", "onnx"],
        "metrics": ["accuracy", "recall", "f1"],
        "model-index": [
            {
                "name": folder.name,
                "results": [
                    {
                        "task": {"type": "audio-classification", "name": "Speech emotion recognition"},
                        "dataset": {
                            "type": "crema-d",
                            "name": "CREMA-D (10 actors unseen in training)",
                            "split": "validation (speaker split, seed 42)",
                        },
                        "metrics": [
                            {"type": "accuracy", "value": round(one["accuracy"], 4), "name": "accuracy, one clip"},
                            {"type": "recall", "value": round(one["uar"], 4), "name": "UAR, one clip"},
                            {"type": "f1", "value": round(one["macro_f1"], 4), "name": "macro-F1, one clip"},
                        ],
                    }
                ],
            }
        ],
    }
    recalls, adapted_recalls = _recalls(one), _recalls(adapted)
    parameters = config.get("num_parameters")
    size = f"{parameters / 1e6:.2f}M-parameter " if parameters else ""
    validation_actors = data.get("validation_actors", [])
    licences = "; ".join(LICENCES[name] for name in heard if name in LICENCES)
    card = f"""---
{yaml.safe_dump(metadata, sort_keys=False).strip()}
---

# LiteCNN-SER: speech emotion recognition in {f"{parameters / 1e6:.2f}M parameters" if parameters else "a small CNN"}

A {size}1-D CNN that reads raw 16 kHz mono audio and says which of {len(labels)} acted emotions it hears:
{", ".join(labels)}. It was {describe_training(config)}. Layout: {len(config.get("block_channels", []))}
depthwise-separable blocks {config.get("block_channels")}, {config.get("pooling", "mean")} pooling; one output
frame depends on {_frame(config)}, and the pooling summarises every frame.

## What it saw

{_data_source(data)} **{data.get("num_train")} clips in training**; **{len(validation_actors)} CREMA-D actors
({data.get("num_validation")} clips) were never heard in training** and give the validation numbers below: actors
{", ".join(map(str, validation_actors))}. Speaker split seed {data.get("seed")}, training seed
{data.get("training_seed")}. {_windows(data)} Data licences: {licences}. The weights are released under Apache-2.0;
the data's terms may restrict what you may do with a model trained on it.

## Results on the 10 unseen actors

| {data.get("num_validation")} clips, 10 unseen actors | accuracy | UAR | macro-F1 |
|---|---:|---:|---:|
| one clip (nothing but the clip) | {_percent(one["accuracy"])} | {_percent(one["uar"])} | {_percent(one["macro_f1"])} |
| speaker-adapted (uses each actor's other clips) | {_percent(adapted["accuracy"])} | {_percent(adapted["uar"])} | {_percent(adapted["macro_f1"])} |
| {INT8_ROW}, one clip | {_percent(int8_accuracy) if int8_accuracy is not None else "n/a"} | | |

Recall per class, one clip: {", ".join(f"{name} {value:.2f}" for name, value in recalls.items())}.
Speaker-adapted: {", ".join(f"{name} {value:.2f}" for name, value in adapted_recalls.items())}.
Speaker adaptation subtracts each speaker's mean log-probability over their clips; it assumes those clips span
several emotions, and its numbers are not one-clip numbers. For scale: the reference paper (LiteCNN on CREMA-D, random
split) reports {PAPER["scratch"]} from scratch, {PAPER["distilled"]} distilled and {PAPER["teacher"]} for its wav2vec2
teacher; human listeners hearing the voice only agree with the acted emotion on {HUMAN_VOICE_ONLY:.1%} of CREMA-D clips.

## The ONNX graphs

`onnx/model.onnx` (fp32, validation accuracy {_percent(fp32_accuracy) if fp32_accuracy is not None else "n/a"}) and
`onnx/model_int8.onnx` (static int8, per-channel weights; the convolution that reads the waveform stays fp32, since
all-int8 loses 1.6 points on this layout; int8 kernels differ between CPUs, so its accuracy can move by a few
clips on a CPU other than the one that built it) take `input_values` (batch, samples), normalised per clip, and return
`logits`; their metadata holds the labels, the sampling rate and the window. They run with onnxruntime alone (no
torch): `python -m litecnn_ser.onnx_runtime onnx/model_int8.onnx clip.wav`.{latency}

## On other corpora (never heard in training)

{_other_corpora(evaluations, heard, labels, loco)}

## Usage

```python
import soundfile as sf  # 16 kHz mono audio; resample other rates first (the project's predict.py does it for you)
from transformers import pipeline

classifier = pipeline("audio-classification", model="models/{folder.name}", trust_remote_code=True, top_k=None)
waveform, rate = sf.read("clip.wav", dtype="float32")
classifier({{"raw": waveform, "sampling_rate": rate}})  # [{{"label": "anger", "score": 0.71}}, ...]
```

From the project: `python predict.py clip.wav` (any rate, any length), `python -m litecnn_ser.onnx_runtime clip.wav`
(the int8 graph, no torch).

## What it cannot do

- Other languages, children's voices, spontaneous (non-acted) speech: {_speakers_heard(data)}.
- Other recording setups: see the table above (microphones, rooms, silence around the speech).
- Six classes only ({", ".join(labels)}); it cannot say "none of these" or "surprise".
- **Not for clinical, hiring, policing, surveillance or any decision about a person.**

## How it was made

`{command}` in the project repository (the teachers the recipe names, the student from `{recipe}`, the exports,
the checks, this card). CPU training at a given thread count on CPUs of one instruction set (AVX2, AVX512) repeats
to every digit, so the command reproduces these weights' validation accuracy there; elsewhere it is another draw of
the same recipe (`train_results.json` records the threads and `cpu_capability`).
"""
    path = folder / "README.md"
    path.write_text(card)
    return path


def card_numbers(folder: Path) -> dict[str, float]:
    """The numbers a test recomputes: the one-clip validation accuracy (model-index) and the int8 graph's."""
    text = (folder / "README.md").read_text()
    metadata = yaml.safe_load(text.split("---")[1])
    metrics = metadata["model-index"][0]["results"][0]["metrics"]
    numbers = {"accuracy": next(m["value"] for m in metrics if m["type"] == "accuracy")}
    match = re.search(rf"\| {re.escape(INT8_ROW)}, one clip \| ([0-9.]+) \|", text)
    if match:
        numbers["int8_accuracy"] = float(match.group(1))
    return numbers


def build_release(
    student: Path,
    output: Path,
    export: Path,
    evaluations: dict[str, Path],
    bench: Path | None = None,
    command: str = "make model",
    recipe: str = "configs/litecnn_ser.json",
    loco: Path | None = None,
) -> Path:
    """Copy the student, its remote code and its exports into `output` and write the card."""
    root = Path(__file__).resolve().parents[1]
    results = {name: _read_json(folder / "eval_results.json") for name, folder in evaluations.items()}
    if "cremad" not in results or "speaker_adapted" not in results["cremad"]:
        raise ReleaseError("--eval needs cremad=FOLDER, written by eval.py --subset validation --speaker_adaptation")
    report = _read_json(export / "export_report.json")
    rows = read_loco(loco) if loco else None
    output.mkdir(parents=True, exist_ok=True)
    (output / "onnx").mkdir(exist_ok=True)
    for name in MODEL_FILES:
        if not (student / name).is_file():
            raise ReleaseError(f"{student / name}: no such file (is {student} a trained student?)")
        shutil.copy2(student / name, output / name)
    for name in REMOTE_CODE:  # the project's own files: the folder's remote code is always the current code
        shutil.copy2(root / name, output / name)
    for name in ONNX_FILES:
        if (export / name).is_file():
            shutil.copy2(export / name, output / "onnx" / name)
    config = json.loads((output / "config.json").read_text())
    with safe_open(str(output / "model.safetensors"), "np") as weights:
        names = weights.keys()  # a safetensors handle is not iterable
        parameters = [key for key in names if not key.rsplit(".", 1)[-1].startswith(("running_", "num_batches"))]
        config["num_parameters"] = sum(int(np.prod(weights.get_slice(key).get_shape())) for key in parameters)
    write_card(output, config, results, report, _read_json(bench)["release"] if bench else None, command, recipe, rows)
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", type=Path, help="the trained student folder")
    parser.add_argument("output", type=Path, help="the release folder (e.g. models/litecnn-ser)")
    parser.add_argument("--export", type=Path, required=True, help="export.py's output folder")
    parser.add_argument("--eval", nargs="+", required=True, help="NAME=FOLDER of eval.py --output_dir, cremad first")
    parser.add_argument("--bench", type=Path, help="bench.py --model's JSON (the graphs' latency)")
    parser.add_argument("--command", default="make model", help="the command that made the model, for the card")
    parser.add_argument("--recipe", default="configs/litecnn_ser.json", help="the student's args file, for the card")
    parser.add_argument(
        "--loco", type=Path, help="experiments/results/loco_NAME: the recipe's leave-one-corpus-out rows, for the card"
    )
    args = parser.parse_args(argv)
    evaluations = {}
    for item in args.eval:
        name, _, folder = item.partition("=")
        if not folder:
            parser.error(f"--eval {item!r}: expected NAME=FOLDER")
        evaluations[name] = Path(folder)
    try:
        build_release(
            args.student, args.output, args.export, evaluations, args.bench, args.command, args.recipe, args.loco
        )
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"release in {args.output} (card: {args.output / 'README.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
