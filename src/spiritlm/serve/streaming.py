"""What a streaming client sees while one row of a batch is generated: token, text and audio events.

The LM's step hook (`batcher.StepHook`) pushes each new id into the request's `TokenStream` from the
generation thread. The stream turns ids into events:

    token  {"t": 0.21, "stream": "text" | "Hu" | "Pi" | "St" | "marker", "value": 12 | "cat"}
    text   {"t": 0.21, "text": " cat"}                 the new characters of the current text run
    audio  {"t": 0.48, "index": 0, "seconds": 0.4, "audio": <base64 16 kHz wav>}

Speech is vocoded in chunks while the LM is still generating: the first chunk as soon as a speech run
has `first_chunk` [Hu] units (the server default 5: 0.2 s at 25 Hz), then every `chunk` units, and the
rest when the run ends.
Each chunk is synthesized with `context` units of the run before it and only its own share of the
samples is kept, so that chunk borders sound like the offline synthesis; vocoding runs on its own
thread, so the LM does not wait for it. Times `t` are seconds since the request arrived.
"""

from __future__ import annotations

import base64
import io
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np

from ..tokens import ids_to_tokens, tokens_to_units
from ..units import SpeechUnits

logger = logging.getLogger(__name__)

STREAM_NAMES = {"hubert": "Hu", "pitch": "Pi", "style": "St"}


def wav_base64(wav, rate: int = 16000) -> str:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.asarray(wav, dtype=np.float32), rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def token_events(lm, ids: list[int]) -> list[dict]:
    """Ids -> [{"stream", "value"}] for a timeline (text tokens as their decoded characters)."""
    out, text_run = [], []
    for i in ids:
        kind, value = lm.layout.token_of(i)
        if kind == "text":
            if i in (lm.tokenizer.bos_id, lm.tokenizer.eos_id, lm.tokenizer.pad_id):
                continue
            before = lm.tokenizer.decode_text(text_run) if text_run else ""
            text_run.append(i)
            out.append({"stream": "text", "value": lm.tokenizer.decode_text(text_run)[len(before):]})
            continue
        text_run = []
        if kind == "marker":
            out.append({"stream": "marker", "value": "[Speech]" if value == 1 else "[Text]"})
        elif kind in STREAM_NAMES:
            out.append({"stream": STREAM_NAMES[kind], "value": value})
    return out


def fill_streams(units: SpeechUnits, expressive: bool, default_style: int) -> SpeechUnits:
    """An Expressive run still lacking its first [Pi] or [St] token gets pitch 0 / the default style."""
    if not expressive or (units.pitch is not None and units.style is not None):
        return units
    n = len(units.hubert)
    pitch = units.pitch if units.pitch is not None else np.zeros(n, dtype=np.int64)
    style = units.style if units.style is not None else np.full(n, default_style, dtype=np.int64)
    return SpeechUnits(units.hubert, pitch, style, aligned=True)


class TokenStream:
    """One request's live events; `push(id)` and `end()` run on the generation thread."""

    def __init__(self, lm, arrived: float, emit: Callable[[str, dict], None], vocode_pool: Executor | None,
                 speaker_id: int | None = None, first_chunk: int = 10, chunk: int = 25, context: int = 10):
        self.lm, self.arrived, self.emit, self.pool = lm, arrived, emit, vocode_pool
        self.speaker_id, self.first_chunk, self.chunk, self.context = speaker_id, first_chunk, chunk, context
        self.text_run: list[int] = []
        self.text_sent = ""
        self.any_text = False
        self.speech_run: list[int] = []
        self.n_hu = 0
        self.cut = 0  # Hu units of the current run already sent to the vocoder
        self.audio_index = 0
        self.audio_samples = 0
        self.first_token_s: float | None = None
        self.first_audio_s: float | None = None
        self.first_unit_s: float | None = None

    def now(self) -> float:
        return round(time.perf_counter() - self.arrived, 4)

    def push(self, token_id: int) -> None:
        lm, t = self.lm, self.now()
        self.first_token_s = t if self.first_token_s is None else self.first_token_s
        kind, value = lm.layout.token_of(token_id)
        if kind == "text" and token_id not in (lm.tokenizer.bos_id, lm.tokenizer.eos_id, lm.tokenizer.pad_id):
            self._close_speech()
            self.text_run.append(token_id)
            full = lm.tokenizer.decode_text(self.text_run)
            full = (full if self.any_text else full.lstrip()).rstrip("\ufffd")  # hold back a partial UTF-8 char
            piece = full[len(self.text_sent):] if full.startswith(self.text_sent) else ""
            self.emit("token", {"t": t, "stream": "text", "value": piece})
            if piece:
                self.text_sent += piece
                self.emit("text", {"t": t, "text": piece})
            return
        if kind in STREAM_NAMES:
            self._close_text()
            self.emit("token", {"t": t, "stream": STREAM_NAMES[kind], "value": value})
            self.speech_run.append(token_id)
            if kind == "hubert":
                self.first_unit_s = t if self.first_unit_s is None else self.first_unit_s
                self.n_hu += 1
                target = self.first_chunk if self.cut == 0 else self.cut + self.chunk
                if self.n_hu >= target:
                    self._vocode(self.n_hu)
            return
        if kind == "marker":
            self.emit("token", {"t": t, "stream": "marker", "value": "[Speech]" if value == 1 else "[Text]"})
        elif token_id == lm.tokenizer.eos_id:
            self.emit("token", {"t": t, "stream": "marker", "value": "</s>"})
        self._close_text()
        self._close_speech()

    def _close_text(self) -> None:
        if self.text_run:
            self.any_text = self.any_text or bool(self.text_sent)
            self.text_run, self.text_sent = [], ""

    def _close_speech(self) -> None:
        if self.speech_run:
            if self.n_hu > self.cut:
                self._vocode(self.n_hu)
            self.speech_run, self.n_hu, self.cut = [], 0, 0

    def _vocode(self, end: int) -> None:
        """Queue units [cut, end) of the current run (with context before them) for synthesis."""
        if self.pool is None:
            self.cut = end
            return
        units = tokens_to_units(ids_to_tokens(self.speech_run, self.lm.layout), missing_style=None)
        lo = max(0, self.cut - self.context)
        part = SpeechUnits(*(None if a is None else a[lo:end] for a in (units.hubert, units.pitch, units.style)),
                           aligned=True)
        part = fill_streams(part, self.lm.is_expressive, self.lm._default_style)
        self.pool.submit(self._synthesize, part, self.cut - lo)
        self.cut = end

    def _synthesize(self, units: SpeechUnits, n_context: int) -> None:
        try:
            wav = np.asarray(self.lm.vocoder.synthesize(units, speaker_id=self.speaker_id), dtype=np.float32)
        except Exception as e:  # reported to the client; the text and units still arrive
            logger.warning("streaming synthesis failed: %s", e)
            self.emit("warning", {"t": self.now(), "message": f"speech synthesis failed: {e}"})
            return
        wav = wav[math.ceil(len(wav) * n_context / len(units.hubert)):]
        t = self.now()
        self.first_audio_s = t if self.first_audio_s is None else self.first_audio_s
        self.emit("audio", {"t": t, "index": self.audio_index, "seconds": round(len(wav) / 16000, 3),
                            "audio": wav_base64(wav)})
        self.audio_index += 1
        self.audio_samples += len(wav)

    def end(self, final: Callable[[], None]) -> None:
        """Flush the open runs, then call `final` after the last audio chunk went out."""
        self._close_text()
        self._close_speech()
        if self.pool is None:
            final()
        else:
            self.pool.submit(final)

    def timings(self) -> dict:
        return {"first_token_s": self.first_token_s, "first_unit_s": self.first_unit_s,
                "first_audio_s": self.first_audio_s, "audio_seconds": round(self.audio_samples / 16000, 3)}
