"""Festival 2.5 driven through its Scheme interpreter: two diphone voices and one HTS voice.

After `utt.synth`, festival's utterance structure holds a Word relation and a Segment relation; the
features `word_start` / `word_end` and `segment_start` / `end` are the times in the audio it saved. We
print them from the same commands that save the wav, so timings and audio come from one synthesis.

Starting festival and loading a voice costs ~0.4 s, ten times the synthesis of a sentence, so one
`festival --pipe` process is kept per engine and fed commands. Its stdout is a pseudo-terminal: on a
plain pipe festival buffers its output and an answer would never arrive. Each batch of commands ends by
printing a marker line; a timeout or a dead process raises `EngineError` and the next call restarts it.

Prosody: `Duration_Stretch` (1 / rate) and the linear-regression intonation targets
(`int_lr_params`: target F0 mean and spread) for the diphone voices. The HTS voice ignores both, so it
only renders neutral and loudness styles.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
from pathlib import Path

from ....audio import read_file, to_mono
from ..manifest import TimedPhone, TimedWord, text_words
from ..styles import Style
from .base import EngineError, Synthesis, Voice, finish, speaker_id

# festival voice -> (short name, F0 mean, F0 std, honours prosody controls)
VOICES = {"kal_diphone": ("kal-diphone", 105.0, 14.0, True), "ked_diphone": ("ked-diphone", 105.0, 15.0, True),
          "cmu_us_slt_arctic_hts": ("slt-hts", 170.0, 25.0, False)}
_TIMEOUT = 120
_DONE = "@@SPIRITLM-DONE@@"
_SCRIPT = """{prosody}
(set! utt (Utterance Text "{text}"))
(utt.synth utt)
(utt.save.wave utt "{wav}" 'riff)
(mapcar (lambda (w) (format t "W\\t%s\\t%f\\t%f\\n" (item.name w) (item.feat w "word_start") (item.feat w "word_end")))
        (utt.relation.items utt 'Word))
(mapcar (lambda (s) (format t "P\\t%s\\t%f\\t%f\\n" (item.name s) (item.feat s "segment_start") (item.feat s "end")))
        (utt.relation.items utt 'Segment))
"""


class FestivalSession:
    """One long-running festival interpreter; `run(commands)` returns what they print."""

    def __init__(self) -> None:
        import pty
        import termios

        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO  # do not echo our commands back
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        try:
            self.proc = subprocess.Popen(["festival", "--pipe"], stdin=subprocess.PIPE, stdout=slave, stderr=slave)
        except OSError as e:
            raise EngineError(f"cannot start festival: {e}") from e
        finally:
            os.close(slave)
        self.master = master
        self.voice: str | None = None

    def run(self, commands: str, timeout: float = _TIMEOUT) -> str:
        if self.proc.poll() is not None:
            raise EngineError(f"festival exited with code {self.proc.returncode}")
        try:
            self.proc.stdin.write(f'{commands}\n(format t "{_DONE}\\n")\n'.encode())
            self.proc.stdin.flush()
        except OSError as e:
            raise EngineError(f"festival is not accepting commands: {e}") from e
        buf = b""
        while _DONE.encode() not in buf:
            ready, _, _ = select.select([self.master], [], [], timeout)
            if not ready:
                raise EngineError(f"festival gave no answer in {timeout} s")
            try:
                chunk = os.read(self.master, 65536)
            except OSError as e:
                raise EngineError(f"festival died: {e}") from e
            if not chunk:
                raise EngineError("festival closed its output")
            buf += chunk
        return buf.decode("utf-8", "replace").replace("\r\n", "\n")

    def close(self) -> None:
        """End of input lets festival exit; it is then reaped (so its CPU time is accounted to us)."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


class FestivalEngine:
    name = "festival"

    def __init__(self) -> None:
        if not self.available():
            raise EngineError("festival is not installed (apt-get install festival festvox-kallpc16k ...)")
        self._tmpdir = tempfile.TemporaryDirectory(prefix="spiritlm-festival-")  # removed with the engine
        self._tmp = Path(self._tmpdir.name)
        self._session: FestivalSession | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("festival") is not None

    @classmethod
    def voices(cls) -> list[Voice]:
        roots = [Path("/usr/share/festival/voices"), Path("/usr/lib/festival/voices")]
        installed = {p.name for r in roots if r.is_dir() for p in r.glob("*/*")}
        return [Voice(cls.name, v, speaker_id(cls.name, short), f0) for v, (short, f0, _, _) in VOICES.items()
                if v in installed]

    @staticmethod
    def supports(style: Style, voice: str | None = None) -> bool:
        if style.whisper:
            return False
        if voice is not None and not VOICES.get(voice, ("", 0, 0, False))[3]:
            return style.rate == 1.0 and not style.changes_pitch
        return True

    def script(self, text: str, voice: Voice, style: Style, wav: Path) -> str:
        _, f0, std, prosodic = VOICES[voice.name]
        prosody = ""
        if prosodic:
            prosody = (f"(Parameter.set 'Duration_Stretch {1.0 / style.rate:.3f})\n"
                       f"(set! int_lr_params '((target_f0_mean {f0 * 2 ** (style.pitch / 12):.1f}) "
                       f"(target_f0_std {std * style.range:.1f}) (model_f0_mean 170) (model_f0_std 34)))")
        return _SCRIPT.format(prosody=prosody, text=text.replace("\\", "").replace('"', ""),
                              wav=wav)

    def synthesize(self, text: str, voice: Voice, style: Style) -> Synthesis:
        if voice.name not in VOICES or not self.supports(style, voice.name):
            raise EngineError(f"festival voice {voice.name!r} cannot render style {style.name!r}")
        wav = self._tmp / "out.wav"
        try:
            if self._session is None:
                self._session = FestivalSession()
            if self._session.voice != voice.name:
                self._session.run(f"(voice_{voice.name})")
                self._session.voice = voice.name
            out = self._session.run(self.script(text, voice, style, wav))
        except EngineError:
            self.close()  # a fresh interpreter for the next text
            raise
        if not wav.is_file():
            raise EngineError(f"festival wrote no audio for {text!r}: {out.strip()[-200:]}")
        words, phones = parse_timings(out, text)
        data, sr = read_file(wav)
        wav.unlink()
        return finish(to_mono(data), sr, words, phones, text, style)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def parse_timings(out: str, text: str) -> tuple[list[TimedWord], list[TimedPhone]]:
    rows = [ln.split("\t") for ln in out.splitlines() if ln.startswith(("W\t", "P\t"))]
    expected = text_words(text)
    spoken = [r for r in rows if r[0] == "W"]
    if len(spoken) != len(expected):
        raise EngineError(f"festival spoke {len(spoken)} words for the {len(expected)} of {text!r}")
    words = [TimedWord(w, float(r[2]), float(r[3])) for w, r in zip(expected, spoken)]
    phones = [TimedPhone(r[1], float(r[2]), float(r[3])) for r in rows if r[0] == "P" and r[1] != "pau"]
    return words, phones
