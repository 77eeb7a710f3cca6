"""The demo page (Hugging Face Spaces convention): upload or record a clip, see the six emotions' probabilities and,
for a long clip, the emotion over time.

    pip install -r requirements-demo.txt
    python app.py                                 # the shipped model (models/litecnn-ser), http://127.0.0.1:7860
    python app.py --model ./student               # another model
    LITECNN_MODEL=org/litecnn-cremad python app.py

On a Space, `app.py` runs with no arguments: the shipped model, or `LITECNN_MODEL` (a hub id or a folder in the
Space). The page uses the same code as `predict.py`: clips decoded by `data/audio.py`, probabilities averaged over
the model's windows, and a sliding window (hop: half a window) for the timeline. Gradio, because Spaces runs it natively and its Audio
component records from the microphone and uploads files without any front-end code of ours.
"""

from __future__ import annotations

import argparse
import os

import gradio as gr
import pandas as pd
from transformers import pipeline

import modeling_litecnn  # noqa: F401  (registers LiteCNN for folders saved without remote code)
from data.audio import SAMPLING_RATE, AudioDecodeError, load_audio
from litecnn_ser.loading import SHIPPED_MODEL, model_error
from litecnn_ser.scoring import classify_windows, model_windows, stream_results
from predict import PipelineScorer

DEFAULT_MODEL = os.environ.get("LITECNN_MODEL") or str(SHIPPED_MODEL)


class Demo:
    """A loaded model and what the page shows for one clip."""

    def __init__(self, model: str):
        self.model = model
        classifier = pipeline("audio-classification", model=model, trust_remote_code=True)
        self.scorer = PipelineScorer(classifier)
        self.parameters = classifier.model.num_parameters()
        record = getattr(classifier.model.config, "training_data", None) or {}
        # whole clips as the model was evaluated; the timeline with the training window (1 s for the paper's recipe)
        self.window_s, self.timeline_window_s = model_windows(record)

    def analyse(self, path: str | None):
        if not path:
            raise gr.Error("Upload or record a clip first.")
        try:
            waveform = load_audio(path)
        except AudioDecodeError as error:
            raise gr.Error(f"{os.path.basename(error.name)}: {error.reason}") from None
        result = classify_windows(self.scorer, waveform, int(round(self.window_s * SAMPLING_RATE)))
        scores = result["scores"]
        bars = pd.DataFrame({"emotion": list(scores), "probability": list(scores.values())})
        duration = waveform.size / SAMPLING_RATE
        timeline = None
        if duration >= 2 * self.timeline_window_s:
            rows = [
                {"time_s": (r["start_s"] + r["end_s"]) / 2, "emotion": label, "probability": p}
                for r in stream_results(self.scorer, [waveform], self.timeline_window_s)
                if r["scores"]
                for label, p in r["scores"].items()
            ]
            timeline = pd.DataFrame(rows)
        summary = (
            f"**{result['label']}** ({result['score']:.1%}) over {duration:.2f} s, "
            f"{result['windows']} window(s) of {self.window_s:g} s\n\n"
            + "\n".join(f"- {label}: {p:.3f}" for label, p in scores.items())
        )
        return scores, bars, gr.update(value=timeline, visible=timeline is not None), summary

    def page(self) -> gr.Blocks:
        with gr.Blocks(title="LiteCNN speech emotion recognition") as page:
            gr.Markdown(
                f"# Speech emotion recognition with LiteCNN\n"
                f"Model: `{self.model}` ({self.parameters / 1e6:.2f}M parameters, raw 16 kHz audio). Upload or record a clip of speech: "
                f"the model scores {', '.join(self.scorer.labels)}."
            )
            with gr.Row():
                with gr.Column():
                    audio = gr.Audio(
                        sources=["upload", "microphone"], type="filepath", label="Speech", elem_id="audio"
                    )
                    button = gr.Button("Classify", variant="primary", elem_id="classify")
                with gr.Column():
                    label = gr.Label(num_top_classes=len(self.scorer.labels), label="Emotion", elem_id="label")
                    summary = gr.Markdown(elem_id="scores")
            bars = gr.BarPlot(x="emotion", y="probability", y_lim=[0, 1], label="Probabilities", elem_id="bars")
            timeline = gr.LinePlot(
                x="time_s", y="probability", color="emotion", y_lim=[0, 1], label="Emotion over time",
                visible=False, elem_id="timeline",
            )  # fmt: skip
            button.click(self.analyse, inputs=audio, outputs=[label, bars, timeline, summary])
        return page


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help="a student folder or hub id (default: env LITECNN_MODEL, else the shipped model)",
    )
    parser.add_argument("--port", type=int, default=None, help="server port (default: Gradio's, 7860)")
    args = parser.parse_args(argv)
    problem = model_error(args.model)
    if problem:
        raise SystemExit(f"error: {problem}")
    Demo(args.model).page().launch(server_port=args.port)


if __name__ == "__main__":
    main()
