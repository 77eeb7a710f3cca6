"""Peak memory of a one-clip run and real-time factor of streaming a 10-minute recording, each in a fresh process.

    python experiments/deploy/bench_deploy.py STUDENT EXPORT_DIR [--data_dir CREMA-D/AudioFLAC] [--threads 2]

STUDENT is the folder `predict.py` loads (PyTorch + transformers); EXPORT_DIR holds `export.py`'s model.onnx and
model_int8.onnx, which `python -m litecnn_ser.onnx_runtime` runs (onnxruntime, numpy, soundfile, soxr). Each command
runs as its own process: peak memory is the process's maximum resident set size (`wait4`), wall time includes
start-up. The 10-minute recording is real clips of `--data_dir` one after another (16 kHz FLAC, written to a
temporary folder), streamed with the model's window and a hop of half a window. Writes
experiments/results/deploy_bench.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from data.audio import SAMPLING_RATE, AudioDecodeError, load_audio

ROOT = Path(__file__).resolve().parents[2]
"""The repository: the commands run from here."""


def measure(command: list[str]) -> dict:
    """Runs `command` in a fresh process: wall time, peak resident memory (MB), exit status."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return {"command": " ".join(command), "wall_s": round(wall, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def long_recording(data_dir: Path, seconds: float, path: Path) -> float:
    """Real clips one after another until `seconds`; returns the recording's duration."""
    clips = sorted(data_dir.glob("*.flac")) + sorted(data_dir.glob("*.wav"))
    if not clips:
        raise SystemExit(f"error: --data_dir {data_dir}: no .flac or .wav clips")
    parts, total, index = [], 0, 0
    while total < seconds * SAMPLING_RATE:
        try:
            waveform = load_audio(clips[index % len(clips)])
        except AudioDecodeError:
            waveform = np.zeros(0, np.float32)
        parts.append(waveform)
        total += waveform.size
        index += 1
    audio = np.concatenate(parts)[: int(seconds * SAMPLING_RATE)]
    sf.write(path, audio, SAMPLING_RATE, format="FLAC")
    return audio.size / SAMPLING_RATE


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("student", help="a student folder (what predict.py loads)")
    parser.add_argument("export_dir", help="export.py's output folder (model.onnx, model_int8.onnx)")
    parser.add_argument("--data_dir", default=str(ROOT.parent / "shared" / "datasets" / "crema-d" / "AudioFLAC"))
    parser.add_argument("--threads", type=int, default=2, help="threads of every runtime (the phone-class budget)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the streamed recording")
    parser.add_argument("--output", default=str(ROOT / "experiments" / "results" / "deploy_bench.json"))
    args = parser.parse_args(argv)
    python, export_dir = sys.executable, Path(args.export_dir)
    clip = sorted(Path(args.data_dir).glob("*.flac"))[0] if Path(args.data_dir).is_dir() else None
    if clip is None:
        raise SystemExit(f"error: --data_dir {args.data_dir}: no clips")
    env_threads = {"OMP_NUM_THREADS": str(args.threads)}
    os.environ.update(env_threads)  # torch in predict.py follows OMP_NUM_THREADS

    runtimes = {
        "predict.py (PyTorch + transformers)": [python, "predict.py", args.student],
        "litecnn_ser.onnx_runtime fp32": [
            python,
            "-m",
            "litecnn_ser.onnx_runtime",
            str(export_dir / "model.onnx"),
            "--threads",
            str(args.threads),
        ],
        "litecnn_ser.onnx_runtime int8": [
            python,
            "-m",
            "litecnn_ser.onnx_runtime",
            str(export_dir / "model_int8.onnx"),
            "--threads",
            str(args.threads),
        ],
    }
    rows = {}
    with tempfile.TemporaryDirectory() as folder:
        recording = Path(folder) / "ten_minutes.flac"
        duration = long_recording(Path(args.data_dir), args.minutes * 60, recording)
        for name, command in runtimes.items():
            one_clip = measure([*command, str(clip)])
            streamed = measure([*command, str(recording), "--stream", "--json"])
            rows[name] = {
                "one_clip": one_clip,
                "stream": {**streamed, "audio_s": duration, "real_time_factor": streamed["wall_s"] / duration},
            }
            print(
                f"{name}: one clip {one_clip['peak_rss_mb']} MB, {one_clip['wall_s']} s; stream {streamed}", flush=True
            )

    result = {"threads": args.threads, "clip": str(clip), "recording_s": duration, "rows": rows}
    print(
        "\n| runtime | one clip: peak memory | one clip: wall (incl. start-up) | 10 min streamed: wall | real-time factor | streaming: peak memory |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        one, stream = row["one_clip"], row["stream"]
        print(
            f"| {name} | {one['peak_rss_mb']:.0f} MB | {one['wall_s']:.1f} s | {stream['wall_s']:.1f} s | "
            f"{stream['real_time_factor']:.4f} | {stream['peak_rss_mb']:.0f} MB |"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=1))
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
