"""flite (CMU Flite 2.2) through its command-line program: four distinct recorded-speaker voices.

`flite -psdur` prints every phone of the utterance with its end time (`hh:0.255 ax:0.304 ...`); `pau` is
silence. flite does not say which phones make which word, so we ask its letter-to-sound front end
(`t2p`, same lexicon) for each word's phones, with a comma between words so that each word is
pronounced on its own, and cut the timed phone sequence by those counts. If the counts do not add up
(a post-lexical rule changed the sentence), the item is skipped rather than mis-aligned.

Prosody: `duration_stretch` (1 / rate) and the F0 targets `int_f0_target_mean` / `int_f0_target_stddev`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from ....audio import read_file, to_mono
from ..manifest import TimedPhone, text_words
from ..styles import Style
from .base import EngineError, Synthesis, Voice, finish, speaker_id, words_from_phones

# voice -> (typical F0 in Hz, typical F0 spread in Hz)
VOICES = {"kal16": (105.0, 14.0), "awb": (115.0, 20.0), "rms": (100.0, 15.0), "slt": (170.0, 25.0)}
_SILENCE = frozenset({"pau", "h#", "brth"})
_TIMEOUT = 60


def _run(cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise EngineError(f"{cmd[0]} failed: {e}") from e
    if res.returncode != 0:
        raise EngineError(f"{cmd[0]} exited with {res.returncode}: {res.stderr.strip()[:200]}")
    return res.stdout


def parse_psdur(out: str) -> list[TimedPhone]:
    phones, prev = [], 0.0
    for item in out.split():
        name, _, end = item.rpartition(":")
        t = float(end)
        phones.append(TimedPhone(name, prev, t))
        prev = t
    return phones


class FliteEngine:
    name = "flite"

    def __init__(self) -> None:
        if not self.available():
            raise EngineError("flite is not installed (apt-get install flite)")
        self._tmpdir = tempfile.TemporaryDirectory(prefix="spiritlm-flite-")  # removed with the engine
        self._tmp = Path(self._tmpdir.name)

    @staticmethod
    def available() -> bool:
        return shutil.which("flite") is not None and shutil.which("t2p") is not None

    @classmethod
    def voices(cls) -> list[Voice]:
        return [Voice(cls.name, v, speaker_id(cls.name, v), f0) for v, (f0, _) in VOICES.items()]

    @staticmethod
    def supports(style: Style, voice: str | None = None) -> bool:
        return not style.whisper

    def word_phones(self, text: str) -> list[list[str]]:
        """Each word's phones from flite's lexicon / letter-to-sound rules, word by word."""
        out = _run(["t2p", ", ".join(text_words(text))]).split()
        groups, cur = [], []
        for ph in out:
            if ph == "pau":
                if cur:
                    groups.append(cur)
                cur = []
            else:
                cur.append(ph.rstrip("012"))
        return groups + ([cur] if cur else [])

    def synthesize(self, text: str, voice: Voice, style: Style) -> Synthesis:
        if not self.supports(style):
            raise EngineError(f"flite cannot render style {style.name!r}")
        f0, spread = VOICES.get(voice.name, (voice.base_f0, 15.0))
        wav_path = self._tmp / "out.wav"
        out = _run(["flite", "-voice", voice.name, "-psdur", "-o", str(wav_path),
                    "--setf", f"duration_stretch={1.0 / style.rate:.3f}",
                    "--setf", f"int_f0_target_mean={f0 * 2 ** (style.pitch / 12):.1f}",
                    "--setf", f"int_f0_target_stddev={spread * style.range:.1f}", "-t", text])
        data, sr = read_file(wav_path)
        phones = parse_psdur(out)
        words = words_from_phones(text, phones, self.word_phones(text), _SILENCE)
        return finish(to_mono(data), sr, words, [p for p in phones if p.phone not in _SILENCE], text, style)
