"""A small CREMA-D-shaped corpus of synthetic voices, for tests and the demo.

    python -m data.synthetic OUT_DIR --actors 8 --seed 0

Writes `OUT_DIR/AudioWAV/<ActorID>_<Sentence>_<Emotion>_<Level>.wav` (16 kHz, 16-bit, the official names) and
`OUT_DIR/VideoDemographics.csv`. Each clip is a buzzy harmonic "voice" with syllable-like bursts. The six
emotions differ the way acted emotions tend to (pitch level and contour, vibrato, syllable rate, spectral
tilt, breathiness), and each actor has a pitch of their own, so a small model can learn the task but not
by reading a single number. The same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from data.audio import SAMPLING_RATE
from data.cremad import DEMOGRAPHICS_CSV, EMOTION_CODES, SENTENCES, SYNTHETIC_MARKER


@dataclass(frozen=True)
class Style:
    pitch: float  # multiplier of the actor's base pitch
    contour: float  # pitch change over the clip, in octaves
    vibrato: float  # depth of pitch wobble, relative
    syllables_per_s: float
    tilt: float  # harmonic amplitude ~ 1 / k**tilt: low is bright, high is dark
    breath: float  # noise added, relative to the voice


STYLES = {
    "ANG": Style(pitch=1.35, contour=-0.1, vibrato=0.01, syllables_per_s=6.0, tilt=0.6, breath=0.05),
    "DIS": Style(pitch=0.90, contour=-0.3, vibrato=0.00, syllables_per_s=3.0, tilt=1.4, breath=0.30),
    "FEA": Style(pitch=1.55, contour=0.2, vibrato=0.06, syllables_per_s=7.0, tilt=1.2, breath=0.20),
    "HAP": Style(pitch=1.25, contour=0.5, vibrato=0.02, syllables_per_s=5.0, tilt=0.8, breath=0.05),
    "NEU": Style(pitch=1.00, contour=0.0, vibrato=0.00, syllables_per_s=4.0, tilt=1.0, breath=0.05),
    "SAD": Style(pitch=0.85, contour=-0.5, vibrato=0.01, syllables_per_s=2.5, tilt=2.0, breath=0.15),
}
LEVELS = {"LO": 0.6, "MD": 0.8, "HI": 1.0, "XX": 0.8}


def synthesize(style: Style, base_pitch: float, level: float, rng: np.random.Generator) -> np.ndarray:
    """One clip of 1.3 to 2.6 s, float32 in [-1, 1]."""
    duration = rng.uniform(1.3, 2.6)
    t = np.arange(int(duration * SAMPLING_RATE)) / SAMPLING_RATE
    jitter = rng.normal(1.0, 0.06)
    pitch = base_pitch * style.pitch * jitter * 2 ** (style.contour * t / duration)
    pitch *= 1 + style.vibrato * np.sin(2 * np.pi * rng.uniform(5, 7) * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLING_RATE
    harmonics = np.arange(1, int(4000 / pitch.max()) + 1)
    voice = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**style.tilt for k in harmonics)
    rate = style.syllables_per_s * rng.normal(1.0, 0.08)
    envelope = np.clip(np.sin(np.pi * rate * t + rng.uniform(0, np.pi)), 0, None) ** 1.5
    noise = rng.normal(0, 1, t.size) * style.breath * np.std(voice)
    clip = (voice + noise) * envelope * level
    clip += rng.normal(0, 0.01 * np.std(clip), t.size)  # room noise, so no clip is digitally silent
    return (0.5 * clip / np.abs(clip).max()).astype(np.float32)


def write_corpus(out_dir: str | Path, actors: int = 8, sentences: int = 4, seed: int = 0) -> Path:
    """Writes the corpus and returns its clip folder (`OUT_DIR/AudioWAV`)."""
    if not 1 <= sentences <= len(SENTENCES):
        raise ValueError(f"--sentences must be between 1 and {len(SENTENCES)}, got {sentences}")
    if actors < 1:
        raise ValueError(f"--actors must be at least 1, got {actors}")
    rng = np.random.default_rng(seed)
    clip_dir = Path(out_dir) / "AudioWAV"
    clip_dir.mkdir(parents=True, exist_ok=True)
    demographics = []
    for index in range(actors):
        actor_id = 1001 + index
        sex = "Female" if index % 2 else "Male"
        base_pitch = rng.uniform(180, 240) if sex == "Female" else rng.uniform(95, 140)
        demographics.append((actor_id, int(rng.integers(20, 70)), sex, "Unknown", "Not Hispanic"))
        for sentence in SENTENCES[:sentences]:
            for code in EMOTION_CODES:
                level = "XX" if code == "NEU" else str(rng.choice(list(LEVELS)))
                clip = synthesize(STYLES[code], base_pitch, LEVELS[level], rng)
                sf.write(clip_dir / f"{actor_id}_{sentence}_{code}_{level}.wav", clip, SAMPLING_RATE, subtype="PCM_16")
    (Path(out_dir) / SYNTHETIC_MARKER).write_text(
        "This corpus is synthetic (data/synthetic.py): buzzy harmonic voices named like CREMA-D, not speech.\n"
        "Models trained on it say so in their config (training_data.corpus) and model card.\n"
    )
    with open(Path(out_dir) / DEMOGRAPHICS_CSV, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        writer.writerows(demographics)
    return clip_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="folder to write (AudioWAV/ and VideoDemographics.csv go inside)")
    parser.add_argument("--actors", type=int, default=8, help="number of actors (half male, half female)")
    parser.add_argument("--sentences", type=int, default=4, help="sentences per actor, each in all six emotions")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same corpus")
    args = parser.parse_args(argv)
    clip_dir = write_corpus(args.out_dir, args.actors, args.sentences, args.seed)
    print(f"wrote {len(list(clip_dir.glob('*.wav')))} clips from {args.actors} actors to {clip_dir}")


if __name__ == "__main__":
    main()
