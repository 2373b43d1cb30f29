"""`spiritlm decode`: speech units or an official token string -> a 16 kHz wav file.

    spiritlm decode --vocoder checkpoints/speech_tokenizer/hifigan_spiritlm_base \\
        --tokens "[Hu99][Hu49][Hu38]" -o out.wav --speaker ex02
    spiritlm decode --vocoder VOCODER --units units.json -o out.wav   # official encode_units dict

`--units` takes a JSON file (one object, or the first line of a JSON-lines file) with `hubert`
[`pitch`, `style`] strings or lists; `--tokens` takes the string itself or `@file`. Raw units are
resynthesized without duration prediction, token strings with it (see `spiritlm.vocoder.decode`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .checks import check_output_audio, positive_int


def register(sub) -> None:
    p = sub.add_parser("decode", help="speech units or an official token string -> wav (unit HiFi-GAN)")
    p.add_argument("--vocoder", required=True, help="vocoder folder (official generator.pt or our model.safetensors)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help="token string like '[St71][Pi39][Hu99]...', or @path to a file holding one")
    src.add_argument("--units", help="JSON (lines) file with the official units dict: hubert [, pitch, style]")
    p.add_argument("-o", "--output", required=True, help="output audio file (.wav or .flac); an existing file is "
                   "replaced (atomically, once the audio is ready)")
    p.add_argument("--speaker", help="speaker id or name from speakers.txt (default 2)")
    p.add_argument("--style", help="Base vocoder style id or name from styles.txt (default 8)")
    p.add_argument("--no-dur-pred", action="store_true", help="do not predict durations for token strings")
    p.add_argument("--compat", action="store_true", help="reproduce the official decode() exactly, quirks included")
    p.add_argument("--stream", type=positive_int, metavar="FRAMES",
                   help="synthesize in chunks of FRAMES units (same output)")
    p.set_defaults(func=run)


def _read_code(args) -> str | dict:
    if args.tokens is not None:
        code = Path(args.tokens[1:]).read_text().strip() if args.tokens.startswith("@") else args.tokens.strip()
        if not code:
            raise ValueError("--tokens is empty: give a token string like '[Hu99][Hu49]' or @file")
        return code
    path = Path(args.units)
    if not path.exists():
        raise FileNotFoundError(f"units file {path} does not exist")
    text = path.read_text().strip()
    try:
        record = json.loads(text)
    except json.JSONDecodeError:
        record = json.loads(text.splitlines()[0])
    if not isinstance(record, dict):
        raise ValueError(f"{path}: expected a JSON object with 'hubert' [, 'pitch', 'style']")
    return {k: " ".join(map(str, v)) if isinstance(v, list) else v
            for k, v in record.items() if k in ("hubert", "pitch", "style")}


def run(args) -> int:
    import numpy as np

    from ..audio import write_audio
    from ..vocoder import load_vocoder

    check_output_audio(args.output, "-o")
    code = _read_code(args)
    voc = load_vocoder(args.vocoder)
    start = time.perf_counter()
    if args.stream:
        pieces = voc.stream(code, speaker_id=args.speaker, style_id=args.style, chunk_units=args.stream,
                            dur_pred=not args.no_dur_pred)
        wav = np.concatenate(list(pieces) or [np.zeros(0, np.float32)])
    else:
        wav = voc.decode(code, speaker_id=args.speaker, style_id=args.style, dur_pred=not args.no_dur_pred,
                         compat=args.compat)
    elapsed = time.perf_counter() - start
    out = write_audio(args.output, wav, voc.sample_rate)
    seconds = len(wav) / voc.sample_rate
    print(f"wrote {out} ({seconds:.2f} s of audio in {elapsed:.2f} s, real-time factor "
          f"{elapsed / max(seconds, 1e-9):.3f})")
    return 0
