"""`spiritlm generate`, `spiritlm layout`, `spiritlm tiny-checkpoint`, `spiritlm serve`, `spiritlm demo`."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

from ..lm.quantize_options import QUANTIZE_HELP, QUANTIZE_OPTIONS

logger = logging.getLogger(__name__)
SAMPLING = {"temperature": 0.9, "top_p": 0.95}  # the CLI's sampling defaults (the official examples')


class _OrderedInput(argparse.Action):
    """--text and --speech append (type, value) to one list, so the prompt keeps their order."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, "inputs", None) or [])
        items.append((self.const, values))
        namespace.inputs = items


def register(sub) -> None:
    g = sub.add_parser("generate", help="generate text and/or speech from interleaved text/speech inputs")
    g.add_argument("--model", required=True, help="checkpoint name or folder")
    g.add_argument("--quantize", choices=QUANTIZE_OPTIONS, help=QUANTIZE_HELP)
    g.add_argument("--text", action=_OrderedInput, const="text", dest="inputs", help="a text input (repeatable)")
    g.add_argument("--speech", action=_OrderedInput, const="speech", dest="inputs",
                   help="a speech input: audio file or a unit string like '[Hu12][Hu7]' (repeatable)")
    g.add_argument("--prompt", help="an already-tokenized prompt string (replaces --text/--speech)")
    g.add_argument("--output-modality", default="arbitrary", help="text, speech or arbitrary")
    g.add_argument("--max-new-tokens", type=int)
    g.add_argument("--greedy", action="store_true", help="greedy decoding (default: sampling)")
    g.add_argument("--temperature", type=float, help=f"sampling temperature, > 0 (default {SAMPLING['temperature']})")
    g.add_argument("--top-p", type=float, help=f"nucleus sampling, in (0, 1] (default {SAMPLING['top_p']})")
    g.add_argument("--top-k", type=int, help="sample from the k most likely tokens (0: all)")
    g.add_argument("--repetition-penalty", type=float, help="> 0; 1 = none")
    g.add_argument("--seed", type=int)
    g.add_argument("--speaker", type=int, help="vocoder speaker id")
    g.add_argument("--out", default="outputs", help="folder for generated wavs (output_<n>.wav)")
    g.add_argument("--overwrite", action="store_true", help="replace output_<n>.wav files of an earlier run in --out")
    g.add_argument("--units-only", action="store_true", help="do not vocode speech; print its units")
    g.add_argument("--compat", action="store_true", help="the official behaviour exactly")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.add_argument("--device")
    g.set_defaults(func=run_generate, inputs=None)

    lay = sub.add_parser("layout", help="print the token layout of a checkpoint (or of a text vocabulary size)")
    lay.add_argument("--model", help="checkpoint name or folder")
    lay.add_argument("--variant", choices=["base", "expressive"], default="base")
    lay.add_argument("--text-vocab-size", type=int, default=32000)
    lay.set_defaults(func=run_layout)

    t = sub.add_parser("tiny-checkpoint", help="write a tiny random LM checkpoint in the official layout")
    t.add_argument("path")
    t.add_argument("--variant", choices=["base", "expressive"], default="base")
    t.add_argument("--official-vocab", action="store_true", help="pad the text vocabulary to 32000 (official ids)")
    t.add_argument("--seed", type=int, default=0)
    t.set_defaults(func=run_tiny)

    v = sub.add_parser("serve", help="web page + HTTP API for one model (see spiritlm.serve); loopback by default")
    v.add_argument("--model", required=True, help="checkpoint name or folder")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    v.add_argument("--port", type=int, default=8765, help="port (0: a free one)")
    v.add_argument("--token", help="API token required on every API call (needed for a non-loopback --host; "
                   "default: $SPIRITLM_API_TOKEN)")
    v.add_argument("--max-batch", type=int, default=8, help="requests generated together (default 8)")
    v.add_argument("--max-queue", type=int, default=64, help="waiting requests before HTTP 429 (default 64)")
    v.add_argument("--time-limit", type=float, default=120.0, help="seconds per request, queue included (120)")
    v.add_argument("--read-timeout", type=float, default=10.0, help="seconds for a request body to arrive (10)")
    v.add_argument("--grace", type=float, default=30.0, help="seconds to finish requests on SIGTERM/SIGINT (30)")
    v.add_argument("--first-chunk-units", type=int, default=5,
                   help="[Hu] units before the first streamed audio chunk (default 5: 0.2 s of speech)")
    v.add_argument("--chunk-units", type=int, default=25, help="[Hu] units per later audio chunk (default 25)")
    v.add_argument("--threads", type=int, help="torch CPU threads")
    v.add_argument("--quantize", choices=QUANTIZE_OPTIONS, help=QUANTIZE_HELP)
    v.set_defaults(func=run_serve)
    d = sub.add_parser("demo", help="run the main job end to end on the shipped model")
    d.add_argument("--out", default="outputs/demo")
    d.set_defaults(func=run_demo)


def _describe(result) -> dict:
    outs = []
    for o in result.outputs:
        if o.content_type.name == "TEXT":
            outs.append({"type": "text", "content": o.content})
        else:
            outs.append({"type": "speech", "units": len(o.units), "wav": o.content is not None})
    return {"prompt": result.prompt, "finish_reason": result.finish_reason, "new_tokens": len(result.new_ids),
            "outputs": outs}


def _check_generate_args(args):
    from ..generation.settings import validate_generation_settings
    from ..generation.types import OutputModality
    from ..lm.model import check_device
    from .checks import check_output_folder

    if not args.inputs and not args.prompt:
        raise ValueError("give at least one --text or --speech input, or --prompt")
    if args.prompt is not None and args.inputs:
        raise ValueError("--prompt replaces --text/--speech: give one or the other")
    modality = OutputModality.parse(args.output_modality)
    if args.device is not None:
        check_device(args.device)
    given = {"temperature": args.temperature, "top_p": args.top_p, "top_k": args.top_k}
    given = {k: v for k, v in given.items() if v is not None}
    sampling = given if args.greedy else SAMPLING | given
    settings = validate_generation_settings(
        do_sample=not args.greedy, max_new_tokens=args.max_new_tokens, seed=args.seed,
        repetition_penalty=args.repetition_penalty, **sampling)
    if args.speaker is not None and args.speaker < 0:
        raise ValueError(f"--speaker must be a vocoder speaker id >= 0, got {args.speaker}")
    out = Path(args.out)
    if not args.units_only and modality is not OutputModality.TEXT:
        check_output_folder(out, "--out", "output_*.wav", args.overwrite)
    return settings, out


def run_generate(args) -> int:
    from ..audio import write_audio
    from ..generation.pipeline import SpiritLM
    from ..tokens import format_tokens, units_to_tokens

    settings, out = _check_generate_args(args)  # everything checkable is checked before the model loads
    lm = SpiritLM.from_pretrained(args.model, device=args.device, quantize=args.quantize)
    result = lm.generate(args.inputs, prompt=args.prompt, output_modality=args.output_modality,
                         max_new_tokens=settings.max_new_tokens, seed=settings.seed, speaker_id=args.speaker,
                         compat=args.compat, synthesize=not args.units_only, **settings.generate_kwargs())
    info = _describe(result)
    for n, (o, d) in enumerate(zip(result.outputs, info["outputs"])):
        if o.content_type.name == "SPEECH":
            d["tokens"] = format_tokens(units_to_tokens(o.units))
            if o.content is not None:
                d["wav"] = str(write_audio(out / f"output_{n}.wav", o.content))
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    print(f"prompt: {info['prompt']}")
    for d in info["outputs"]:
        if d["type"] == "text":
            print(f"[text] {d['content']}")
        else:
            print(f"[speech] {d['units']} units{'  -> ' + d['wav'] if isinstance(d['wav'], str) else ''}")
            print(f"         {d['tokens']}")
    print(f"({info['new_tokens']} new tokens, stopped by {info['finish_reason']})")
    return 0


def run_layout(args) -> int:
    from ..vocab import TokenLayout

    if args.model:
        from ..checkpoints import resolve_lm_dir
        from ..lm.model import read_layout

        path = resolve_lm_dir(args.model)
        print(f"{path}")
        print(read_layout(path).describe())
        return 0
    layout = (TokenLayout.base if args.variant == "base" else TokenLayout.expressive)(args.text_vocab_size)
    print(layout.describe())
    return 0


def run_tiny(args) -> int:
    from ..lm.tiny import write_tiny_checkpoint

    path = write_tiny_checkpoint(args.path, args.variant, 32000 if args.official_vocab else None, seed=args.seed)
    print(f"wrote a tiny random {args.variant} checkpoint to {path}")
    return 0


def example_audio() -> Path:
    """The shipped example utterance (LibriSpeech 7143-88743-0029, CC BY 4.0)."""
    from importlib import resources

    return Path(str(resources.files("spiritlm").joinpath("assets/examples/7143-88743-0029.flac")))


def run_serve(args) -> int:
    import os

    from ..generation.pipeline import SpiritLM
    from ..serve import ServeConfig, serve
    from ..serve.run import check_bind

    token = args.token or os.environ.get("SPIRITLM_API_TOKEN") or None
    check_bind(args.host, token)
    config = ServeConfig(max_batch=args.max_batch, max_queue=args.max_queue, time_limit_s=args.time_limit,
                         read_timeout_s=args.read_timeout, token=token,
                         first_chunk_units=args.first_chunk_units, chunk_units=args.chunk_units)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    lm = SpiritLM.from_pretrained(args.model, quantize=args.quantize)

    def ready(host, port) -> None:
        print(f"serving {args.model} on http://{host}:{port}/ (the page; API: GET /health, GET /v1/layout, "
              f"POST /v1/generate, POST /v1/stream; docs at /docs); Ctrl-C stops", flush=True)

    serve(lm, str(args.model), args.host, args.port, config, grace_s=args.grace, on_ready=ready)
    return 0


def mini_examples() -> dict[str, dict]:
    """The shipped held-out examples for the mini models (assets/examples/mini_examples.json): role ->
    {"file", "text", "speaker", "style"}; roles "speech" (S->T, S->S) and "style" (Expressive style carry)."""
    from importlib import resources

    d = Path(str(resources.files("spiritlm").joinpath("assets/examples")))
    spec = d / "mini_examples.json"
    if not spec.is_file():
        return {}
    return {k: v | {"file": str(d / v["file"])} for k, v in json.loads(spec.read_text()).items()}


def _demo_listener():
    """Whisper base (the benchmarks' referee) when the eval extra is installed, else None (with a note)."""
    try:
        from ..eval.asr_whisper import WhisperTranscriber

        asr = WhisperTranscriber("base")
        asr.model  # noqa: B018 - load now: a missing package is reported once, here
        return asr
    except (ImportError, FileNotFoundError, OSError) as e:
        print(f"NOTE: no Whisper listener ({e}); the demo cannot say what its speech sounds like")
        return None


def _median_f0(wav) -> float:
    """Median F0 (Hz) over the voiced frames, by WORLD's DIO + StoneMask (0.0 when nothing is voiced)."""
    import numpy as np

    from ..vocoder.world import analyze

    frames = analyze(np.asarray(wav, dtype=np.float32))
    voiced = frames[:, -1] > 0.5
    return float(np.exp(np.median(frames[voiced, -2]))) if voiced.any() else 0.0


def _demo_job(lm, variant: str, name: str, inputs, modality: str, out: Path, referee=None, listener=None,
              truth: str | None = None, pitch: bool = False) -> None:
    from ..audio import write_audio
    from ..tokens import format_tokens, units_to_tokens

    r = lm.generate(inputs, output_modality=modality, max_new_tokens=80, seed=0, do_sample=True,
                    temperature=0.8, top_p=0.95)
    prompt = r.prompt if len(r.prompt) < 90 else r.prompt[:60] + f"... ({len(r.prompt_ids)} ids)"
    print(f"== {name}  prompt: {prompt}")
    for n, o in enumerate(r.outputs):
        if o.content_type.name == "TEXT":
            print(f"   text: {o.content[:160]!r}")
            if truth:
                print(f"   true text of the speech: {truth!r}")
            continue
        wav = write_audio(out / f"{variant}_{name.replace('->', '2').replace(' ', '_')}_{n}.wav", o.content)
        tokens = format_tokens(units_to_tokens(o.units))
        print(f"   speech: {len(o.units)} units, {len(o.content) / 16000:.2f} s -> {wav}")
        print(f"           {tokens[:100]}{'...' if len(tokens) > 100 else ''}")
        if listener is not None and len(o.content):
            print(f"           Whisper base hears: {listener.transcribe(o.content)!r}")
        if referee is not None:
            print(f"           style of the continuation (style classifier): {referee.classify(o.content)}")
        if pitch and len(o.content):
            print(f"           median pitch of the continuation: {_median_f0(o.content):.0f} Hz")
    print(f"   ({len(r.new_ids)} new tokens, stopped by {r.finish_reason})")


def run_demo(args) -> int:
    """The shipped mini models (src/spiritlm/assets/models) when present; otherwise a tiny *random*
    checkpoints root in Meta's layout, which exercises the whole pipeline (tokenizers, prompt building,
    modality control, stopping, vocoders, files written) but not meaningful content."""
    from ..audio import load_audio
    from ..checkpoints import bundled_model_names, bundled_root
    from ..checkpoints.tiny_root import write_tiny_root
    from ..generation.pipeline import SpiritLM

    examples = mini_examples()
    shipped = examples and all(f"spirit-lm-mini-{v}" in bundled_model_names() for v in ("base", "expressive"))
    if not shipped:
        print("NOTE: no trained model is shipped yet. This demo runs on tiny RANDOMLY INITIALISED models in the\n"
              "      official checkpoint layout: text and audio are noise, but every stage of the pipeline runs.")
    start = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    speech = examples["speech"] if shipped else {"file": str(example_audio()), "text": None}
    listener = _demo_listener() if shipped else None
    with tempfile.TemporaryDirectory() as tmp:
        root = bundled_root() if shipped else write_tiny_root(Path(tmp), official_vocab=False)
        for variant in ("base", "expressive"):
            name = f"spirit-lm-mini-{variant}" if shipped else f"spirit-lm-{variant}-7b"
            lm = SpiritLM.from_pretrained(root / "spiritlm_model" / name)
            print(f"\n##### {name}: {lm.layout.describe().splitlines()[0]}")
            said = f"\n   (it says: {speech['text']!r})" if speech["text"] else ""
            print(f"   example speech: {speech['file']}{said}")
            wav = load_audio(speech["file"])
            jobs = [("T->T", [("text", "The cat sat on the")], "text"),
                    ("T->S", [("text", "The cat sat on the")], "speech"),
                    ("S->T", [("speech", wav)], "text"),
                    ("S->S", [("speech", wav)], "speech")]
            for job, inputs, modality in jobs:
                _demo_job(lm, variant, job, inputs, modality, out, listener=listener,
                          truth=speech["text"] if job == "S->T" else None)
            if variant == "expressive" and shipped:
                from ..eval.style import StyleReferee

                referee = StyleReferee(str(root / "speech_tokenizer" / "style-referee"))
                styled = examples["style"]
                prompt = load_audio(styled["file"])
                print(f"== style carry: a {styled['style']!r} prompt ({styled['file']}), "
                      f"classified as {referee.classify(prompt)!r}, median pitch {_median_f0(prompt):.0f} Hz")
                _demo_job(lm, variant, "S->S style", [("speech", prompt)], "speech", out, referee, listener,
                          pitch=True)
    print(f"\ndemo finished in {time.time() - start:.1f} s; audio in {out}/")
    return 0
