"""One phone inventory for every corpus engine: the targets of the phone-supervised unit encoder.

The corpus engines label their phones in three alphabets: flite and festival in ARPAbet
(`ay`, `dh`), espeak-ng in its own mnemonics (`aI`, `D`, `@2`) and Piper in IPA characters
(`a`, `ɪ`, `ð`, with `ː` marking length). A frame classifier needs one label set, so each is mapped
onto the 39 ARPAbet phones of the CMU dictionary (stress dropped, schwa `ax` folded into `ah`) plus
`sil` for every frame outside a phone::

    >>> to_inventory("espeak", "aI"), to_inventory("piper", "ð"), to_inventory("flite", "ax")
    ('ay', 'dh', 'ah')
    >>> to_inventory("piper", "ː")      # a length mark: the frames belong to the phone before it
    None

Sounds ARPAbet lacks take their nearest phone (espeak's glottal stop `?` and Piper's `ʔ`/`ɾ` -> `t`,
the velar fricative `x` -> `hh`). Piper spells diphthongs as two characters (`a` + `ɪ`), which become
two frame targets (`aa`, `ih`); the encoder learns the same trajectory whichever engine spoke it.
"""

from __future__ import annotations

import numpy as np

SILENCE = "sil"
ARPABET = ("aa", "ae", "ah", "ao", "aw", "ay", "b", "ch", "d", "dh", "eh", "er", "ey", "f", "g", "hh", "ih",
           "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "t", "th", "uh", "uw", "v",
           "w", "y", "z", "zh")
PHONES = (SILENCE, *ARPABET)  # index = class id of the encoder's phone head
PHONE_ID = {p: i for i, p in enumerate(PHONES)}

# ARPAbet engines: their own labels, silence names, and the schwa
_ARPABET_EXTRA = {"ax": "ah", "axr": "er", "pau": SILENCE, "h#": SILENCE, "sil": SILENCE, "#": SILENCE}

_ESPEAK = {
    "0": "aa", "3": "er", "3:": "er", "@": "ah", "@-": "ah", "@2": "ah", "@5": "ah", "@L": "l", "A:": "aa",
    "A@": "aa", "D": "dh", "E": "eh", "I": "ih", "I#": "ih", "I2": "ih", "IR": "ih", "N": "ng", "O": "ao",
    "O2": "ao", "O:": "ao", "O@": "ao", "OI": "oy", "S": "sh", "T": "th", "U": "uh", "U@": "uh", "V": "ah",
    "VR": "er", "Z": "zh", "a": "ae", "a#": "ah", "aI": "ay", "aI2": "ay", "aI3": "ay", "aI@": "ay",
    "aU": "aw", "aa": "ae", "b": "b", "d": "d", "dZ": "jh", "e@": "eh", "eI": "ey", "f": "f", "g": "g",
    "h": "hh", "i": "iy", "i:": "iy", "i@": "ih", "i@3": "ih", "j": "y", "k": "k", "l": "l", "m": "m",
    "n": "n", "n-": "n", "o@": "ao", "oU": "ow", "p": "p", "r": "r", "r-": "r", "s": "s", "t": "t",
    "t#": "t", "t2": "t", "tS": "ch", "t[": "t", "u:": "uw", "v": "v", "w": "w", "w#": "w", "x": "hh",
    "z": "z", "?": "t", "_": SILENCE, "_:": SILENCE, ";": None,
}

_IPA = {
    "a": "aa", "b": "b", "d": "d", "e": "ey", "f": "f", "h": "hh", "i": "iy", "j": "y", "k": "k", "l": "l",
    "m": "m", "n": "n", "o": "ow", "p": "p", "s": "s", "t": "t", "u": "uw", "v": "v", "w": "w", "x": "hh",
    "z": "z", "æ": "ae", "ð": "dh", "ŋ": "ng", "ɐ": "ah", "ɑ": "aa", "ɔ": "ao", "ə": "ah", "ɚ": "er",
    "ɛ": "eh", "ɜ": "er", "ɡ": "g", "g": "g", "ɪ": "ih", "ɹ": "r", "r": "r", "ɾ": "t", "ʃ": "sh", "ʊ": "uh",
    "ʌ": "ah", "ʒ": "zh", "ʔ": "t", "θ": "th", "ᵻ": "ih", "ɒ": "aa", "ɫ": "l", "ʤ": "jh", "ʧ": "ch",
    "ː": None, "\u0329": None, "ˈ": None, "ˌ": None, " ": SILENCE,
}

ENGINE_ALPHABET = {"flite": "arpabet", "festival": "arpabet", "espeak": "espeak", "piper": "ipa"}


def to_inventory(engine: str, phone: str) -> str | None:
    """An engine's phone label -> an inventory phone; None for a modifier that extends the phone before it.

    Raises ValueError naming the engine and the label when the label is not in that engine's alphabet."""
    alphabet = ENGINE_ALPHABET.get(engine)
    if alphabet is None:
        raise ValueError(f"unknown corpus engine {engine!r}; valid: {', '.join(ENGINE_ALPHABET)}")
    if alphabet == "arpabet":
        p = phone.lower().rstrip("012")
        p = _ARPABET_EXTRA.get(p, p)
        if p in PHONE_ID:
            return p
    else:
        table = _ESPEAK if alphabet == "espeak" else _IPA
        if phone in table:
            return table[phone]
        stripped = phone.strip("ˈˌ',")  # stress marks glued to a phone
        if stripped in table:
            return table[stripped]
    raise ValueError(f"{engine} phone {phone!r} has no entry in the phone inventory map ({alphabet} alphabet)")


def segments(engine: str, phonemes: list[dict] | list[tuple]) -> list[tuple[str, float, float]]:
    """A manifest's phone timings -> [(inventory phone, start, end)]; modifiers extend the segment before them."""
    out: list[tuple[str, float, float]] = []
    for p in phonemes:
        label, start, end = (p["phone"], p["start"], p["end"]) if isinstance(p, dict) else p
        mapped = to_inventory(engine, label)
        if mapped is None:
            if out:
                out[-1] = (out[-1][0], out[-1][1], float(end))
            continue
        out.append((mapped, float(start), float(end)))
    return out


def frame_targets(segs: list[tuple[str, float, float]], n_frames: int, hop_seconds: float,
                  time_scale: float = 1.0) -> np.ndarray:
    """Class id of the phone covering each frame's centre (`sil` elsewhere) -> int64 [n_frames].

    `time_scale` maps the manifest's times onto the audio the frames were computed from (a speed
    perturbation by factor s shortens the audio: time_scale = 1 / s)."""
    out = np.zeros(n_frames, dtype=np.int64)
    centres = (np.arange(n_frames) + 0.5) * hop_seconds
    for phone, start, end in segs:
        lo, hi = np.searchsorted(centres, [start * time_scale, end * time_scale])
        out[lo:hi] = PHONE_ID[phone]
    return out
