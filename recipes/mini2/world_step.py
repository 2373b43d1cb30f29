"""Mini v2, WORLD vocoder step: vocoder manifest from the phone k-means units, train, resynthesis CER.

Run from the work folder (e.g. ~/.cache/spiritlm/mini2: corpus in ./corpus, k-means in runs/kmeans-phone).

    python world_step.py eval2 runs/world-base results-resynthesis-3.json   # a recipe-trained vocoder
    python world_step.py gv runs/world-base results-gv.json   # resynthesis CER with / without its GV ratios

    python world_step.py manifest      # runs/world-base/train.jsonl (1200 seen-voice train utterances)
    spiritlm train world-vocoder runs/world-base/train.jsonl --out runs/world-base --model mini --speakers ...
    python world_step.py eval          # results-resynthesis.json: Whisper base CER original vs resynthesis
"""
import json
import random
import sys
import time
from pathlib import Path

from spiritlm.audio import load_audio
from spiritlm.eval.unit_quality import kmeans_encoder

HELD = {"espeak-en-029-m7", "flite-rms", "festival-ked-diphone"}
KM = "runs/kmeans-phone/kmeans"
RUN = Path("runs/world-base-v0")


def records():
    return [json.loads(line) for line in open("corpus/manifest.jsonl")]


def manifest(n=1200):
    recs = [r for r in records() if r["split"] == "train" and r["speaker"] not in HELD]
    recs = random.Random(0).sample(recs, n)
    speakers = sorted({r["speaker"] for r in records() if r["speaker"] not in HELD})
    enc, _ = kmeans_encoder(KM)
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / "train.jsonl", "w") as f:
        for r in recs:
            audio = str(Path("corpus").resolve() / r["audio"])
            units = enc(load_audio(audio))
            f.write(json.dumps({"audio": audio, "hubert": " ".join(map(str, units.tolist())),
                                "speaker": speakers.index(r["speaker"])}) + "\n")
    (RUN / "speakers.txt").write_text(",".join(speakers))
    print(",".join(speakers))


def evaluate2(run=None, out_name="results-resynthesis-2.json", n=15):
    """Speaker choice: seen voices with their own speaker id, held-out ones with flite-slt; plus the WORLD
    analysis-synthesis ceiling (real features rendered)."""
    from spiritlm.eval.asr_whisper import WhisperTranscriber
    from spiritlm.eval.metrics import cer
    from spiritlm.units import SpeechUnits
    from spiritlm.vocoder.load import load_vocoder
    from spiritlm.vocoder.world import analyze, render

    enc, _ = kmeans_encoder(KM)
    run = Path(run) if run else RUN
    voc = load_vocoder(run / "vocoder")
    speakers = voc.speakers
    asr = WhisperTranscriber("base")
    out = {}
    for name, keep in (("held-out", lambda r: r["speaker"] in HELD), ("seen", lambda r: r["speaker"] not in HELD)):
        sub = random.Random(2).sample([r for r in records() if r["split"] == "test" and keep(r)], n)
        refs, orig, ceil, resyn = [], [], [], []
        for r in sub:
            wav = load_audio(str(Path("corpus") / r["audio"]))
            spk = speakers.index(r["speaker"]) if r["speaker"] in speakers else speakers.index("flite-slt")
            refs.append(r["text"])
            orig.append(asr.transcribe(wav))
            ceil.append(asr.transcribe(render(analyze(wav, 40), 40)))
            resyn.append(asr.transcribe(voc.synthesize(SpeechUnits(enc(wav)), speaker_id=spk)))
        out[name] = {"n": n, "cer_original": cer(refs, orig), "cer_world_analysis_synthesis": cer(refs, ceil),
                     "cer_resynth_raw_durations": cer(refs, resyn),
                     "examples": [{"text": a, "resynth": c} for a, c in list(zip(refs, resyn))[:4]]}
        print(name, json.dumps(out[name]))
    json.dump(out, open(out_name, "w"), indent=1)


def compare_gv(run="runs/world-base", out_name="results-gv.json", n=15):
    """Resynthesis CER (Whisper base, the same test files as eval2) with the vocoder's global-variance
    compensation and without it, plus the originals."""
    from dataclasses import replace

    from spiritlm.eval.asr_whisper import WhisperTranscriber
    from spiritlm.eval.metrics import cer
    from spiritlm.units import SpeechUnits
    from spiritlm.vocoder.load import load_vocoder

    enc, _ = kmeans_encoder(KM)
    voc = load_vocoder(Path(run) / "vocoder")
    gv = list(voc.world.gv)
    speakers = voc.speakers
    asr = WhisperTranscriber("base")
    out = {"gv": gv}
    for name, keep in (("held-out", lambda r: r["speaker"] in HELD), ("seen", lambda r: r["speaker"] not in HELD)):
        sub = random.Random(2).sample([r for r in records() if r["split"] == "test" and keep(r)], n)
        refs, orig, hyps = [], [], {"gv": [], "no-gv": [], "gv-half": [], "gv-global": []}
        for r in sub:
            wav = load_audio(str(Path("corpus") / r["audio"]))
            spk = speakers.index(r["speaker"]) if r["speaker"] in speakers else speakers.index("flite-slt")
            refs.append(r["text"])
            orig.append(asr.transcribe(wav))
            units = SpeechUnits(enc(wav))
            for key, g, c in (("gv", gv, "utterance"), ("no-gv", [], "utterance"),
                              ("gv-half", [1 + (x - 1) / 2 for x in gv], "utterance"), ("gv-global", gv, "global")):
                voc.world = replace(voc.world, gv=g, gv_center=c)
                hyps[key].append(asr.transcribe(voc.synthesize(units, speaker_id=spk)))
        out[name] = {"n": n, "cer_original": cer(refs, orig), **{f"cer_{k}": cer(refs, v) for k, v in hyps.items()}}
        print(name, json.dumps(out[name]))
    json.dump(out, open(out_name, "w"), indent=1)


def evaluate(n=30):
    from spiritlm.eval.asr_whisper import WhisperTranscriber
    from spiritlm.eval.metrics import cer
    from spiritlm.units import SpeechUnits
    from spiritlm.vocoder.load import load_vocoder

    enc, _ = kmeans_encoder(KM)
    voc = load_vocoder(RUN / "vocoder")
    asr = WhisperTranscriber("base")
    out = {}
    for name, keep in (("held-out", lambda r: r["speaker"] in HELD), ("seen", lambda r: r["speaker"] not in HELD)):
        sub = [r for r in records() if r["split"] == "test" and keep(r)]
        sub = random.Random(1).sample(sub, n)
        refs, orig, raw, dedup = [], [], [], []
        synth_s = audio_s = 0.0
        for r in sub:
            wav = load_audio(str(Path("corpus") / r["audio"]))
            units = enc(wav)
            t = time.perf_counter()
            w_raw = voc.synthesize(SpeechUnits(units), speaker_id=0)
            synth_s += time.perf_counter() - t
            audio_s += len(w_raw) / 16000
            w_dedup = voc.synthesize(SpeechUnits(units, aligned=True), speaker_id=0)
            refs.append(r["text"])
            orig.append(asr.transcribe(wav))
            raw.append(asr.transcribe(w_raw))
            dedup.append(asr.transcribe(w_dedup))
        out[name] = {"n": n, "cer_original": cer(refs, orig), "cer_resynth_raw_durations": cer(refs, raw),
                     "cer_resynth_predicted_durations": cer(refs, dedup), "rtf_raw": synth_s / audio_s,
                     "examples": [{"text": a, "original": b, "resynth": c} for a, b, c in
                                  list(zip(refs, orig, raw))[:5]]}
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "examples"}))
    json.dump(out, open("results-resynthesis.json", "w"), indent=1)


if __name__ == "__main__":
    {"manifest": manifest, "eval": evaluate, "eval2": evaluate2, "gv": compare_gv}[sys.argv[1]](*sys.argv[2:])
