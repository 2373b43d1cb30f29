"""`spiritlm recipe mini`: our own Spirit LMs from nothing, one resumable stage at a time.

    corpus -> text tokenizer -> k-means on MFCC -> HuBERT (masked prediction) -> k-means on HuBERT
    -> pitch VQ-VAE, style classifier -> speech side of the root -> unit caches (Base, Expressive)
    -> vocoders (Base, Expressive; unit HiFi-GAN, then its spectral head)
    -> LMs (Base, Expressive; word-level interleaving) -> bundle
    -> prosodic style referee -> ablations (Base without interleaving; text only) -> evaluation, one report

Everything lands in one work folder::

    WORK/corpus/                     synthetic speech-text corpus (manifest.jsonl + wavs)
    WORK/runs/<stage>/               each trainer's own run folder (resumable checkpoints, logs)
    WORK/root/                       a checkpoints root in Meta's layout, filled as stages finish:
        speech_tokenizer/{speech.json, hubert/, quantizer/, pitch/, style/, vocoder-base/, ...}
        spiritlm_model/spirit-lm-mini-{base,expressive}/
    WORK/.stages/<stage>.done        a stage with this marker is skipped on the next run

Each stage is a `spiritlm` subcommand run in a subprocess (its own logs and resumption), so an
interrupted recipe re-run with the same arguments continues where it stopped. `--scale tiny` runs the
same stages on a one-minute corpus in a few minutes (the test of the recipe itself).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

logger = logging.getLogger(__name__)

LM_NAMES = {"base": "spirit-lm-mini-base", "expressive": "spirit-lm-mini-expressive"}
ABLATION = "ablation-no-interleaving"
BASE_SAME_BUDGET = "base-same-budget"  # the Base LM's checkpoint at the ablations' step count
TEXT_ONLY = "text-only"
# every benchmark of `spiritlm eval all` but perplexity, which needs the text-only LM and runs in the last stage
EVAL_BENCHMARKS = "referee,resynthesis,tts,asr,style,likelihood,sentiment"
LM_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.model", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "spiritlm.json")


@dataclass(frozen=True)
class Scale:
    corpus_preset: str
    corpus_hours: float | None
    train_preset: str  # k-means, HuBERT, VQ-VAE and style trainers: tiny | mini
    vocoder_preset: str
    vocoder_model: dict[str, str]  # variant -> vocoder size preset
    text_vocab: int
    n_units: int  # k-means clusters on HuBERT features = the HuBERT units the LM sees
    hubert_layer: int
    lm_recipe: dict[str, str]  # variant -> recipes/*.yaml
    eval_limit: int  # items per benchmark
    referee_per_style: int  # utterances per style the prosodic style referee is fitted on
    # optimizer steps per trainer (hubert, pitch, style, vocoder, lm); a trainer left out keeps its preset's
    steps: dict[str, int] = field(default_factory=dict)
    lm_tokens_per_step: int | None = None  # LM global batch = this / seq_len (default: the LM recipe's batch)
    # "hubert": self-supervised HuBERT units, w2v2 style classifier, HiFi-GAN + spectral vocoders (mini v1);
    # "phone": phone-supervised units, prosodic style tokens, WORLD-rendered regression vocoders (mini v2)
    design: str = "hubert"
    phone_args: tuple[str, ...] = ()  # extra `train phone-encoder` options (batch size, crop length)
    world_args: tuple[str, ...] = ()  # extra `train world-vocoder` options
    # the ablation LMs (no interleaving, text only) train this many steps and are compared with the Base LM's
    # checkpoint at the same step (equal budget), instead of training as long as the Base LM
    ablation_steps: int | None = None


# The mini scale is sized to about two hours on 2 CPU cores (see README, "Reproducing the mini models").
SCALES = {
    "tiny": Scale("tiny", None, "tiny", "tiny", {"base": "tiny", "expressive": "tiny_expressive"}, 400, 8, 1,
                  {"base": "lm_tiny.yaml", "expressive": "lm_tiny.yaml"}, 2, 2,
                  steps={"vocoder": 4, "spectral": 6, "lm": 6}, ablation_steps=4),
    "mini": Scale("mini", 4.0, "mini", "mini", {"base": "mini", "expressive": "mini_expressive"}, 2048, 200, 4,
                  {"base": "lm_mini_base.yaml", "expressive": "lm_mini_expressive.yaml"}, 40, 60,
                  steps={"hubert": 800, "pitch": 600, "style": 2500, "vocoder": 800, "spectral": 1200,
                         "lm": 500},
                  lm_tokens_per_step=4096),
    # mini v2 (issue 11): 20 h corpus, phone-supervised units, WORLD vocoders, >= 50 M LM tokens per LM
    "tiny2": Scale("tiny", None, "tiny", "tiny", {"base": "tiny", "expressive": "tiny_expressive"}, 400, 8, 1,
                   {"base": "lm_tiny.yaml", "expressive": "lm_tiny.yaml"}, 2, 2,
                   steps={"phone": 4, "world": 4, "lm": 6}, design="phone", ablation_steps=4),
    "mini2": Scale("mini", 20.0, "mini", "mini", {"base": "mini", "expressive": "mini_expressive"}, 2048, 200, 4,
                   {"base": "lm_mini2_base.yaml", "expressive": "lm_mini2_expressive.yaml"}, 40, 60,
                   steps={"phone": 4000, "pitch": 600, "world": 8000, "lm": 3200},
                   lm_tokens_per_step=16384, design="phone",
                   phone_args=("--batch-size", "16", "--crop-seconds", "3"),
                   # 2000 steps on 1200 utterances with convolutions only and MSE: held-out resynthesis CER 65 %
                   world_args=("--max-utterances", "6000", "--rnn", "256", "--loss", "l1"),
                   ablation_steps=800),
}


# What each stage needs finished first; stages whose needs are met can run side by side (`--jobs`).
NEEDS = {
    "corpus": (), "text-tokenizer": ("corpus",), "kmeans-mfcc": ("corpus",), "hubert": ("kmeans-mfcc",),
    "kmeans-hubert": ("hubert",), "pitch": ("corpus",), "style": ("corpus",),
    "speech-root": ("kmeans-hubert", "pitch", "style"), "units-base": ("speech-root",),
    "units-expressive": ("speech-root",), "vocoder-base": ("units-base",),
    "vocoder-expressive": ("units-expressive",), "spectral-base": ("vocoder-base",),
    "spectral-expressive": ("vocoder-expressive",), "lm-base": ("units-base", "text-tokenizer"),
    "lm-expressive": ("units-expressive", "text-tokenizer"),
    "style-referee": ("corpus",),
    "bundle": ("lm-base", "lm-expressive", "spectral-base", "spectral-expressive", "style-referee"),
    "lm-ablation": ("units-base", "text-tokenizer"), "lm-textonly": ("units-base", "text-tokenizer"),
    "eval-base": ("bundle",), "eval-expressive": ("bundle",), "eval-ablation": ("bundle", "lm-ablation"),
    "eval": ("eval-base", "eval-expressive", "eval-ablation", "lm-textonly"),
}

NEEDS_PHONE = {
    "corpus": (), "text-tokenizer": ("corpus",), "phone-encoder": ("corpus",), "kmeans-phone": ("phone-encoder",),
    "pitch": ("corpus",), "style": ("corpus",), "speech-root": ("kmeans-phone", "pitch", "style"),
    "units-base": ("speech-root",), "units-expressive": ("speech-root",),
    "world-base": ("units-base",), "world-expressive": ("units-expressive",),
    "lm-base": ("units-base", "text-tokenizer"), "lm-expressive": ("units-expressive", "text-tokenizer"),
    "style-referee": ("corpus",),
    "bundle": ("lm-base", "lm-expressive", "world-base", "world-expressive", "style-referee"),
    "lm-ablation": ("units-base", "text-tokenizer"), "lm-textonly": ("units-base", "text-tokenizer"),
    "eval-base": ("bundle",), "eval-expressive": ("bundle",), "eval-ablation": ("bundle", "lm-ablation"),
    "eval": ("eval-base", "eval-expressive", "eval-ablation", "lm-textonly"),
}
DESIGNS = {"hubert": NEEDS, "phone": NEEDS_PHONE}


def recipes_dir() -> Path:
    """The repository's `recipes/` (the package is installed from the repository, src layout)."""
    here = Path(__file__).resolve().parents[3] / "recipes"
    if not here.is_dir():
        raise FileNotFoundError(f"recipes/ not found at {here}: run the recipe from a checkout of the repository")
    return here


class Recipe:
    def __init__(self, work: str | os.PathLike, scale: str = "mini", hours: float | None = None,
                 workers: int = 2, python: str = sys.executable, jobs: int = 1,
                 keep: str | os.PathLike | None = None):
        if scale not in SCALES:
            raise ValueError(f"unknown recipe scale {scale!r}; valid: {', '.join(SCALES)}")
        self.work = Path(work).resolve()
        self.scale = SCALES[scale] if hours is None else replace(SCALES[scale], corpus_hours=hours)
        self.scale_name = scale
        self.workers = workers
        self.python = python
        if jobs < 1:
            raise ValueError(f"jobs must be >= 1, got {jobs}")
        self.jobs = jobs
        # finished stages' models are copied here and restored from here on a fresh machine (`recipe_keep`)
        self.keep = Path(keep).resolve() if keep is not None else None
        common = {
            "corpus": self.corpus, "text-tokenizer": self.text_tokenizer, "pitch": self.pitch, "style": self.style,
            "speech-root": self.speech_root,
            "units-base": lambda: self.units("base"), "units-expressive": lambda: self.units("expressive"),
            "lm-base": lambda: self.lm("base"), "lm-expressive": lambda: self.lm("expressive"),
            "style-referee": self.style_referee, "bundle": self.bundle,
            "lm-ablation": lambda: self.lm("base", ablation="lm-ablation"),
            "lm-textonly": lambda: self.lm("base", ablation="lm-textonly"),
            "eval-base": lambda: self.evaluate_model(LM_NAMES["base"]),
            "eval-expressive": lambda: self.evaluate_model(LM_NAMES["expressive"]),
            "eval-ablation": self.evaluate_ablation, "eval": self.evaluate,
            # design "hubert"
            "kmeans-mfcc": self.kmeans_mfcc, "hubert": self.hubert, "kmeans-hubert": self.kmeans_hubert,
            "vocoder-base": lambda: self.vocoder("base"), "vocoder-expressive": lambda: self.vocoder("expressive"),
            "spectral-base": lambda: self.spectral("base"), "spectral-expressive": lambda: self.spectral("expressive"),
            # design "phone"
            "phone-encoder": self.phone_encoder, "kmeans-phone": self.kmeans_phone,
            "world-base": lambda: self.world("base"), "world-expressive": lambda: self.world("expressive"),
        }
        self.needs = DESIGNS[self.scale.design]
        self.stages: list[tuple[str, Callable[[], None]]] = [(n, common[n]) for n in self.needs]

    # ------------------------------------------------------------------ paths and running
    @property
    def manifest(self) -> Path:
        return self.work / "corpus" / "manifest.jsonl"

    @property
    def root(self) -> Path:
        return self.work / "root"

    def run_dir(self, name: str) -> Path:
        return self.work / "runs" / name

    def marker(self, stage: str) -> Path:
        return self.work / ".stages" / f"{stage}.done"

    def spiritlm(self, *args: str | os.PathLike, cwd: Path | None = None) -> None:
        cmd = [self.python, "-m", "spiritlm.cli", *map(str, args)]
        logger.info("$ %s", " ".join(cmd[2:]))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.jobs > 1:  # side-by-side stages share the cores instead of each taking them all
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // self.jobs))
        subprocess.run(cmd, check=True, cwd=cwd or self.work, env=env)

    def run(self, until: str | None = None, only: list[str] | None = None, force: list[str] | None = None) -> dict:
        names = [n for n, _ in self.stages]
        for n in (only or []) + (force or []) + ([until] if until else []):
            if n not in names:
                raise ValueError(f"unknown recipe stage {n!r}; stages: {', '.join(names)}")
        self.work.mkdir(parents=True, exist_ok=True)
        selected = []
        for name in names:
            if only and name not in only:
                continue
            selected.append(name)
            if name == until:
                break
        for name in force or []:  # from scratch: its old run folder would be resumed otherwise
            shutil.rmtree(self.run_dir(name), ignore_errors=True)
            self.marker(name).unlink(missing_ok=True)
        timings: dict[str, float] = {}
        todo = [n for n in selected if not self.marker(n).is_file()]
        for n in selected:
            if n not in todo:
                logger.info("stage %s: done already", n)
        fns = dict(self.stages)
        if self.jobs == 1:
            for name in todo:
                timings[name] = self._run_stage(name, fns[name])
            return timings
        # several at once: a stage starts once the stages it needs (among those run now) are finished
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        running: dict = {}
        with ThreadPoolExecutor(self.jobs) as pool:
            while todo or running:
                ready = [n for n in todo if not any(d in todo or d in running.values() for d in self.needs[n])]
                for name in ready[: self.jobs - len(running)]:
                    todo.remove(name)
                    running[pool.submit(self._run_stage, name, fns[name])] = name
                if not running:
                    raise RuntimeError(f"recipe stages {todo} wait on each other")
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    name = running.pop(fut)
                    try:
                        timings[name] = fut.result()
                    except BaseException:
                        for other in running:
                            other.cancel()
                        raise
        return timings

    def _run_stage(self, name: str, fn: Callable[[], None]) -> float:
        from . import recipe_keep

        start = time.time()
        restored = self.keep is not None and recipe_keep.restore_part(self, self.keep, name)
        if restored:
            self.after_restore(name)
        else:
            logger.info("stage %s: running", name)
            fn()
        seconds = round(time.time() - start, 1)
        marker = {"seconds": seconds, "scale": self.scale_name, "jobs": self.jobs, "finished": recipe_keep.utc_now()}
        if restored:
            kept = recipe_keep.read_meta(self.keep / name) or {}
            marker.update(seconds=kept.get("seconds"), finished=kept.get("finished"), restored=str(self.keep / name))
        self.marker(name).parent.mkdir(parents=True, exist_ok=True)
        self.marker(name).write_text(json.dumps(marker))
        if self.keep is not None and not restored:
            if name in recipe_keep.LM_STAGES:
                recipe_keep.save_lm(self, self.keep, name, done=True)
            else:
                recipe_keep.save_part(self, self.keep, name, marker)
        logger.info("stage %s: %s in %.0f s", name, "restored" if restored else "done", seconds)
        return seconds

    def after_restore(self, name: str) -> None:
        """What a stage does besides writing its kept files: derived data and copies into the root."""
        if name == "text-tokenizer" and self.scale.design == "phone":
            self.write_text_only()
        elif name.startswith("world-"):
            variant = name.removeprefix("world-")
            src = self.run_dir(name) / "vocoder"
            self.install_vocoder(src, variant, (src / "speakers.txt").read_text().split())
        elif name == "style-referee":
            self.install_style_referee()

    def steps_args(self, trainer: str) -> list[str]:
        n = self.scale.steps.get(trainer)
        return ["--steps", str(n)] if n else []

    # ------------------------------------------------------------------ stages
    def corpus(self) -> None:
        args = ["data", "synth", self.work / "corpus", "--preset", self.scale.corpus_preset,
                "--workers", str(self.workers), "--no-progress"]
        if self.scale.corpus_hours:
            args += ["--hours", str(self.scale.corpus_hours)]
        self.spiritlm(*args)

    @property
    def text_only(self) -> Path:
        return self.work / "corpus" / "text-only.txt"

    def write_text_only(self) -> int:
        """corpus/text-only.txt: every clean sentence of the corpus's text sources that no valid or test
        utterance speaks (text is free; the speech corpus reads ~1 in 5 of them). Returns the line count."""
        from ..data.corpus.manifest import read_manifest
        from ..data.corpus.texts import load_sentences

        records = read_manifest(self.manifest)
        build = json.loads((self.manifest.parent / "build.json").read_text()).get("config", {})
        held = {r.sentence_id for r in records if r.split != "train"}
        sents = load_sentences(tuple(build.get("sources", ("fortunes", "wordnet", "bible"))),
                               build.get("min_words", 4), build.get("max_words", 30))
        lines = [s.text for s in sents if s.id not in held]
        self.text_only.write_text("\n".join(lines) + "\n", encoding="utf-8")
        logger.info("text-only data: %d sentences (%d held out with the valid / test utterances)",
                    len(lines), len(sents) - len(lines))
        return len(lines)

    def text_tokenizer(self) -> None:
        from ..data.corpus.manifest import read_manifest
        from ..lm.tiny import tiny_corpus, train_sentencepiece

        texts = [r.text for r in read_manifest(self.manifest) if r.split == "train"] + tiny_corpus()
        if self.scale.design == "phone":  # + the sources' other sentences, for the LM's text-only stream too
            self.write_text_only()
            texts += self.text_only.read_text(encoding="utf-8").splitlines()
        out = self.work / "models" / "text-tokenizer"
        out.mkdir(parents=True, exist_ok=True)
        (out / "tokenizer.model").write_bytes(train_sentencepiece(self.scale.text_vocab, texts))
        (out / "tokenizer_config.json").write_text(json.dumps(
            {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
             "unk_token": "<unk>"}, indent=2))

    def kmeans_mfcc(self) -> None:
        self.spiritlm("train", "kmeans", self.manifest, "--out", self.run_dir("kmeans-mfcc"),
                      "--preset", self.scale.train_preset, "--features", "mfcc")

    def hubert(self) -> None:
        self.spiritlm("train", "hubert", self.manifest, "--kmeans", self.run_dir("kmeans-mfcc") / "kmeans",
                      "--out", self.run_dir("hubert"), "--preset", self.scale.train_preset, *self.steps_args("hubert"))

    def kmeans_hubert(self) -> None:
        self.spiritlm("train", "kmeans", self.manifest, "--out", self.run_dir("kmeans-hubert"),
                      "--preset", self.scale.train_preset, "--features", "hubert",
                      "--hubert", self.run_dir("hubert") / "hubert", "--layer", str(self.scale.hubert_layer),
                      "--n-clusters", str(self.scale.n_units))

    def pitch(self) -> None:
        extra = ["--max-files", "3000", "--threads", "1"] if self.scale.design == "phone" else []
        self.spiritlm("train", "vqvae", self.manifest, "--out", self.run_dir("pitch"),
                      "--preset", self.scale.train_preset, *self.steps_args("pitch"), *extra)

    def style(self) -> None:
        if self.scale.design == "phone":  # prosodic [St] tokens supervised on the corpus's styles (OUT/style too)
            self.spiritlm("train", "prosody-style", self.manifest, "--out", self.run_dir("style"),
                          "--preset", self.scale.train_preset, "--context-s", "2.0", "--threads", "1")
            return
        self.spiritlm("train", "style", self.manifest, "--out", self.run_dir("style"),
                      "--preset", self.scale.train_preset, *self.steps_args("style"))

    def phone_encoder(self) -> None:
        self.spiritlm("train", "phone-encoder", self.manifest, "--out", self.run_dir("phone-encoder"),
                      "--preset", self.scale.train_preset, *self.steps_args("phone"), *self.scale.phone_args)

    def kmeans_phone(self) -> None:
        self.spiritlm("train", "kmeans", self.manifest, "--out", self.run_dir("kmeans-phone"),
                      "--preset", self.scale.train_preset, "--features", "hubert",
                      "--hubert", self.run_dir("phone-encoder") / "encoder", "--n-clusters", str(self.scale.n_units),
                      "--max-files", "1500")

    def speech_root(self) -> None:
        """Copy the trained speech parts into the root and describe them in speech.json."""
        from ..speech.bundle import SpeechSpec, write_specs

        speech = self.root / "speech_tokenizer"
        units = ((self.run_dir("phone-encoder") / "encoder", self.run_dir("kmeans-phone") / "kmeans")
                 if self.scale.design == "phone" else
                 (self.run_dir("hubert") / "hubert", self.run_dir("kmeans-hubert") / "kmeans"))
        for src, dst in ((units[0], "hubert"), (units[1], "quantizer"),
                         (self.run_dir("pitch") / "pitch", "pitch"), (self.run_dir("style") / "style", "style")):
            shutil.rmtree(speech / dst, ignore_errors=True)
            shutil.copytree(src, speech / dst)
        common = dict(hubert="hubert", quantizer="quantizer", layer=self.scale.hubert_layer)
        write_specs(self.root, {"base": SpeechSpec(**common, vocoder="vocoder-base"),
                                "expressive": SpeechSpec(**common, vocoder="vocoder-expressive", pitch="pitch",
                                                         style="style")})

    def units(self, variant: str) -> None:
        self.spiritlm("data", "units", "--manifest", self.manifest, "--out", self.work / "corpus" / f"units-{variant}",
                      "--encoder", f"spiritlm.speech.bundle:{variant}_encoder", "--encoder-arg", self.root)

    def vocoder_manifest(self, variant: str, run: str, skip_styles: tuple[str, ...] = ()) -> tuple[Path, list[str]]:
        """runs/<run>/train.jsonl: audio + the variant's units + speaker index of every cached train utterance
        (but those in `skip_styles`)."""
        from ..data.corpus.manifest import read_manifest
        from ..data.unit_cache import UnitCache

        cache = UnitCache(self.work / "corpus" / f"units-{variant}")
        records = [r for r in read_manifest(self.manifest)
                   if r.split == "train" and r.id in cache and r.style not in skip_styles]
        speakers = sorted({r.speaker for r in records})
        train = self.run_dir(run) / "train.jsonl"
        train.parent.mkdir(parents=True, exist_ok=True)
        with open(train, "w") as f:
            for r in records:
                entry = {"audio": str(self.manifest.parent / r.audio), **cache[r.id].to_official_dict(),
                         "speaker": speakers.index(r.speaker)}
                f.write(json.dumps(entry) + "\n")
        return train, speakers

    def vocoder(self, variant: str) -> None:
        train, speakers = self.vocoder_manifest(variant, f"vocoder-{variant}")
        args = ["train", "vocoder", train, "--out", self.run_dir(f"vocoder-{variant}"),
                "--preset", self.scale.vocoder_preset, "--model", self.scale.vocoder_model[variant],
                "--speakers", ",".join(speakers), *self.steps_args("vocoder")]
        self.spiritlm(*args)
        self.install_vocoder(self.run_dir(f"vocoder-{variant}") / "vocoder", variant, speakers)

    def install_vocoder(self, src: Path, variant: str, speakers: list[str]) -> None:
        dst = self.root / "speech_tokenizer" / f"vocoder-{variant}"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
        set_vocoder_defaults(dst, speakers)

    def world(self, variant: str) -> None:
        """Units (+ pitch, style) + speaker -> WORLD features, regressed and rendered by WORLD (`vocoder.world`)."""
        run = f"world-{variant}"
        # Base has no style input: whispered speech (no F0) would teach it to blur voiced and unvoiced frames
        train, speakers = self.vocoder_manifest(variant, run, ("whisper",) if variant == "base" else ())
        self.spiritlm("train", "world-vocoder", train, "--out", self.run_dir(run), "--preset",
                      self.scale.vocoder_preset, "--model", self.scale.vocoder_model[variant],
                      "--speakers", ",".join(speakers), "--threads", "1", *self.steps_args("world"),
                      *self.scale.world_args)
        self.install_vocoder(self.run_dir(run) / "vocoder", variant, speakers)

    def spectral(self, variant: str) -> None:
        """The spectral head + Griffin-Lim on the trained HiFi-GAN's embeddings (`vocoder.spectral`): intelligible
        after minutes, where the HiFi-GAN needs far more GAN steps than a CPU gives. It is the shipped vocoder."""
        run = self.run_dir(f"vocoder-{variant}")
        out = self.run_dir(f"spectral-{variant}")
        self.spiritlm("train", "spectral-vocoder", run / "train.jsonl", "--init", run / "vocoder", "--out", out,
                      "--preset", self.scale.train_preset, *self.steps_args("spectral"))
        dst = self.root / "speech_tokenizer" / f"vocoder-{variant}"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(out / "vocoder", dst)
        set_vocoder_defaults(dst, (dst / "speakers.txt").read_text().split())

    def lm(self, variant: str, ablation: str | None = None) -> None:
        """Train one LM. Ablations of the Base recipe: "lm-ablation" drops the interleaved data (the paper's
        central ablation; the parallel ASR/TTS pairs stay); "lm-textonly" trains on text alone (the text
        model to compare with)."""
        import yaml

        name = ablation or f"lm-{variant}"
        cfg = yaml.safe_load((recipes_dir() / self.scale.lm_recipe[variant]).read_text())
        cfg["run"]["out_dir"] = str(self.run_dir(name))
        if ablation:
            drop = {"lm-ablation": ("interleaved",), "lm-textonly": ("interleaved", "speech", "asr", "tts")}[ablation]
            cfg["data"]["weights"] = {**cfg["data"].get("weights", {}), **dict.fromkeys(drop, 0)}
        if self.scale.steps.get("lm"):
            cfg["run"]["steps"] = self.scale.steps["lm"]
        if self.scale.ablation_steps:
            if ablation:
                cfg["run"]["steps"] = self.scale.ablation_steps
            elif variant == "base":  # its checkpoint at that step is the ablations' equal-budget reference
                cfg["run"]["milestones"] = [self.scale.ablation_steps]
        if self.scale.lm_tokens_per_step:
            batch = max(1, self.scale.lm_tokens_per_step // cfg["data"]["seq_len"])
            cfg["optim"]["global_batch"] = batch
            cfg["optim"]["micro_batch"] = min(cfg["optim"].get("micro_batch", batch), batch)
        from ..speech.bundle import inventory

        cfg["model"].update(tokenizer=str(self.work / "models" / "text-tokenizer"), variant=variant,
                            **inventory(self.root, variant))  # the layout holds exactly the trained units
        cfg["data"].update(manifest=str(self.manifest), units=str(self.work / "corpus" / f"units-{variant}"))
        if self.text_only.is_file():
            cfg["data"]["text_files"] = [str(self.text_only)]
        config = self.run_dir(name) / "config.yaml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.spiritlm("train", "lm", "--config", config)

    def style_referee(self) -> None:
        """The style benchmark's judge (prosodic, utterance level; `eval.prosody`), shipped beside the speech side."""
        out = self.run_dir("style-referee")
        self.spiritlm("train", "prosody-referee", self.manifest, "--out", out,
                      "--per-style", str(self.scale.referee_per_style))
        self.install_style_referee()

    def install_style_referee(self) -> None:
        out = self.run_dir("style-referee")
        dst = self.root / "speech_tokenizer" / "style-referee"
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for f in ("prosody.json", "model.safetensors", "fit.json"):
            shutil.copyfile(out / f, dst / f)

    def export_lm(self, run: str, dst: Path, step: int | None = None) -> Path:
        """The latest checkpoint of an LM run (or the one at `step`), weights and tokenizer only (no optimizer
        state)."""
        from .lm_checkpoint import checkpoint_at, latest_checkpoint

        ckpt = latest_checkpoint(self.run_dir(run)) if step is None else checkpoint_at(self.run_dir(run), step)
        if ckpt is None:
            raise FileNotFoundError(f"no LM checkpoint{f' at step {step}' if step else ''} in {self.run_dir(run)}")
        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        for f in LM_FILES:
            if (ckpt / f).is_file():
                shutil.copyfile(ckpt / f, dst / f)
        return dst

    def bundle(self) -> None:
        """Copy the final LM weights (no optimizer state) into the root and hash everything."""
        from ..checkpoints import write_manifest

        for variant, name in LM_NAMES.items():
            self.export_lm(f"lm-{variant}", self.root / "spiritlm_model" / name)
        write_manifest(self.root)  # install_bundle() refuses pickle files and oversize bundles

    @property
    def results(self) -> Path:
        return self.work / "results"

    def ablation_root(self) -> Path:
        """A second root for the ablations that shares the speech side, so speech benchmarks run on them too."""
        extra = self.work / "ablation-root"
        (extra / "spiritlm_model").mkdir(parents=True, exist_ok=True)
        if not (extra / "speech_tokenizer").exists():
            (extra / "speech_tokenizer").symlink_to(self.root / "speech_tokenizer", target_is_directory=True)
        return extra

    def model_path(self, name: str) -> Path:
        if name == ABLATION:  # exported afresh: a re-run of lm-ablation must not leave a stale copy
            return self.export_lm("lm-ablation", self.ablation_root() / "spiritlm_model" / "no-interleaving")
        if name == BASE_SAME_BUDGET:
            return self.export_lm("lm-base", self.ablation_root() / "spiritlm_model" / name,
                                  step=self.scale.ablation_steps)
        return self.root / "spiritlm_model" / name

    def evaluate_model(self, name: str) -> None:
        """Every benchmark but perplexity on the held-out split for one model; results/<name>.json. TTS and ASR
        are zero-shot in the format the LMs trained on (parallel pairs), without the paper's flags."""
        self.results.mkdir(exist_ok=True)
        out = self.results / f"{name}.json"
        # the ablations share the Base speech side: their referee and resynthesis are the Base model's
        only = ",".join(b for b in EVAL_BENCHMARKS.split(",")
                        if name not in (ABLATION, BASE_SAME_BUDGET) or b not in ("referee", "resynthesis"))
        self.spiritlm("eval", "all", "--model", self.model_path(name), "--manifest", self.manifest, "--split", "test",
                      "--limit", str(self.scale.eval_limit), "--only", only, "--shots", "0", "--no-flags",
                      "--classifier", self.root / "speech_tokenizer" / "style-referee",
                      "--out", self.results / f"{name}.partial.json")
        (self.results / f"{name}.partial.json").replace(out)  # written only once the whole run finished

    def evaluate_ablation(self) -> None:
        self.evaluate_model(ABLATION)
        if self.scale.ablation_steps:
            self.evaluate_model(BASE_SAME_BUDGET)

    def evaluate(self) -> None:
        """Text perplexity of every model and of the text-only LM (same recipe, text only; scored as a
        Spirit LM, `[Text]` first, as it was trained), then one report with a column each."""
        text_lm = self.export_lm("lm-textonly", self.ablation_root() / "spiritlm_model" / "text-only")
        names = [*LM_NAMES.values(), ABLATION, *([BASE_SAME_BUDGET] if self.scale.ablation_steps else [])]
        for name in [*names, TEXT_ONLY]:
            ppl = self.results / f"{name}.perplexity.json"
            self.spiritlm("eval", "perplexity", "--model", text_lm if name == TEXT_ONLY else self.model_path(name),
                          "--manifest", self.manifest, "--split", "test", "--limit", str(self.scale.eval_limit),
                          "--out", ppl)
            if name == TEXT_ONLY:
                shutil.copyfile(ppl, self.results / f"{name}.json")
                continue
            data = json.loads((self.results / f"{name}.json").read_text())
            data["results"] = [r for r in data["results"] if r.get("benchmark") != "perplexity"]
            data["results"] += json.loads(ppl.read_text())["results"]
            (self.results / f"{name}.json").write_text(json.dumps(data, indent=1, default=str))
        self.spiritlm("eval", "report", *(self.results / f"{n}.json" for n in [*names, TEXT_ONLY]), "--compare",
                      "--out", self.results / "report.md")


# The voice our vocoders speak in unless asked otherwise: a clear one for listeners and for the Whisper referee
# (on the original corpus audio Whisper misreads flite voices least; see `spiritlm eval referee`).
DEFAULT_VOICES = ("flite-slt", "flite-kal16", "flite-awb")


def set_vocoder_defaults(folder: Path, speakers: list[str]) -> None:
    """Record the default speaker (the first of DEFAULT_VOICES it knows, else 0) and style 0 (what the
    vocoder trained on) in the vocoder folder's config.json, where `load_vocoder` reads them."""
    speaker = next((speakers.index(v) for v in DEFAULT_VOICES if v in speakers), 0)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["defaults"] = {"speaker": speaker, "style": 0}
    (folder / "config.json").write_text(json.dumps(cfg, indent=1))


MAX_BUNDLE_BYTES = 80 * 1024 * 1024


def _half_lm_weights(folder: Path) -> None:
    """Store an LM's fp32 weights as fp16 (loaded back as fp32 on CPU): half the bytes in the repository."""
    import torch

    from ..torch_files import cast_safetensors

    cast_safetensors(folder / "model.safetensors", folder / "model.safetensors", torch.float16, only=torch.float32)


def install_bundle(root: str | os.PathLike, dest: str | os.PathLike | None = None, half_lms: bool = True) -> Path:
    """Copy a finished root (the two mini LMs + speech side) to the package's shipped-models folder.

    The LMs' weights are stored in fp16 unless `half_lms=False` (they load as fp32). Refuses a bundle
    over 80 MB or one with pickle files; the copy gets a fresh SHA256SUMS."""
    from ..checkpoints import bundled_root, verify_manifest, write_manifest

    root = Path(root)
    verify_manifest(root)
    parts = [root / "speech_tokenizer"] + [root / "spiritlm_model" / n for n in LM_NAMES.values()]
    files = [f for p in parts for f in p.rglob("*") if f.is_file()]
    pickles = [str(f) for f in files if f.suffix in (".pt", ".bin", ".pkl")]
    if pickles:
        raise ValueError(f"bundle must hold safetensors only; found {pickles[:3]}")
    dest = Path(dest) if dest else bundled_root()
    shutil.rmtree(dest, ignore_errors=True)
    for p in parts:
        shutil.copytree(p, dest / p.relative_to(root))
    if half_lms:
        for n in LM_NAMES.values():
            _half_lm_weights(dest / "spiritlm_model" / n)
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file())
    if size > MAX_BUNDLE_BYTES:
        shutil.rmtree(dest)
        raise ValueError(f"bundle is {size / 2**20:.1f} MB, over the {MAX_BUNDLE_BYTES / 2**20:.0f} MB limit")
    write_manifest(dest)
    logger.info("installed %.1f MB of models to %s", size / 2**20, dest)
    return dest
