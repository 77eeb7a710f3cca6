"""Channel and room augmentation of a training waveform (16 kHz mono float32): reverberation, equalisation,
band-limiting, telephone band, lossy codecs, coloured noise and babble.

Why: a model trained on one corpus learns its recording conditions (CREMA-D's microphones, rooms, levels) along
with the emotions, and scores near chance on corpora recorded otherwise (SAVEE, TESS, RAVDESS). Randomising the
channel during training makes those conditions useless as a cue.

Every piece is a module-level function `(waveform, rng, ...) -> waveform`: float32 in and out, the output as long
as the input, every random draw from the passed `np.random.Generator` (never global state), so the training
transform's per-(seed, epoch, clip) generator makes a run exactly reproducible. `ChannelAugmentation` composes them,
each with a probability, all off by default; `ChannelAugmentation.from_names(["reverb", "noise"])` is the
command-line form. Pure numpy/scipy/soundfile/soxr: no torch.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from collections.abc import Callable, Sequence

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from data.audio import SAMPLING_RATE

# ---------------------------------------------------------------------------------------------------------------
# Reverberation: a seeded bank of simulated room impulse responses (shoebox image sources + a decaying noise tail)
# ---------------------------------------------------------------------------------------------------------------

RT60_S = (0.2, 1.0)
"""Reverberation times drawn for the bank: 0.2 s is a furnished office or booth, 1.0 s a bare hall or stairwell."""

ROOM_SIZE_M = ((3.0, 10.0), (3.0, 8.0), (2.4, 4.0))
"""Shoebox length, width and height ranges: small offices to classrooms."""

SOURCE_DISTANCE_M = (0.3, 2.0)
"""Talker-to-microphone distance: a headset-ish near mic to a laptop or room mic across a desk."""

MAX_REFLECTION = 0.9
"""The largest early-reflection tap, relative to the direct path's 1."""

MIN_DRR_DB = -6.0
"""Direct-to-reverberant ratios below this are clamped: the far end of a meeting-room microphone; beyond it
listeners themselves struggle, and a near-field corpus never gets there."""

SPEED_OF_SOUND_M_S = 343.0

IMAGE_ORDER = 2
"""Image sources up to this many wall reflections form the early part; the diffuse tail stands in for the rest."""

HIGH_BAND_HZ = 2_000.0
"""Above this the tail decays faster (air and wall absorption grow with frequency)."""

HIGH_BAND_RT60_RATIO = 0.6
"""The high band's RT60 as a fraction of the low band's: typical of furnished rooms."""

RIR_BANK_SIZE = 200
"""RIRs per bank: enough variety for an epoch, generated once per process in about a second (~10 MB)."""

RIR_BANK_SEED = 0
"""The default bank: every process (DataLoader worker) builds the same one, so a run does not depend on workers."""


def simulate_rir(
    rng: np.random.Generator,
    rt60_s: float,
    room_m: tuple[float, float, float] | None = None,
    distance_m: float | None = None,
) -> np.ndarray:
    """One room impulse response, its direct path at sample 0 with amplitude 1 (so convolving keeps speech aligned).

    Early part: the image sources of a shoebox room up to `IMAGE_ORDER` reflections, with a wall reflection
    coefficient from Sabine's formula for `rt60_s`. Late part: Gaussian noise with an exponential envelope reaching
    -60 dB at `rt60_s` (faster above `HIGH_BAND_HZ`), starting after the early reflections, at the level the
    critical distance of the room gives for the talker's distance (direct-to-reverberant ratio, at least
    `MIN_DRR_DB`)."""
    room = np.array(room_m if room_m is not None else [rng.uniform(*r) for r in ROOM_SIZE_M])
    volume = float(np.prod(room))
    surface = 2.0 * (room[0] * room[1] + room[0] * room[2] + room[1] * room[2])
    absorption = float(np.clip(0.161 * volume / (surface * rt60_s), 0.02, 0.98))  # Sabine
    beta = np.sqrt(1.0 - absorption)
    distance = distance_m if distance_m is not None else rng.uniform(*SOURCE_DISTANCE_M)
    # Talker somewhere at least 0.5 m from the walls (mouth height about 1.2-1.7 m); microphone `distance` away.
    source = np.array([rng.uniform(0.5, room[0] - 0.5), rng.uniform(0.5, room[1] - 0.5), rng.uniform(1.2, 1.7)])
    direction = rng.standard_normal(3)
    direction[2] *= 0.3
    direction /= np.linalg.norm(direction)
    mic = np.clip(source + distance * direction, 0.2, room - 0.2)
    direct = float(np.linalg.norm(mic - source))

    length = int(round(1.1 * rt60_s * SAMPLING_RATE))  # the tail is at -66 dB at the end
    rir = np.zeros(length, dtype=np.float64)
    orders = np.arange(-IMAGE_ORDER, IMAGE_ORDER + 1)
    grid = np.stack(np.meshgrid(orders, orders, orders, indexing="ij"), axis=-1).reshape(-1, 3)
    grid = grid[np.abs(grid).sum(axis=1) <= IMAGE_ORDER]
    grid = grid[np.abs(grid).sum(axis=1) > 0]
    # image of the source across the walls: n even -> n L + s, n odd -> (n + 1) L - s, per axis
    images = np.where(grid % 2 == 0, grid * room + source, (grid + 1) * room - source)
    distances = np.linalg.norm(images - mic, axis=1)
    delays = np.round((distances - direct) / SPEED_OF_SOUND_M_S * SAMPLING_RATE).astype(int)
    amplitudes = beta ** np.abs(grid).sum(axis=1) * direct / distances
    inside = (delays > 0) & (delays < length)
    np.add.at(rir, delays[inside], amplitudes[inside])
    # Each reflection is weaker than the direct sound (longer path, lossy walls), but two arriving within the same
    # sample add up: capped, so the direct sound stays the strongest tap and convolving never shifts the speech.
    np.minimum(rir, MAX_REFLECTION, out=rir)
    rir[0] = 1.0

    # Diffuse tail: direct-to-reverberant energy ratio from the critical distance r_c = 0.057 sqrt(V / RT60).
    critical = 0.057 * np.sqrt(volume / rt60_s)
    early_energy = float(np.sum(rir[1:] ** 2))
    tail_energy = max(min((distance / critical) ** 2, 10.0 ** (-MIN_DRR_DB / 10.0) - early_energy), 0.01)
    start = int(delays[inside].max()) if inside.any() else 1
    times = np.arange(length - start) / SAMPLING_RATE
    low, high = _split_bands(rng.standard_normal(length - start + 512))
    decay = 3.0 * np.log(10.0) / rt60_s  # amplitude decay for -60 dB of energy at rt60_s
    tail = low[512:] * np.exp(-decay * times) + high[512:] * np.exp(-decay / HIGH_BAND_RT60_RATIO * times)
    onset = np.minimum(1.0, times / 0.01)  # a 10 ms fade-in so the tail does not start with a click
    tail *= onset
    tail *= np.sqrt(tail_energy / max(float(np.sum(tail**2)), 1e-12))
    rir[start:] += tail
    return rir.astype(np.float32)


def _split_bands(noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """White noise as its low (< `HIGH_BAND_HZ`) and high parts (complementary Butterworth filters)."""
    sos = signal.butter(4, HIGH_BAND_HZ, btype="lowpass", fs=SAMPLING_RATE, output="sos")
    low = signal.sosfilt(sos, noise)
    return low, noise - low


@functools.lru_cache(maxsize=4)
def rir_bank(
    seed: int = RIR_BANK_SEED, size: int = RIR_BANK_SIZE, rt60_s: tuple[float, float] = RT60_S
) -> tuple[np.ndarray, ...]:
    """`size` simulated RIRs with RT60 uniform in `rt60_s`, built once per process per seed (cached, read-only)."""
    rng = np.random.default_rng(seed)
    bank = []
    for _ in range(size):
        rir = simulate_rir(rng, float(rng.uniform(*rt60_s)))
        rir.setflags(write=False)
        bank.append(rir)
    return tuple(bank)


def apply_rir(waveform: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolves with a RIR whose direct path is at sample 0: same length, speech not shifted, RMS of the input."""
    waveform = np.asarray(waveform, dtype=np.float32)
    wet = signal.fftconvolve(waveform, rir)[: waveform.size]
    return _match_rms(wet, waveform)


def reverberate(
    waveform: np.ndarray,
    rng: np.random.Generator,
    rt60_s: tuple[float, float] = RT60_S,
    bank_seed: int = RIR_BANK_SEED,
) -> np.ndarray:
    """A random room from the seeded bank (see `rir_bank`) applied to the clip."""
    bank = rir_bank(bank_seed, RIR_BANK_SIZE, tuple(rt60_s))
    return apply_rir(waveform, bank[int(rng.integers(len(bank)))])


# ---------------------------------------------------------------------------------------------------------------
# Equalisation, band-limiting and the telephone band
# ---------------------------------------------------------------------------------------------------------------

EQ_GAIN_DB = (3.0, 12.0)
"""Magnitude range of each EQ band's gain (random sign): microphone and room colourations reach about 12 dB."""

EQ_BANDS = (2, 4)
"""How many random peaking/shelving filters one EQ stacks (inclusive)."""

LOWPASS_HZ = (3_000.0, 7_000.0)
"""Band-limiting low-pass cutoffs: cheap microphones, narrowband-to-wideband codecs and old recordings."""

HIGHPASS_HZ = (100.0, 400.0)
"""Band-limiting high-pass cutoffs: small capsules, rumble filters, laptop microphones."""

TELEPHONE_BAND_HZ = (300.0, 3_400.0)
"""The narrowband telephone channel (ITU-T G.712)."""

TELEPHONE_RATE = 8_000
"""The narrowband telephone sampling rate the down-up resampling goes through."""

TELEPHONE_RESAMPLE_PROB = 0.5
"""How often the telephone channel also resamples via 8 kHz with G.711 mu-law 8-bit quantisation."""

MU_LAW = 255.0


def biquad(kind: str, frequency_hz: float, gain_db: float, q: float = 0.707) -> np.ndarray:
    """One second-order section (RBJ audio EQ cookbook): `kind` is "peaking", "lowshelf" or "highshelf"."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * frequency_hz / SAMPLING_RATE
    cos, alpha = np.cos(w0), np.sin(w0) / (2.0 * q)
    if kind == "peaking":
        b = [1 + alpha * a, -2 * cos, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cos, 1 - alpha / a]
    elif kind in ("lowshelf", "highshelf"):
        root = 2.0 * np.sqrt(a) * alpha
        sign = 1.0 if kind == "lowshelf" else -1.0
        b = [
            a * ((a + 1) - sign * (a - 1) * cos + root),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos),
            a * ((a + 1) - sign * (a - 1) * cos - root),
        ]
        den = [
            (a + 1) + sign * (a - 1) * cos + root,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos),
            (a + 1) + sign * (a - 1) * cos - root,
        ]
    else:
        raise ValueError(f"unknown biquad kind {kind!r}: peaking, lowshelf or highshelf")
    return np.array([*b, *den], dtype=np.float64) / den[0]


def random_eq(waveform: np.ndarray, rng: np.random.Generator, gain_db: tuple[float, float] = EQ_GAIN_DB) -> np.ndarray:
    """A few random peaking (150 Hz-6 kHz, Q 0.5-2) and shelving filters, each of gain +-`gain_db`: a random
    microphone and room colouration."""
    sections = []
    for _ in range(int(rng.integers(EQ_BANDS[0], EQ_BANDS[1] + 1))):
        gain = float(rng.uniform(*gain_db)) * (1.0 if rng.random() < 0.5 else -1.0)
        kind = ("peaking", "lowshelf", "highshelf")[int(rng.integers(3))]
        if kind == "peaking":
            centre = float(np.exp(rng.uniform(np.log(150.0), np.log(6_000.0))))
            sections.append(biquad(kind, centre, gain, float(rng.uniform(0.5, 2.0))))
        elif kind == "lowshelf":
            sections.append(biquad(kind, float(rng.uniform(100.0, 500.0)), gain))
        else:
            sections.append(biquad(kind, float(rng.uniform(2_000.0, 6_000.0)), gain))
    return _filter(np.stack(sections), waveform)


def band_limit(
    waveform: np.ndarray,
    rng: np.random.Generator,
    lowpass_hz: tuple[float, float] = LOWPASS_HZ,
    highpass_hz: tuple[float, float] = HIGHPASS_HZ,
) -> np.ndarray:
    """A random low-pass and high-pass (4th-order Butterworth each, causal like a real channel)."""
    low = signal.butter(4, float(rng.uniform(*lowpass_hz)), btype="lowpass", fs=SAMPLING_RATE, output="sos")
    high = signal.butter(4, float(rng.uniform(*highpass_hz)), btype="highpass", fs=SAMPLING_RATE, output="sos")
    return _filter(np.concatenate([low, high]), waveform)


@functools.lru_cache(maxsize=1)
def _telephone_sos() -> np.ndarray:
    return signal.butter(8, TELEPHONE_BAND_HZ, btype="bandpass", fs=SAMPLING_RATE, output="sos")


def telephone(
    waveform: np.ndarray, rng: np.random.Generator, resample_prob: float = TELEPHONE_RESAMPLE_PROB
) -> np.ndarray:
    """The 300-3400 Hz telephone band (8th-order Butterworth band-pass); with probability `resample_prob` also
    down to 8 kHz, G.711 mu-law 8-bit quantisation, and back up (soxr), as a landline or VoIP call would."""
    waveform = np.asarray(waveform, dtype=np.float32)
    out = _filter(_telephone_sos(), waveform)
    if rng.random() < resample_prob:
        narrow = soxr.resample(out, SAMPLING_RATE, TELEPHONE_RATE, quality="HQ")
        narrow = mu_law_quantise(narrow)
        out = _fit_length(soxr.resample(narrow, TELEPHONE_RATE, SAMPLING_RATE, quality="HQ"), waveform.size)
    return out.astype(np.float32)


def mu_law_quantise(waveform: np.ndarray) -> np.ndarray:
    """G.711 mu-law companding to 8 bits and back, at the clip's own level (peak scaled to full scale)."""
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    if peak == 0.0:
        return waveform
    x = waveform / peak
    compressed = np.sign(x) * np.log1p(MU_LAW * np.abs(x)) / np.log1p(MU_LAW)
    compressed = np.round(compressed * 127.0) / 127.0
    return (np.sign(compressed) * np.expm1(np.abs(compressed) * np.log1p(MU_LAW)) / MU_LAW * peak).astype(np.float32)


def _filter(sos: np.ndarray, waveform: np.ndarray) -> np.ndarray:
    return signal.sosfilt(sos, np.asarray(waveform, dtype=np.float64)).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Lossy codecs (soundfile/libsndfile in memory)
# ---------------------------------------------------------------------------------------------------------------

CODECS = {
    # name: (format, subtype, compression_level range, bitrate_mode); bitrates measured at 16 kHz on white noise (speech takes less)
    "mp3": ("MP3", "MPEG_LAYER_III", (0.5, 0.95), "VARIABLE"),  # ~16-30 kb/s VBR: podcasts, old web audio
    "vorbis": ("OGG", "VORBIS", (0.6, 1.0), None),  # ~30-50 kb/s: the lowest Vorbis quality settings
    "opus": ("OGG", "OPUS", (0.8, 1.0), None),  # ~8-40 kb/s: VoIP and messaging apps
}
"""The codecs `codec` can pick from; compression levels chosen for clearly audible but intelligible damage."""

DEFAULT_CODECS = ("mp3", "vorbis")
"""What `codec` picks from by default: ~15 ms per 2 s clip. Opus is opt-in (`codecs=tuple(CODECS)`): libopus
works at 48 kHz, so a 2 s clip costs ~70 ms, a data-loader bottleneck at codec_prob 0.2 on a few cores."""

MAX_CODEC_DELAY = 2_048
"""Largest encoder delay `codec` looks for when realigning (MP3's is 1,105 samples where a decoder keeps it)."""

CODEC_HEADROOM = 0.9
"""Peak level the clip is scaled to before encoding (and back after), so no codec clips it."""


def codec(waveform: np.ndarray, rng: np.random.Generator, codecs: Sequence[str] = DEFAULT_CODECS) -> np.ndarray:
    """Encodes and decodes through a random lossy codec in memory; the output is realigned to the input by
    cross-correlation (encoder delay and priming removed whether or not the decoder does it) and as long as it."""
    waveform = np.asarray(waveform, dtype=np.float32)
    name = codecs[int(rng.integers(len(codecs)))]
    fmt, subtype, levels, mode = CODECS[name]
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    if peak == 0.0:
        return waveform.copy()
    scale = CODEC_HEADROOM / peak
    buffer = io.BytesIO()
    extra = {"bitrate_mode": mode} if mode else {}
    level = float(rng.uniform(*levels))
    sf.write(buffer, waveform * scale, SAMPLING_RATE, format=fmt, subtype=subtype, compression_level=level, **extra)
    buffer.seek(0)
    decoded, rate = sf.read(buffer, dtype="float32")
    if rate != SAMPLING_RATE:
        decoded = soxr.resample(decoded, rate, SAMPLING_RATE, quality="HQ")
    lag = estimate_lag(waveform, decoded, MAX_CODEC_DELAY)
    decoded = decoded[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, dtype=np.float32), decoded])
    return (_fit_length(decoded, waveform.size) / scale).astype(np.float32)


def estimate_lag(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    """The lag (in samples, within +-`max_lag`) at which `delayed` best matches `reference`:
    `delayed[t + lag] ~ reference[t]`. FFT cross-correlation."""
    size = int(2 ** np.ceil(np.log2(max(reference.size, delayed.size) + max_lag + 1)))
    correlation = np.fft.irfft(np.fft.rfft(delayed, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([correlation[: max_lag + 1], correlation[size - max_lag :]])
    return int(lags[int(np.argmax(values))])


# ---------------------------------------------------------------------------------------------------------------
# Noise and babble
# ---------------------------------------------------------------------------------------------------------------

NOISE_SNR_DB = (10.0, 30.0)
"""Stationary noise SNRs: 30 dB a quiet room, 10 dB a fan or street nearby; below 10 dB white noise masks most
of the consonants' band, harsher than the recordings the model is meant for."""

NOISE_COLOURS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
"""Spectral slopes (power ~ 1 / f^exponent): hiss, most room and ventilation noise, rumble."""

NOISE_MIN_HZ = 20.0
"""Coloured noise is flat below this, so pink and brown noise carry no DC or sub-audio drift."""

BABBLE_SNR_DB = (5.0, 25.0)
"""Babble SNRs: 25 dB distant chatter, 5 dB a busy cafe next table."""

BABBLE_TALKERS = (3, 6)
"""Other clips summed into one babble (inclusive): fewer is intelligible competing speech, more is a murmur."""

BabbleSource = Sequence[np.ndarray] | Callable[[np.random.Generator], np.ndarray]
"""Other training clips: a list to pick from, or a callable returning one random clip per call."""


def coloured_noise(num_samples: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectral density ~ 1 / f^exponent (0 white, 1 pink, 2 brown), unit variance."""
    white = rng.standard_normal(num_samples)
    if exponent == 0.0:
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        frequencies = np.maximum(np.fft.rfftfreq(num_samples, 1.0 / SAMPLING_RATE), NOISE_MIN_HZ)
        spectrum *= frequencies ** (-exponent / 2.0)
        spectrum[0] = 0.0
        noise = np.fft.irfft(spectrum, num_samples)
    noise = noise - noise.mean()
    return (noise / max(float(np.std(noise)), 1e-12)).astype(np.float32)


def mix_at_snr(waveform: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`waveform + noise` with the noise scaled so that 10 log10(P_waveform / P_noise) is `snr_db` over the clip."""
    waveform = np.asarray(waveform, dtype=np.float32)
    signal_power = float(np.mean(np.square(waveform, dtype=np.float64)))
    noise_power = float(np.mean(np.square(noise, dtype=np.float64)))
    if signal_power == 0.0 or noise_power == 0.0:
        return waveform.copy()
    gain = np.sqrt(signal_power / (noise_power * 10.0 ** (snr_db / 10.0)))
    return (waveform + gain * noise).astype(np.float32)


def add_noise(
    waveform: np.ndarray,
    rng: np.random.Generator,
    snr_db: tuple[float, float] = NOISE_SNR_DB,
    colours: Sequence[str] = tuple(NOISE_COLOURS),
) -> np.ndarray:
    """White, pink or brown noise at an SNR uniform in `snr_db`."""
    colour = colours[int(rng.integers(len(colours)))]
    noise = coloured_noise(np.asarray(waveform).size, rng, NOISE_COLOURS[colour])
    return mix_at_snr(waveform, noise, float(rng.uniform(*snr_db)))


def babble_noise(
    num_samples: int, rng: np.random.Generator, clips: BabbleSource, talkers: tuple[int, int] = BABBLE_TALKERS
) -> np.ndarray:
    """The sum of 3-6 other clips, each at unit RMS, from a random offset and looped to `num_samples`."""
    count = int(rng.integers(talkers[0], talkers[1] + 1))
    if callable(clips):
        chosen = [np.asarray(clips(rng), dtype=np.float32) for _ in range(count)]
    else:
        if len(clips) == 0:
            raise ValueError("babble needs at least one other clip")
        picks = rng.choice(len(clips), size=min(count, len(clips)), replace=False)
        chosen = [np.asarray(clips[int(i)], dtype=np.float32) for i in picks]
    babble = np.zeros(num_samples, dtype=np.float64)
    for clip in chosen:
        rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)))) if clip.size else 0.0
        if rms == 0.0:
            continue
        start = int(rng.integers(clip.size))
        babble += np.take(clip, np.arange(start, start + num_samples), mode="wrap") / rms
    return babble.astype(np.float32)


def add_babble(
    waveform: np.ndarray,
    rng: np.random.Generator,
    clips: BabbleSource,
    snr_db: tuple[float, float] = BABBLE_SNR_DB,
    talkers: tuple[int, int] = BABBLE_TALKERS,
) -> np.ndarray:
    """Babble of other clips (see `babble_noise`) at an SNR uniform in `snr_db`."""
    babble = babble_noise(np.asarray(waveform).size, rng, clips, talkers)
    return mix_at_snr(waveform, babble, float(rng.uniform(*snr_db)))


def _match_rms(out: np.ndarray, reference: np.ndarray) -> np.ndarray:
    target = float(np.sqrt(np.mean(np.square(reference, dtype=np.float64)))) if reference.size else 0.0
    current = float(np.sqrt(np.mean(np.square(out, dtype=np.float64)))) if out.size else 0.0
    return (out * (target / current) if current > 0.0 else out).astype(np.float32)


def _fit_length(waveform: np.ndarray, num_samples: int) -> np.ndarray:
    if waveform.size >= num_samples:
        return waveform[:num_samples]
    return np.concatenate([waveform, np.zeros(num_samples - waveform.size, dtype=waveform.dtype)])


# ---------------------------------------------------------------------------------------------------------------
# The composition
# ---------------------------------------------------------------------------------------------------------------

PIECES = ("reverb", "babble", "noise", "eq", "bandlimit", "telephone", "codec")
"""Names of the pieces, in the order a recording chain applies them: the room (reverberation, then the sounds
in it), the microphone (colouration, band-limiting), then the transmission (telephone, codec)."""

DEFAULT_PROBABILITIES = {
    "reverb": 0.3,
    "babble": 0.2,
    "noise": 0.3,
    "eq": 0.3,
    "bandlimit": 0.2,
    "telephone": 0.1,
    "codec": 0.2,
}
"""What `from_names` turns a named piece on with. With all on, a clip gets ~1.6 corruptions on average and ~15%
of clips stay clean, so the in-domain condition is still seen; telephone is rarest as it removes the most."""


RANGE_FIELDS = ("rt60_s", "babble_snr_db", "babble_talkers", "noise_snr_db", "eq_gain_db", "lowpass_hz", "highpass_hz")
"""`ChannelAugmentation`'s (low, high) fields, checked for low <= high."""


@dataclasses.dataclass(frozen=True)
class ChannelAugmentation:
    """Random room and channel of a training clip: each piece applied with its probability, all off by default.

    `augmentation(waveform, rng, babble=other_clips)` returns a new float32 array as long as the input. The
    per-piece decisions and each piece's own generator are drawn from `rng` up front, so turning one piece on or
    off does not change what the others do to a given clip (ablations compare like with like). When every
    probability is 0 the input is returned as a copy and `rng` is not touched, so an augmentation that is off
    leaves a run identical to one without it."""

    reverb_prob: float = 0.0
    rt60_s: tuple[float, float] = RT60_S
    rir_bank_seed: int = RIR_BANK_SEED
    babble_prob: float = 0.0
    babble_snr_db: tuple[float, float] = BABBLE_SNR_DB
    babble_talkers: tuple[int, int] = BABBLE_TALKERS
    noise_prob: float = 0.0
    noise_snr_db: tuple[float, float] = NOISE_SNR_DB
    eq_prob: float = 0.0
    eq_gain_db: tuple[float, float] = EQ_GAIN_DB
    bandlimit_prob: float = 0.0
    lowpass_hz: tuple[float, float] = LOWPASS_HZ
    highpass_hz: tuple[float, float] = HIGHPASS_HZ
    telephone_prob: float = 0.0
    telephone_resample_prob: float = TELEPHONE_RESAMPLE_PROB
    codec_prob: float = 0.0
    codecs: tuple[str, ...] = DEFAULT_CODECS

    def __post_init__(self):
        for name in PIECES:
            value = getattr(self, f"{name}_prob")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"`{name}_prob` must be in [0, 1], got {value}")
        for field in RANGE_FIELDS:
            low, high = getattr(self, field)
            if low > high:
                raise ValueError(f"`{field}` must be (low, high) with low <= high, got {(low, high)}")
        unknown = set(self.codecs) - set(CODECS)
        if unknown or not self.codecs:
            raise ValueError(f"`codecs` must be a non-empty subset of {tuple(CODECS)}, got {self.codecs}")

    @classmethod
    def from_names(cls, names: Sequence[str] | None, **overrides) -> ChannelAugmentation:
        """From a command line's list: `["reverb", "noise"]` turns those on with `DEFAULT_PROBABILITIES`;
        `"noise=0.5"` sets a probability; `[]`, `None` or `["none"]` is all off. Other fields via `overrides`."""
        probabilities = {}
        for item in names or ():
            name, _, value = item.partition("=")
            name = name.strip().lower()
            if name == "none":
                continue
            if name not in PIECES:
                raise ValueError(f"unknown channel augmentation {name!r}: choose from {', '.join(PIECES)} (or none)")
            probabilities[f"{name}_prob"] = float(value) if value else DEFAULT_PROBABILITIES[name]
        return cls(**{**probabilities, **overrides})

    @property
    def enabled(self) -> tuple[str, ...]:
        """The pieces with a non-zero probability."""
        return tuple(name for name in PIECES if getattr(self, f"{name}_prob") > 0.0)

    def __call__(
        self, waveform: np.ndarray, rng: np.random.Generator, babble: BabbleSource | None = None
    ) -> np.ndarray:
        waveform = np.asarray(waveform, dtype=np.float32)
        if not self.enabled:
            return waveform.copy()
        if self.babble_prob > 0.0 and babble is None:
            raise ValueError("`babble_prob` > 0 needs `babble`: other training clips (a list or a callable)")
        decisions = rng.random(len(PIECES))
        seeds = rng.integers(0, 2**63, size=len(PIECES))
        out = waveform.copy()
        for name, decision, seed in zip(PIECES, decisions, seeds):
            if decision < getattr(self, f"{name}_prob"):
                out = self._apply(name, out, np.random.default_rng(int(seed)), babble)
        return out.astype(np.float32)

    def _apply(
        self, name: str, waveform: np.ndarray, rng: np.random.Generator, babble: BabbleSource | None
    ) -> np.ndarray:
        if name == "reverb":
            return reverberate(waveform, rng, self.rt60_s, self.rir_bank_seed)
        if name == "babble":
            return add_babble(waveform, rng, babble, self.babble_snr_db, self.babble_talkers)
        if name == "noise":
            return add_noise(waveform, rng, self.noise_snr_db)
        if name == "eq":
            return random_eq(waveform, rng, self.eq_gain_db)
        if name == "bandlimit":
            return band_limit(waveform, rng, self.lowpass_hz, self.highpass_hz)
        if name == "telephone":
            return telephone(waveform, rng, self.telephone_resample_prob)
        return codec(waveform, rng, self.codecs)
