"""Expressive styles: a fixed inventory of prosody settings that every engine renders with its own controls.

A `Style` is engine-neutral: a speaking-rate factor, a pitch shift in semitones, a pitch-range factor,
a loudness factor and a whisper flag. Each engine maps it onto what it has (espeak: rate in words per
minute, pitch and range 0-99, amplitude, the `+whisper` variant; flite and festival: duration stretch
and F0 target mean / spread; Piper: length scale; loudness is a gain on the waveform everywhere).
Engines that cannot render a style (whisper outside espeak, pitch on Piper) say so in `supports()`.

The emotional styles follow the acoustic correlates that speech-emotion work reports: happy = higher,
wider pitch and a little faster; sad = lower, flat pitch, slower and softer; angry = louder, faster,
wide pitch. The Expresso-like subset picks the style from the text's sentiment (`style_for_sentiment`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    rate: float = 1.0  # speaking-rate factor (2.0 = twice as fast)
    pitch: float = 0.0  # F0 shift in semitones
    range: float = 1.0  # F0 range (intonation spread) factor
    volume: float = 1.0  # loudness factor (gain)
    whisper: bool = False

    @property
    def changes_pitch(self) -> bool:
        return self.pitch != 0.0 or self.range != 1.0


STYLES: dict[str, Style] = {s.name: s for s in (
    Style("neutral"),
    Style("happy", rate=1.1, pitch=3.0, range=1.6, volume=1.1),
    Style("sad", rate=0.8, pitch=-3.0, range=0.4, volume=0.7),
    Style("angry", rate=1.15, pitch=1.0, range=1.8, volume=1.5),
    Style("whisper", rate=0.95, volume=1.0, whisper=True),
    Style("fast", rate=1.45),
    Style("slow", rate=0.7),
    Style("loud", volume=1.7),
)}
EMOTIONS = ("neutral", "happy", "sad", "angry")


def get_style(name: str) -> Style:
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; valid styles: {', '.join(STYLES)}")
    return STYLES[name]


def style_for_sentiment(label: str, compound: float) -> str:
    """The Expresso-like mapping: positive -> happy, negative -> sad or angry (strongly negative), else neutral."""
    if label == "positive":
        return "happy"
    if label == "negative":
        return "angry" if compound <= -0.6 else "sad"
    if label == "neutral":
        return "neutral"
    raise ValueError(f"unknown sentiment label {label!r}; valid: positive, neutral, negative")
