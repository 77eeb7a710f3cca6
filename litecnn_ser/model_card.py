"""The model card (`README.md` with hub metadata) of an exported LiteCNN student."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml
from transformers import PreTrainedModel, TrainingArguments

from litecnn_ser.scoring import config_labels, evaluation_window

PAPER = {"teacher": 0.624, "scratch": 0.389, "distilled": 0.455}  # the reference paper's validation accuracy
HUMAN_VOICE_ONLY = 0.416
METRICS = (("accuracy", "accuracy"), ("uar", "UAR"), ("macro_f1", "macro-F1"))


def _read_metrics(folder: Path | str | None) -> dict[str, float]:
    path = Path(folder) / "eval_results.json" if folder else None
    if path is None or not path.is_file():
        return {}
    return {key.removeprefix("eval_"): value for key, value in json.loads(path.read_text()).items()}


def _row(name: str, metrics: dict[str, float]) -> str:
    cells = [f"{metrics[key]:.3f}" if key in metrics else "n/a" for key, _ in METRICS]
    return f"| {name} | " + " | ".join(cells) + " |"


VOTES_PANELS = {
    "voice": "the votes of listeners who heard each clip's voice alone",
    "face": "the votes of viewers who saw each clip's face alone",
    "audiovisual": "the votes of listeners who saw and heard each clip",
}


def _how_trained(distillation: dict | None) -> str:
    """One sentence on how the student was trained: from scratch, or from which teacher(s) and logits."""
    if not distillation:
        return "trained from scratch with cross-entropy (no teacher)"
    members = distillation.get("members") or [distillation]
    described = []
    for member in members:
        size = f", {member['teacher_parameters']:,} parameters" if member.get("teacher_parameters") else ""
        window = member.get("teacher_max_duration_s")
        hears = "hearing whole clips"
        if window:
            hears = (
                f"hearing the {window} s window of each view"
                if distillation.get("views")
                else f"hearing the first {window} s of each clip"
            )
        if member.get("votes_modality") in VOTES_PANELS:  # crowd votes recorded with their panel (2026-12-04 on)
            hears = VOTES_PANELS[member["votes_modality"]]
        speaker = ", with features standardised per speaker" if member.get("uses_speaker_statistics") else ""
        speaker += ", with features standardised per corpus" if member.get("uses_corpus_statistics") else ""
        described.append((member["teacher_model_type"], f"({hears}{size}{speaker})"))
    # members of one kind (fits of one pipeline with different seeds) are counted, not repeated
    counts = Counter(described)
    kinds = [
        f"the {kind} teacher {details}" if count == 1 else f"{count} {kind} teachers {details}"
        for (kind, details), count in counts.items()
    ]
    teachers = kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]
    if len(described) > 1:
        teachers = "an ensemble (mean probability) of " + teachers
    logits = ", through their out-of-fold logits" if distillation.get("teacher_logits") == "out_of_fold" else ""
    views = f", on {len(distillation['views'])} cached views per clip" if distillation.get("views") else ""
    return (
        f"distilled from {teachers}{logits}{views}, with alpha {distillation['alpha']} and temperature "
        f"{distillation['temperature']}"
    )


def describe_training(config: dict) -> str:
    """How a student was trained, from its `config.json`: teacher(s), feature hint, corpus-adversarial head, mixup,
    MixStyle, weight averaging, the stem's normalisation."""
    how = _how_trained(config.get("distillation"))
    hint = config.get("feature_hint")
    if hint:
        within = {"per speaker": "within each speaker", "per corpus": "within each training corpus"}
        scope = within.get(hint.get("normalization"))
        features = hint["feature_set"]
        target = f"{features} functionals standardised {scope}" if scope else f"standardised {features} functionals"
        how += (
            f", its pooled embedding also regressing each clip's {target} "
            f"(a feature hint, weight {hint['hint_weight']}, through a linear head used in training only)"
        )
    adversarial = config.get("corpus_adversarial")
    if adversarial:
        how += (
            f", its pooled embedding trained to hide which of {len(adversarial['corpora'])} training corpora "
            f"({', '.join(adversarial['corpora'])}) a clip came from (a corpus head behind a gradient reversal, "
            f"weight {adversarial['weight']:g}, used in training only)"
        )
    mixup = config.get("mixup")
    if mixup:
        how += (
            f", on mixup pairs (two clips' waveforms mixed with a weight drawn from Beta({mixup['alpha']:g}, "
            f"{mixup['alpha']:g}), every loss term weighted alike)"
        )
    mixstyle = config.get("mixstyle")
    if mixstyle:
        how += (
            f", with MixStyle in training (in {mixstyle['p']:.0%} of batches, each clip's per-channel statistics in the "
            f"{' and '.join(mixstyle['layers'])} outputs mixed with another clip's, weight drawn from "
            f"Beta({mixstyle['alpha']:g}, {mixstyle['alpha']:g}))"
        )
    if config.get("stem_normalization") == "utterance":
        how += ", its first filterbank normalised per clip (each filter divided by its root mean square over the clip)"
    averaging = config.get("weight_averaging")
    if averaging:
        how += (
            f"; the saved weights are a moving average of the training steps' (decay {averaging['decay']:g}), "
            "with batch-norm statistics estimated for them"
        )
    return how


def _teacher_rows(distillation: dict | None) -> list[str]:
    """The results table's teacher rows: each member's validation metrics, named by its folder (or hub id) when
    there are several, since an ensemble's members may all be the same kind of model; then the ensemble's."""
    members = (distillation or {}).get("members") or []
    rows = []
    for member in members:
        if member.get("validation"):
            name = f"`{Path(member['teacher']).name}` " if len(members) > 1 and member.get("teacher") else ""
            note = (
                ", features standardised per speaker over its clips" if member.get("uses_speaker_statistics") else ""
            )
            note += ", features standardised over its corpus's clips" if member.get("uses_corpus_statistics") else ""
            rows.append(_row(f"teacher {name}({member['teacher_model_type']}){note}", member["validation"]))
    if (distillation or {}).get("ensemble_validation"):
        rows.append(_row("teacher ensemble (mean probability)", distillation["ensemble_validation"]))
    return rows


CORPORA = {  # corpus name -> (what it is, speakers in the whole corpus)
    "cremad": ("CREMA-D (Cao et al., 2014): acted English sentences", 91),
    "ravdess": ("RAVDESS (Livingstone and Russo, 2018): acted North American English statements", 24),
    "savee": ("SAVEE (Jackson and Haq, 2014): acted British English sentences, male speakers", 4),
    "tess": ("TESS (Dupuis and Pichora-Fuller, 2010): 'Say the word ...' carrier phrases, female speakers", 2),
}


def _sources(data: dict) -> list[dict]:
    """The recorded sources (corpus, clips, speakers); older models record one corpus and its actor count."""
    if data.get("sources"):
        return data["sources"]
    return [{"corpus": data.get("corpus") or "cremad", "clips": None, "speakers": data.get("actors")}]


def _data_source(data: dict) -> str:
    """What the model was trained on, as recorded: each corpus (or your own data) with its clips and speakers."""
    parts = []
    for source in _sources(data):
        speakers = f"{source['speakers']} speakers" if source.get("speakers") else "no speaker recorded"
        clips = f"{source['clips']} clips, " if source.get("clips") else ""
        if source["corpus"] == "synthetic":
            parts.append(
                f"**a synthetic CREMA-D-shaped corpus** (`data/synthetic.py`: buzzy harmonic voices, not speech; "
                f"{clips}{speakers}). This model exists to test the pipeline: its numbers say nothing about speech"
            )
        elif source["corpus"] in CORPORA:
            described, total = CORPORA[source["corpus"]]
            parts.append(f"{described} ({clips}{speakers} of the corpus's {total})")
        else:
            parts.append(f"`{source['corpus']}`, the user's own labelled clips ({clips}{speakers})")
    return "Trained on " + "; ".join(parts) + "."


def _corpus_title(data: dict) -> str:
    names = [source["corpus"] for source in _sources(data)]
    return " + ".join({"cremad": "CREMA-D"}.get(name, name.upper() if name in CORPORA else name) for name in names)


def _folders(data: dict) -> str:
    folders = data.get("data_dir") or "?"
    return ", ".join(f"`{Path(folder).name}`" for folder in ([folders] if isinstance(folders, str) else folders))


def _windows(data: dict) -> str:
    """What the model heard in training (window, crop, speeds, noise) and in evaluation, as recorded."""
    window, evaluation = data.get("max_duration_s"), evaluation_window(data)
    if window is None:
        return "Window not recorded."
    where = "a random" if data.get("train_crop") == "random" else "the first"
    heard = f"Training: {where} {window} s window of each clip (a shorter clip whole)"
    if data.get("speed_perturbation"):
        heard += ", speed factor drawn from " + "/".join(f"{speed:g}" for speed in data["speed_perturbation"])
    if data.get("noise_snr_db"):
        heard += ", white noise at {:g}-{:g} dB SNR".format(*data["noise_snr_db"])
    if data.get("channel_augmentation"):
        heard += ", a random recording channel (" + ", ".join(data["channel_augmentation"]) + ")"
    if data.get("corpus_balance") and len(_sources(data)) > 1:
        heard += (
            f", corpora balanced (a clip of a corpus of n clips drawn in proportion to n^-{data['corpus_balance']:g})"
        )
    trimmed = " with the silence before and after the speech trimmed" if data.get("trim_silence") else ""
    return f"{heard}. Evaluation: the first {evaluation} s of each clip{trimmed}" + (
        " (trimmed in training too)." if trimmed else "."
    )


def _cremad_scale() -> str:
    return (
        f" For scale: the reference paper reports {PAPER['scratch']} (LiteCNN from scratch), {PAPER['distilled']} "
        f"(distilled) and {PAPER['teacher']} (wav2vec2 teacher) validation accuracy; human listeners who hear the "
        f"voice only agree with the acted emotion on {HUMAN_VOICE_ONLY:.1%} of CREMA-D clips (the corpus's own crowd "
        "ratings)."
    )


def _limits(corpora: list[str]) -> str:
    if all(name in CORPORA for name in corpora):
        return (
            "Trained on **acted** English emotions from a few dozen actors, in a studio: expect lower accuracy on "
            "spontaneous speech, other languages and accents, children's voices, noisy or far-field audio."
        )
    return (
        "Trained on the data above only: expect lower accuracy on recordings unlike it (speakers, language, channel)."
    )


def _milliseconds(model: PreTrainedModel) -> str:
    rate = model.config.sampling_rate
    return f"{model.receptive_field / rate * 1000:.0f} ms at {rate / 1000:g} kHz"


def write_model_card(output_dir: Path, model: PreTrainedModel, args: TrainingArguments) -> Path:
    config = model.config
    data = getattr(config, "training_data", None) or {}
    distillation = getattr(config, "distillation", None)
    student = _read_metrics(output_dir)
    labels = config_labels(config)
    parameters = model.num_parameters()
    repo = args.hub_model_id or "org/litecnn-cremad"
    how = describe_training(config.to_dict())
    corpora = [source["corpus"] for source in _sources(data)]
    synthetic = "synthetic" in corpora
    cremad_only = corpora == ["cremad"]
    model_index = {
        "name": repo.split("/")[-1],
        "results": [
            {
                "task": {"type": "audio-classification", "name": "Speech emotion recognition"},
                "dataset": {"type": "crema-d", "name": "CREMA-D", "split": f"validation ({data.get('split', '?')})"},
                "metrics": [
                    {"type": key, "value": round(student[key], 4), "name": name}
                    for key, name in METRICS
                    if key in student
                ],
            }
        ],
    }
    metadata = {
        "language": ["en"],
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "audio-classification",
        "tags": ["audio-classification", "speech-emotion-recognition", "knowledge-distillation", "litecnn"],
        "metrics": ["accuracy", "recall", "f1"],
    }
    if cremad_only:  # only a model validated on CREMA-D alone publishes a CREMA-D result
        metadata.update({"datasets": ["crema-d"], "model-index": [model_index]})
    rows = [_row("LiteCNN (this model)", student), *_teacher_rows(distillation)]
    card = f"""---
{yaml.safe_dump(metadata, sort_keys=False).strip()}
---

# LiteCNN for speech emotion recognition ({"synthetic test corpus, not a usable model" if synthetic else _corpus_title(data)})

A {parameters / 1e6:.2f}M-parameter 1-D CNN that reads raw 16 kHz audio and predicts one of {len(labels)} labels:
{", ".join(labels)}. It was {how}. It is small and fast enough for phones and edge devices: see the project's
benchmark for its latency against wav2vec2.

## Results on the validation split

| model | accuracy | UAR | macro-F1 |
|---|---|---|---|
{chr(10).join(rows)}

UAR is the unweighted average recall (balanced accuracy).{_cremad_scale() if cremad_only else ""}

## Training data

{_data_source(data)} This run: {data.get("num_train", "?")} training and
{data.get("num_validation", "?")} validation clips from {_folders(data)}, split `{data.get("split", "?")}`
(`stratified`: random 80/20 by emotion, actors shared; `speaker`: no actor in both splits), test size
{data.get("test_size", "?")}, seed {data.get("seed", "?")}; validation actors {data.get("validation_actors", "?")}.
Clips are normalised to zero mean and unit variance. {_windows(data)} (`preprocessor_config.json` holds the
preprocessing; `config.json` holds all of the above under `training_data`).

## Usage

```python
from transformers import pipeline

classifier = pipeline("audio-classification", model="{repo}", trust_remote_code=True, top_k=None)
classifier(waveform_16khz_float_array)  # all {len(labels)} labels: [{{"label": "{labels[0]}", "score": 0.71}}, ...]
```

```python
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

model = AutoModelForAudioClassification.from_pretrained("{repo}", trust_remote_code=True)
extractor = AutoFeatureExtractor.from_pretrained("{repo}")
inputs = extractor(waveform_16khz, sampling_rate=16000, return_tensors="pt")
label = model.config.id2label[model(**inputs).logits.argmax(-1).item()]
```

`AutoModel.from_pretrained("{repo}", trust_remote_code=True)` gives the pooled {config.hidden_size}-dimensional
embedding. The pipeline expects 16 kHz mono audio; resample other rates first (the project's `predict.py` does).

## Intended use and limits

- Research and prototyping of on-device emotion recognition from speech.
- {_limits(corpora)}
- {len(labels)} categories only ({", ".join(labels)}); it cannot say "none of these".
- **Not for clinical, hiring, policing, surveillance or any decision about a person.** Emotion recognition from
  voice is unreliable across individuals and cultures.

## Training procedure

LiteCNN: stem conv (kernel {config.stem_kernel_size}, stride {config.stem_stride}), max-pool {config.stem_pool},
depthwise-separable blocks {config.block_channels}, {config.pooling} pooling, classifier {config.classifier_hidden_size}
hidden units with dropout {config.classifier_dropout}. {parameters:,} parameters, {parameters * 4 / 1e6:.1f} MB in fp32.
Each frame before the pooling hears {model.receptive_field:,} input samples ({_milliseconds(model)}); the pooling then
summarises every frame of the input.
Optimiser AdamW (lr {args.learning_rate}, weight decay {args.weight_decay}), batch {args.per_device_train_batch_size}
per device, up to {args.num_train_epochs:g} epochs, {getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)} {args.lr_scheduler_kwargs}, best checkpoint
by validation {args.metric_for_best_model}, seed {args.seed}.
"""
    path = output_dir / "README.md"
    path.write_text(card)
    return path
