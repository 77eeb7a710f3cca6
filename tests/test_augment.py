"""Channel augmentation: each piece does what it says (measured), keeps the clip aligned and its length and dtype,
is reproducible from its generator, and the composition is the identity when off."""

from __future__ import annotations

import numpy as np
import pytest

from data.audio import SAMPLING_RATE
from litecnn_ser import augment

SECONDS = 2


def speech_like(seed: int = 0, seconds: float = SECONDS) -> np.ndarray:
    """Harmonic tones (gliding pitch) with a syllabic 4 Hz envelope plus a little breath noise: broadband and
    non-stationary like speech, with a sharp autocorrelation peak so lags are measurable."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLING_RATE)) / SAMPLING_RATE
    pitch = 140.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLING_RATE
    voiced = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 25))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t)) ** 2
    return (0.1 * envelope * voiced + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def lag_of(reference: np.ndarray, out: np.ndarray, max_lag: int = 4_000) -> int:
    return augment.estimate_lag(reference, out, max_lag)


def gcc_phat_lag(reference: np.ndarray, out: np.ndarray, max_lag: int = 4_000) -> int:
    """The delay of `out` against `reference` by phase-transform cross-correlation: the standard time-delay
    estimate under reverberation (a plain cross-correlation of periodic voiced sounds has many near-equal peaks)."""
    size = 2 * max(reference.size, out.size)
    cross = np.fft.rfft(out, size) * np.conj(np.fft.rfft(reference, size))
    correlation = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), size)
    lags = np.r_[0 : max_lag + 1, -max_lag:0]
    return int(lags[np.argmax(np.r_[correlation[: max_lag + 1], correlation[size - max_lag :]])])


def band_power(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    frequencies = np.fft.rfftfreq(x.size, 1.0 / SAMPLING_RATE)
    return float(spectrum[(frequencies >= low) & (frequencies < high)].mean())


def white(seed: int = 1) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(SECONDS * SAMPLING_RATE)).astype(np.float32)


def t20_rt60(rir: np.ndarray) -> float:
    """RT60 from the Schroeder backward-integrated decay between -5 and -25 dB (T20 x 3)."""
    energy = np.cumsum((rir.astype(np.float64) ** 2)[::-1])[::-1]
    decay = 10 * np.log10(energy / energy[0])
    return 3.0 * (np.argmax(decay <= -25) - np.argmax(decay <= -5)) / SAMPLING_RATE


PIECES = {
    "reverb": lambda x, rng: augment.reverberate(x, rng),
    "eq": lambda x, rng: augment.random_eq(x, rng),
    "bandlimit": lambda x, rng: augment.band_limit(x, rng),
    "telephone": lambda x, rng: augment.telephone(x, rng),
    "codec": lambda x, rng: augment.codec(x, rng),
    "noise": lambda x, rng: augment.add_noise(x, rng),
    "babble": lambda x, rng: augment.add_babble(x, rng, [speech_like(s, 1.3) for s in range(10, 16)]),
}


@pytest.mark.parametrize("name", sorted(PIECES))
def test_each_piece_changes_the_clip_keeps_length_dtype_and_is_reproducible(name):
    """A piece that returns its input, changes the length or dtype, or draws from global state fails."""
    clip = speech_like()
    first = PIECES[name](clip, np.random.default_rng(3))
    again = PIECES[name](clip, np.random.default_rng(3))
    others = [PIECES[name](clip, np.random.default_rng(seed)) for seed in (4, 5, 6)]
    assert first.shape == clip.shape and first.dtype == np.float32
    assert np.all(np.isfinite(first))
    assert not np.allclose(first, clip, atol=1e-4), "the piece left the clip unchanged"
    np.testing.assert_array_equal(first, again)
    assert any(not np.array_equal(first, other) for other in others), "different seeds gave the same output"
    assert np.array_equal(clip, speech_like()), "the input was modified in place"


@pytest.mark.parametrize("rt60", [0.3, 0.8])
def test_simulated_rir_decays_with_the_requested_rt60(rt60):
    """The tail reaches -60 dB about `rt60` after the direct sound (T20 within 35%), direct path first."""
    for seed in range(3):
        rir = augment.simulate_rir(np.random.default_rng(seed), rt60)
        assert rir[0] == 1.0 and np.argmax(np.abs(rir)) == 0
        assert 0.65 * rt60 <= t20_rt60(rir) <= 1.35 * rt60, t20_rt60(rir)


def test_reverb_adds_a_decaying_tail_after_an_impulse_and_keeps_speech_aligned():
    clip = np.zeros(SECONDS * SAMPLING_RATE, dtype=np.float32)
    clip[4_000] = 1.0
    out = augment.reverberate(clip, np.random.default_rng(0))
    assert np.argmax(np.abs(out)) == 4_000, "the direct sound moved"
    assert np.max(np.abs(out[:4_000])) < 1e-6 * out[4_000], "energy before the sound (a non-causal or shifted RIR)"
    tail = out[4_000 + 80 :].astype(np.float64) ** 2  # after 5 ms
    early, late = tail[:1_600].sum(), tail[8_000:9_600].sum()  # 5-105 ms vs 505-605 ms after the impulse
    assert early > 0.01 * out[4_000] ** 2, "no reverberant tail"
    assert late < 0.1 * early, "the tail does not decay"
    noise, speech = white(), speech_like()
    for rir in augment.rir_bank(0, 40):
        assert abs(lag_of(noise, augment.apply_rir(noise, rir))) <= 2
        reverberant = augment.apply_rir(speech, rir)
        assert abs(gcc_phat_lag(speech, reverberant)) <= 2
        assert np.isclose(np.std(reverberant), np.std(speech), rtol=0.05), "the level changed"


def test_rir_bank_is_cached_seeded_and_read_only():
    bank = augment.rir_bank(0, 8)
    assert bank is augment.rir_bank(0, 8)
    other = augment.rir_bank(1, 8)
    assert not np.array_equal(bank[0], other[0])
    with pytest.raises(ValueError):
        bank[0][1] = 5.0


def test_telephone_band_removes_energy_outside_300_to_3400_hz():
    noise = white()
    for seed in range(4):  # with and without the 8 kHz mu-law path
        out = augment.telephone(noise, np.random.default_rng(seed))
        passband = band_power(out, 500, 3_000) / band_power(noise, 500, 3_000)
        below = band_power(out, 20, 200) / band_power(noise, 20, 200)
        above = band_power(out, 3_900, 8_000) / band_power(noise, 3_900, 8_000)
        assert 10 * np.log10(below / passband) < -25
        assert 10 * np.log10(above / passband) < -25
        outside = (band_power(out, 0, 300) * 300 + band_power(out, 3_400, 8_000) * 4_600) / (
            band_power(out, 0, 8_000) * 8_000
        )
        assert outside < 0.05, outside


def test_telephone_resampling_path_quantises_like_g711():
    always = augment.telephone(white(), np.random.default_rng(0), resample_prob=1.0)
    never = augment.telephone(white(), np.random.default_rng(0), resample_prob=0.0)
    assert not np.allclose(always, never, atol=1e-4)
    assert abs(lag_of(never, always)) <= 1
    levels = np.unique(np.round(augment.mu_law_quantise(white()), 7))
    assert levels.size <= 255


def test_eq_changes_the_spectrum_by_up_to_its_gain():
    noise = white()
    edges = np.geomspace(100, 7_000, 13)
    for seed in range(4):
        out = augment.random_eq(noise, np.random.default_rng(seed))
        assert out.shape == noise.shape and out.dtype == np.float32
        ratios = np.array(
            [10 * np.log10(band_power(out, lo, hi) / band_power(noise, lo, hi)) for lo, hi in zip(edges, edges[1:])]
        )
        assert np.ptp(ratios) > 3.0, "the spectrum was not shaped"
        assert np.max(np.abs(ratios)) < 4 * augment.EQ_GAIN_DB[1], "far more gain than the bands can give"


def test_band_limit_cuts_above_the_low_pass_and_below_the_high_pass():
    noise = white()
    out = augment.band_limit(noise, np.random.default_rng(0), lowpass_hz=(4_000, 4_000), highpass_hz=(300, 300))
    passband = band_power(out, 800, 3_000) / band_power(noise, 800, 3_000)
    assert band_power(out, 6_000, 8_000) / band_power(noise, 6_000, 8_000) < 0.01 * passband
    assert band_power(out, 20, 120) / band_power(noise, 20, 120) < 0.01 * passband


@pytest.mark.parametrize("name", sorted(augment.CODECS))
def test_codec_output_is_aligned_and_close_below_its_cutoff(name):
    """Within 3 dB per band below 3 kHz (Opus at ~8 kb/s also loses 3-5 dB of level: 6 dB), over several draws."""
    clip = speech_like()
    tolerance_db = 6.0 if name == "opus" else 3.0
    for seed in range(4):
        out = augment.codec(clip, np.random.default_rng(seed), codecs=(name,))
        assert out.shape == clip.shape and out.dtype == np.float32
        assert abs(lag_of(clip, out)) <= 2, "encoder delay not compensated"
        assert not np.allclose(out, clip, atol=1e-4)
        for low, high in [(100, 500), (500, 1_500), (1_500, 3_000)]:
            ratio_db = 10 * np.log10(band_power(out, low, high) / band_power(clip, low, high))
            assert abs(ratio_db) < tolerance_db, (seed, low, high, ratio_db)
        assert np.corrcoef(clip, out)[0, 1] > 0.9


def test_codec_realignment_finds_a_known_delay():
    """The realignment `codec` relies on: a clip delayed by 1,105 samples (MP3's encoder delay) is found."""
    clip = speech_like()
    delayed = np.concatenate([np.zeros(1_105, dtype=np.float32), clip])
    assert augment.estimate_lag(clip, delayed, augment.MAX_CODEC_DELAY) == 1_105
    assert augment.estimate_lag(delayed, clip, augment.MAX_CODEC_DELAY) == -1_105


@pytest.mark.parametrize("snr_db", [5.0, 12.5, 30.0])
@pytest.mark.parametrize("colour", sorted(augment.NOISE_COLOURS))
def test_noise_is_added_at_the_requested_snr(snr_db, colour):
    clip = speech_like()
    out = augment.add_noise(clip, np.random.default_rng(0), snr_db=(snr_db, snr_db), colours=(colour,))
    noise = out.astype(np.float64) - clip
    measured = 10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / np.mean(noise**2))
    assert abs(measured - snr_db) < 0.5


def test_noise_colours_have_their_spectral_slopes():
    """Pink falls ~3 dB and brown ~6 dB per octave; white is flat."""
    for colour, exponent in augment.NOISE_COLOURS.items():
        noise = augment.coloured_noise(8 * SAMPLING_RATE, np.random.default_rng(0), exponent)
        slope = 10 * np.log10(band_power(noise, 1_600, 3_200) / band_power(noise, 200, 400)) / 3  # per octave
        assert abs(slope + 3.0 * exponent) < 1.0, (colour, slope)


def test_babble_mixes_several_other_clips_at_the_requested_snr():
    clip = speech_like()
    others = [speech_like(seed, 0.7) for seed in range(10, 20)]  # shorter than the clip: looped
    out = augment.add_babble(clip, np.random.default_rng(0), others, snr_db=(10.0, 10.0))
    babble = out.astype(np.float64) - clip
    assert abs(10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / np.mean(babble**2)) - 10.0) < 0.5
    assert np.all(babble[-1000:] != 0.0), "shorter clips were not looped to the clip's length"
    # a callable source is called once per talker, with the generator
    calls = []

    def source(rng):
        calls.append(rng)
        return others[int(rng.integers(len(others)))]

    augment.add_babble(clip, np.random.default_rng(0), source, talkers=(4, 4))
    assert len(calls) == 4


def test_all_off_default_is_the_identity_and_does_not_touch_the_generator():
    clip = speech_like()
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    for augmentation in (augment.ChannelAugmentation(), augment.ChannelAugmentation.from_names([])):
        out = augmentation(clip, rng)
        np.testing.assert_array_equal(out, clip)
        assert out is not clip and out.dtype == np.float32
    assert rng.bit_generator.state == state


def test_composition_is_reproducible_and_pieces_are_independent_of_each_other():
    clip = speech_like()
    babble = [speech_like(seed, 1.0) for seed in range(10, 16)]
    everything = augment.ChannelAugmentation.from_names(list(augment.PIECES))
    first = everything(clip, np.random.default_rng(7), babble=babble)
    np.testing.assert_array_equal(first, everything(clip, np.random.default_rng(7), babble=babble))
    assert not np.array_equal(first, everything(clip, np.random.default_rng(8), babble=babble))
    assert first.shape == clip.shape and first.dtype == np.float32
    # always-on reverb does the same to a clip whether noise is also on or not (per-piece generators)
    reverb = augment.ChannelAugmentation(reverb_prob=1.0)
    with_noise = augment.ChannelAugmentation(reverb_prob=1.0, noise_prob=1.0)
    only = reverb(clip, np.random.default_rng(1))
    both = with_noise(clip, np.random.default_rng(1))
    assert not np.array_equal(only, both)
    bare_noise = both.astype(np.float64) - only
    assert 10 * np.log10(np.mean(only.astype(np.float64) ** 2) / np.mean(bare_noise**2)) >= 10.0 - 0.5


def test_probabilities_are_respected():
    clip = speech_like(seconds=0.5)
    half = augment.ChannelAugmentation(noise_prob=0.5)
    changed = sum(not np.array_equal(half(clip, np.random.default_rng(seed)), clip) for seed in range(200))
    assert 70 <= changed <= 130
    always = augment.ChannelAugmentation(noise_prob=0.0, eq_prob=1.0)
    assert all(not np.array_equal(always(clip, np.random.default_rng(seed)), clip) for seed in range(20))


def test_from_names_parses_a_command_line_list():
    augmentation = augment.ChannelAugmentation.from_names(["reverb", "noise=0.5", "Codec"], noise_snr_db=(15, 20))
    assert augmentation.reverb_prob == augment.DEFAULT_PROBABILITIES["reverb"]
    assert augmentation.noise_prob == 0.5 and augmentation.noise_snr_db == (15, 20)
    assert augmentation.codec_prob == augment.DEFAULT_PROBABILITIES["codec"]
    assert augmentation.enabled == ("reverb", "noise", "codec")
    assert augment.ChannelAugmentation.from_names(["none"]).enabled == ()
    with pytest.raises(ValueError, match="unknown channel augmentation 'echo'"):
        augment.ChannelAugmentation.from_names(["echo"])
    with pytest.raises(ValueError, match="`noise_prob`"):
        augment.ChannelAugmentation.from_names(["noise=2"])
    with pytest.raises(ValueError, match="`noise_snr_db`"):
        augment.ChannelAugmentation(noise_snr_db=(30, 10))
    with pytest.raises(ValueError, match="needs `babble`"):
        augment.ChannelAugmentation(babble_prob=1.0)(speech_like(), np.random.default_rng(0))
