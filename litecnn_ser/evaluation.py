"""Scoring a saved model (a LiteCNN, any transformers audio classifier, a classical teacher) on a folder of clips:
accuracy, UAR, macro-F1, per-class recall, optionally scores centred per speaker or over every clip, and the
confusion matrix. The
library behind `eval.py`; experiments call `evaluate` directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from data.cremad import CremaDError, split_cremad
from data.sources import load_sources
from data.views import View
from litecnn_ser.metrics import metrics_from_logits, save_confusion_matrix
from litecnn_ser.scoring import (
    AdaptationError,
    centre_over_recording,
    check_recording_size,
    config_labels,
    evaluation_window,
)
from litecnn_ser.speaker_adaptation import centre_log_probabilities
from litecnn_ser.splits import TRAINING_DATA_KEY

SUBSETS = ("all", "validation")
HEADLINE = ("accuracy", "uar", "macro_f1")


class EvaluationError(Exception):
    """Data or a model that cannot be loaded, with what to tell the user (`eval.py` exits with status 2)."""


def evaluate(
    model_id: str,
    data_dir: str,
    corpus: str | None = None,
    subset: str = "all",
    speaker_adaptation: bool = False,
    batch_size: int = 16,
    dataset_cache_dir: str | None = None,
    output_dir: str | Path | None = None,
    adapt_batch_norm: bool = False,
    adapt_recording: bool = False,
) -> dict:
    """The model's metrics on the folder's clips (every clip, or its validation clips), as `eval.py --json` prints
    them; with `output_dir`, also eval_results.json and the confusion matrix (JSON, PNG) there.

    `adapt_recording` also scores the clips centred over all of them (`recording_adapted`: the runtimes'
    `--adapt_recording`, `litecnn_ser.scoring.centre_over_recording`), as if they came from one recording setup."""
    try:
        spec = f"{corpus}={data_dir}" if corpus else data_dir
        clips, reports = load_sources([spec], dataset_cache_dir)
        preparation = reports[spec]
    except (FileNotFoundError, CremaDError) as error:
        raise EvaluationError(f"{data_dir}: {error}") from None
    try:
        score, names, record, heard = load_scorer(model_id, batch_size, adapt_batch_norm)
    except (OSError, ValueError) as error:
        raise EvaluationError(f"cannot load the model {model_id!r}: {str(error).splitlines()[0]}") from None
    dataset = select_subset(clips, subset, record, model_id, data_dir)
    labels = to_model_labels(dataset, names, model_id)
    if speaker_adaptation and None in list(dataset["actor_id"]):  # refused before any clip is scored
        raise SystemExit(f"error: --speaker_adaptation: {data_dir} does not say who speaks each clip")
    if adapt_recording:
        try:
            check_recording_size(len(dataset))
        except AdaptationError as error:
            raise EvaluationError(f"{data_dir}: {error}") from None
    logits = score(dataset)

    results = {
        "model": model_id,
        "data_dir": str(Path(data_dir).resolve()),
        "subset": subset,
        "heard": heard,
        "corpus": dataset[0]["corpus"] if "corpus" in dataset.column_names else "cremad",
        "class_balance": {name: int(np.sum(labels == index)) for index, name in enumerate(names)},
        "skipped": [{"file": name, "reason": reason} for name, reason in preparation.skipped],
        "metrics": report(logits, labels, names),
    }
    heard = heard_in_training(results["corpus"], subset, record)
    if heard:
        results["warning"] = heard
    if speaker_adaptation:
        adapted = centre_log_probabilities(logits, dataset["actor_id"])
        results["speaker_adapted"] = report(adapted, labels, names)
        results["speaker_adaptation"] = "log-probabilities centred per actor (file name), unlabelled clips"
    if adapt_recording:
        centred = centre_over_recording(logits)
        results["recording_adapted"] = report(centred, labels, names)
        results["recording_adaptation"] = "log-probabilities centred over every scored clip, unlabelled clips"
    if output_dir:
        output = Path(output_dir)
        output.mkdir(parents=True, exist_ok=True)
        (output / "eval_results.json").write_text(json.dumps(results, indent=1))
        scored = f"{results['corpus']}, {'validation clips' if subset == 'validation' else 'every clip'}"
        first = "AdaBN on these clips" if adapt_batch_norm else "One clip"
        save_confusion_matrix(labels, logits.argmax(-1), names, output, f"{first}: {scored}")
        if speaker_adaptation:
            save_confusion_matrix(
                labels, adapted.argmax(-1), names, output / "speaker_adapted", f"Speaker-adapted: {scored}"
            )
        if adapt_recording:
            save_confusion_matrix(
                labels, centred.argmax(-1), names, output / "recording_adapted", f"Centred over the clips: {scored}"
            )
    return results


def load_scorer(model_id: str, batch_size: int, adapt_batch_norm: bool = False):
    """(dataset -> logits, labels, the model's training-data record, how it hears the clips) for any kind of model.

    `adapt_batch_norm`: a LiteCNN's batch-norm statistics re-estimated on the scored clips themselves before it
    scores them (AdaBN, `litecnn_ser.adaptation`; the saved weights are not touched). Not a one-clip number.

    A model's scorer also takes a `View` of the clips (default: as it was evaluated in training); a classical
    teacher's takes none (it hears whole clips)."""
    from litecnn_ser.feature_teacher import FeatureTeacher, is_feature_teacher

    if is_feature_teacher(model_id):
        if adapt_batch_norm:
            raise ValueError("--adapt_batch_norm: a classical teacher has no batch norm")
        teacher = FeatureTeacher.from_pretrained(model_id)
        heard = "whole clips, openSMILE functionals"
        if teacher.speaker_normalization:
            heard += ", features standardised per speaker (uses each speaker's other clips)"
        if teacher.corpus_normalization:
            heard += ", features standardised over all the scored clips (uses the other clips of the recording)"
        return teacher.logits, teacher.labels, teacher.config.get("training_data") or {}, heard

    from litecnn_ser.teachers import compute_model_logits

    model, feature_extractor, record = load_model(model_id)
    window = evaluation_window(record)

    def score(dataset, view: View | None = None):
        view = view or View(1.0, 0.0, window)
        scorer = model
        if adapt_batch_norm:
            from litecnn_ser.adaptation import adapt_batch_norm as adapt

            scorer = adapt(model, model_inputs(feature_extractor, dataset, view, record.get("trim_silence")))
        return compute_model_logits(scorer, feature_extractor, dataset, view, batch_size, record.get("trim_silence"))

    labels = config_labels(model.config)
    heard = f"first {window:g} s of each clip" if window else "whole clips"
    heard += ", silence trimmed" if record.get("trim_silence") else ""
    if adapt_batch_norm:
        heard += ", batch-norm statistics re-estimated on these clips (AdaBN: uses the other clips, not one-clip)"
    return score, labels, record, heard


def load_model(model_id: str):
    """(model in eval mode, its feature extractor, its training-data record) of a model folder or hub id."""
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    import modeling_litecnn  # noqa: F401  (LiteCNN folders saved without remote code)

    model = AutoModelForAudioClassification.from_pretrained(model_id, trust_remote_code=True).eval()
    feature_extractor = AutoFeatureExtractor.from_pretrained(model_id)
    return model, feature_extractor, getattr(model.config, TRAINING_DATA_KEY, None) or {}


def model_inputs(feature_extractor, dataset, view: View, trim: bool) -> list[np.ndarray]:
    """Each clip as the model's input (`model_clip`, then normalised by its feature extractor)."""
    from data.audio import SAMPLING_RATE
    from litecnn_ser.teachers import model_clip

    clips = (model_clip(audio, view, trim) for audio in dataset.with_format(None)["audio"])
    return [np.asarray(feature_extractor(clip, sampling_rate=SAMPLING_RATE)["input_values"][0]) for clip in clips]


def heard_in_training(corpus: str, subset: str, record: dict) -> str | None:
    """What to warn when every clip of a corpus the model trained on is scored (some of them are its training
    clips, so the numbers are neither a new corpus's nor new speakers'); None otherwise."""
    trained_on = str(record.get("corpus") or "").split("+")
    if subset != "all" or corpus not in trained_on:
        return None
    validated_on = record.get("validation_corpus") or trained_on[0]
    held_out = (
        " (--subset validation scores its held-out speakers)" if record.get("split") and corpus == validated_on else ""
    )
    return (
        f"the model was trained on {corpus} ({'+'.join(trained_on)} in its training data): scoring all of it mixes "
        f"clips it trained on with the ones it did not{held_out}; these are not numbers on an unseen corpus"
    )


def select_subset(corpus, subset: str, record: dict, model_id: str, data_dir: str):
    if subset == "all":
        return corpus
    if not record.get("split"):
        raise SystemExit(f"error: --subset validation: {model_id} does not record the split it was trained on")
    same_data = record.get("data_dir") == str(Path(data_dir).resolve())
    if "corpus" in corpus.column_names and not same_data:  # CREMA-D may have moved; other data must be the same
        raise SystemExit(
            f"error: --subset validation: {model_id} was validated on {record.get('data_dir')}, not on {data_dir}"
        )
    splits = split_cremad(corpus, record["split"], record["test_size"], record["seed"])
    return splits["validation"]


def report(logits: np.ndarray, labels: np.ndarray, names: list[str]) -> dict:
    return {"num_clips": int(len(labels)), **metrics_from_logits(logits, labels, names)}


def to_model_labels(dataset, names: list[str], model_id: str) -> np.ndarray:
    """The clips' labels as the model's class indices (the data may hold fewer of the model's labels, not others)."""
    data_names = dataset.features["label"].names
    unknown = [name for name in data_names if name not in names]
    if unknown:
        raise SystemExit(f"error: {model_id} predicts {names}; the data's labels {unknown} are not among them")
    return np.array([names.index(name) for name in data_names])[np.asarray(dataset["label"], dtype=int)]
