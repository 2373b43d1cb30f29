"""Spoken minimal pairs for the evaluation harness (sWUGGY- and sBLIMP-like), built like the corpus.

Lexical pairs: a real word and a non-word that looks and sounds English but is not in the dictionary.
The non-words come from a phonotactic generator learned from the word list itself: every word is cut
into consonant and vowel letter groups, which gives the inventories (with counts) of word-initial
onsets, vowel nuclei, word-internal consonant clusters and word-final codas. A non-word for a given
word is sampled with the same number of syllables, a length within two letters, and is rejected if it
(or it minus a plural/verb ending) is a dictionary word:

    NonwordGenerator(word_list()).nonword_for("garden", rng) -> e.g. "strimbet"

Syntactic pairs: templated grammatical / ungrammatical sentences differing in one place: subject-verb
agreement (also across a prepositional phrase), determiner-noun number, reflexive pronoun agreement,
irregular past participles and word order. Each pair is spoken by one voice, in the neutral style.
Output: `pairs.jsonl` (one `Pair` per line) and wavs under `wav/`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ...audio import write_audio
from .engines import make_engine
from .engines.base import EngineError
from .manifest import TimedWord
from .styles import get_style

logger = logging.getLogger(__name__)
_GROUPS = re.compile(r"[aeiouy]+|[^aeiouy]+")


@dataclass(frozen=True)
class PairItem:
    text: str
    audio: str  # relative to the pairs file's folder
    duration: float
    words: tuple[TimedWord, ...]


@dataclass(frozen=True)
class Pair:
    id: str
    kind: str  # lexical | syntactic
    category: str  # "word" for lexical pairs, the template name for syntactic ones
    good: PairItem
    bad: PairItem


@dataclass(frozen=True)
class PairConfig:
    lexical: int = 200
    syntactic: int = 200
    engine: str = "espeak"
    voice: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class PairsResult:
    manifest: Path
    lexical: int
    syntactic: int


def _groups(word: str) -> list[str]:
    """Letter groups, consonants and vowels alternating; a word-initial "y" before a vowel is a consonant."""
    if word.startswith("y") and word[1:2] in tuple("aeiou"):
        return ["y"] + _GROUPS.findall(word[1:])
    return _GROUPS.findall(word)


def syllables(word: str) -> int:
    return max(1, sum(1 for i, g in enumerate(_groups(word)) if _is_vowel(g, i)))


def _is_vowel(group: str, index: int) -> bool:
    return group[0] in "aeiou" or (group[0] == "y" and (index > 0 or len(group) > 1))


class NonwordGenerator:
    """Orthographic phonotactics (onset, nucleus, medial, coda inventories with counts) of a word list."""

    def __init__(self, words: list[str]):
        self.words = set(words)
        self.onsets, self.nuclei, self.medials, self.codas = Counter(), Counter(), Counter(), Counter()
        for w in words:
            g = _groups(w)
            if not g:
                continue
            self.onsets["" if _is_vowel(g[0], 0) else g[0]] += 1
            self.codas["" if _is_vowel(g[-1], len(g) - 1) else g[-1]] += 1
            for i, grp in enumerate(g):
                if _is_vowel(grp, i):
                    self.nuclei[grp] += 1
                elif 0 < i < len(g) - 1:
                    self.medials[grp] += 1
        if not self.nuclei:
            raise ValueError("the word list has no words with vowels")

    @staticmethod
    def _draw(rng: random.Random, counts: Counter) -> str:
        keys = sorted(counts)
        return rng.choices(keys, weights=[counts[k] for k in keys])[0]

    def sample(self, rng: random.Random, n_syllables: int) -> str:
        parts = [self._draw(rng, self.onsets)]
        for i in range(n_syllables):
            parts.append(self._draw(rng, self.nuclei))
            parts.append(self._draw(rng, self.medials) if i < n_syllables - 1 else self._draw(rng, self.codas))
        return "".join(parts)

    def is_word(self, s: str) -> bool:
        stems = {s, s[:-1] if s.endswith("s") else s, s[:-2] if s.endswith(("ed", "es")) else s,
                 s[:-3] if s.endswith("ing") else s}
        return any(x in self.words for x in stems)

    def nonword_for(self, word: str, rng: random.Random, tries: int = 200) -> str:
        n = syllables(word)
        for _ in range(tries):
            cand = self.sample(rng, n)
            if (abs(len(cand) - len(word)) <= 2 and syllables(cand) == n and len(cand) >= 3
                    and not re.search(r"q(?!u)|^y(?![aeiou])", cand) and not self.is_word(cand)):
                return cand
        raise ValueError(f"no non-word found for {word!r} in {tries} tries")


# --- syntactic templates --------------------------------------------------------------------------
_NOUNS = [("dog", "dogs"), ("teacher", "teachers"), ("farmer", "farmers"), ("bird", "birds"), ("doctor", "doctors"),
          ("student", "students"), ("child", "children"), ("woman", "women"), ("man", "men"), ("cat", "cats")]
_VERBS = [("sleeps", "sleep"), ("runs", "run"), ("sings", "sing"), ("laughs", "laugh"), ("waits", "wait"),
          ("works", "work"), ("smiles", "smile"), ("reads", "read")]
_PLACES = ["house", "river", "tree", "station", "garden", "window", "bridge", "market"]
_ADVERBS = ["quietly", "every day", "at night", "in the morning", "very well", "again"]
_GENDERED = [("man", "himself", "herself"), ("woman", "herself", "himself"), ("boy", "himself", "herself"),
             ("girl", "herself", "himself")]
_TRANSITIVE = ["saw", "hurt", "praised", "blamed", "described", "helped"]
_PARTICIPLES = [("eaten", "ate"), ("written", "wrote"), ("seen", "saw"), ("taken", "took"), ("given", "gave"),
                ("gone", "went"), ("spoken", "spoke"), ("broken", "broke")]
_ADJECTIVES = ["old", "red", "small", "heavy", "new", "strange"]
_OBJECTS = ["book", "letter", "box", "song", "picture", "story"]


def _agreement(r: random.Random) -> tuple[str, str, str]:
    (sg, _), (v_sg, v_pl), adv = r.choice(_NOUNS), r.choice(_VERBS), r.choice(_ADVERBS)
    return "subject_verb", f"The {sg} {v_sg} {adv}.", f"The {sg} {v_pl} {adv}."


def _agreement_attractor(r: random.Random) -> tuple[str, str, str]:
    (_, pl), (v_sg, v_pl), place = r.choice(_NOUNS), r.choice(_VERBS), r.choice(_PLACES)
    return "subject_verb_attractor", f"The {pl} near the {place} {v_pl}.", f"The {pl} near the {place} {v_sg}."


def _determiner(r: random.Random) -> tuple[str, str, str]:
    sg, pl = r.choice(_NOUNS)
    verb = r.choice(["waited", "slept", "left", "arrived"])
    return "determiner_noun", f"These {pl} {verb} here.", f"These {sg} {verb} here."


def _reflexive(r: random.Random) -> tuple[str, str, str]:
    noun, good, bad = r.choice(_GENDERED)
    verb = r.choice(_TRANSITIVE)
    return "reflexive", f"The {noun} {verb} {good}.", f"The {noun} {verb} {bad}."


def _participle(r: random.Random) -> tuple[str, str, str]:
    (good, bad), (sg, _) = r.choice(_PARTICIPLES), r.choice(_NOUNS)
    return "irregular_participle", f"The {sg} has {good} it.", f"The {sg} has {bad} it."


def _word_order(r: random.Random) -> tuple[str, str, str]:
    verb, adj, obj = r.choice(["found", "wanted", "opened", "bought"]), r.choice(_ADJECTIVES), r.choice(_OBJECTS)
    return "word_order", f"She {verb} the {adj} {obj}.", f"She {verb} {adj} the {obj}."


TEMPLATES = (_agreement, _agreement_attractor, _determiner, _reflexive, _participle, _word_order)


def syntactic_pairs(n: int, seed: int) -> list[tuple[str, str, str]]:
    """n distinct (category, grammatical, ungrammatical) sentence pairs, cycling through the templates."""
    rng, out, seen, stale, attempt = random.Random(seed), [], set(), 0, 0
    while len(out) < n and stale < 2000:  # 2000 draws without a new sentence: the templates are exhausted
        cat, good, bad = TEMPLATES[attempt % len(TEMPLATES)](rng)
        attempt += 1
        stale += 1
        if good not in seen:
            seen.add(good)
            out.append((cat, good, bad))
            stale = 0
    if len(out) == n:
        return out
    raise ValueError(f"the templates make only {len(out)} distinct pairs, {n} requested")


def lexical_pairs(n: int, seed: int, words: list[str]) -> list[tuple[str, str]]:
    """n (word, non-word) pairs; words of 4-9 letters drawn from `words`."""
    gen, rng = NonwordGenerator(words), random.Random(seed)
    pool = [w for w in words if 4 <= len(w) <= 9]
    return [(w, gen.nonword_for(w, rng)) for w in rng.sample(pool, n)]


def build_pairs(cfg: PairConfig, out_dir: str | os.PathLike, words: list[str] | None = None) -> PairsResult:
    """Speak the pairs and write `pairs.jsonl` + wavs (rewritten from scratch; it is quick)."""
    from tqdm import tqdm

    from .texts import word_list

    out = Path(out_dir)
    engine = make_engine(cfg.engine)
    voices = engine.voices()
    voice = next((v for v in voices if v.name == cfg.voice), None) if cfg.voice else voices[0]
    if voice is None:
        raise ValueError(f"{cfg.engine} has no voice {cfg.voice!r}; valid: {', '.join(v.name for v in voices)}")
    items = [("lexical", "word", f"{w.capitalize()}.", f"{nw.capitalize()}.")
             for w, nw in lexical_pairs(cfg.lexical, cfg.seed, words if words is not None else word_list())]
    items += [("syntactic", c, g, b) for c, g, b in syntactic_pairs(cfg.syntactic, cfg.seed)]
    n_lex = n_syn = 0
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "pairs.jsonl.part"
    with open(tmp, "w", encoding="utf-8") as f:
        for i, (kind, cat, good, bad) in enumerate(tqdm(items, desc="pairs", unit="pair")):
            pid = f"{kind[:3]}{i:05d}"
            try:
                pair = Pair(pid, kind, cat, _speak(engine, voice, good, out, f"{pid}-good"),
                            _speak(engine, voice, bad, out, f"{pid}-bad"))
            except EngineError as e:
                logger.warning("skipping pair %s (%s / %s): %s", pid, good, bad, e)
                continue
            f.write(json.dumps(asdict(pair)) + "\n")
            n_lex += kind == "lexical"
            n_syn += kind == "syntactic"
    os.replace(tmp, out / "pairs.jsonl")
    return PairsResult(out / "pairs.jsonl", n_lex, n_syn)


def _speak(engine, voice, text: str, out: Path, name: str) -> PairItem:
    syn = engine.synthesize(text, voice, get_style("neutral"))
    rel = f"wav/{name}.wav"
    write_audio(out / rel, syn.wav)
    return PairItem(text, rel, round(syn.duration, 4), syn.words)


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    def item(d: dict) -> PairItem:
        return PairItem(d["text"], d["audio"], d["duration"], tuple(TimedWord(**w) for w in d["words"]))

    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Pair(r["id"], r["kind"], r["category"], item(r["good"]), item(r["bad"])) for r in rows]
