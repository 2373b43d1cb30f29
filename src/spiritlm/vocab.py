"""The token layout: the one place that knows which LM id means what.

Spirit LM appends speech tokens to a text vocabulary. With Llama-2's 32,000 text ids the
official layout is::

    0 ..... 31999   text (SentencePiece; <unk>=0, <s>=1, </s>=2)
    32000           [Text]     modality marker
    32001           [Speech]   modality marker
    32002 . 32502   [Hu0]..[Hu500]   HuBERT units, 25 Hz
    32503 . 32566   [Pi0]..[Pi63]    pitch units, 12.5 Hz      (Expressive only)
    32567 . 32666   [St0]..[St99]    style units, 1 Hz         (Expressive only)
    32667 .. V-1    padding rows (V = 32512 Base, 32768 Expressive: multiples of 256)

Any other text vocabulary gets the same layout shifted to start at its size, so the mini
model and the 7B checkpoints share one code path::

    >>> layout = TokenLayout.expressive(text_vocab_size=32000)
    >>> layout.unit_id("pitch", 3), layout.token_of(32503 + 3)
    (32506, ('pitch', 3))
"""

from __future__ import annotations

from dataclasses import dataclass

STREAMS = ("hubert", "pitch", "style")
"""Speech unit streams, in the order the official layout stores them."""
STREAM_PREFIX = {"hubert": "Hu", "pitch": "Pi", "style": "St"}
PREFIX_STREAM = {v: k for k, v in STREAM_PREFIX.items()}
TEXT_MARKER = "[Text]"
SPEECH_MARKER = "[Speech]"
OFFICIAL_TEXT_VOCAB = 32000
PAD_MULTIPLE = 256


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


@dataclass(frozen=True)
class TokenLayout:
    """Id ranges of one model. `vocab_size` is the embedding size (used ids plus padding)."""

    text_vocab_size: int
    n_hubert: int = 501
    n_pitch: int = 0
    n_style: int = 0
    vocab_size: int = 0  # 0 = round the used ids up to PAD_MULTIPLE

    def __post_init__(self) -> None:
        for name in ("text_vocab_size", "n_hubert"):
            if getattr(self, name) <= 0:
                raise ValueError(f"TokenLayout.{name} must be positive, got {getattr(self, name)}")
        if (self.n_pitch == 0) != (self.n_style == 0):
            raise ValueError(
                "TokenLayout: pitch and style come together (Expressive) or not at all (Base); "
                f"got n_pitch={self.n_pitch}, n_style={self.n_style}"
            )
        if self.vocab_size == 0:
            object.__setattr__(self, "vocab_size", _round_up(self.n_used, PAD_MULTIPLE))
        if self.vocab_size < self.n_used:
            raise ValueError(
                f"vocabulary size {self.vocab_size} is too small for this layout: it needs at least "
                f"{self.n_used} ids ({self.text_vocab_size} text + 2 markers + {self.n_hubert} Hu"
                f" + {self.n_pitch} Pi + {self.n_style} St)"
            )

    @classmethod
    def base(cls, text_vocab_size: int = OFFICIAL_TEXT_VOCAB, vocab_size: int = 0, n_hubert: int = 501):
        return cls(text_vocab_size, n_hubert, 0, 0, vocab_size)

    @classmethod
    def expressive(cls, text_vocab_size: int = OFFICIAL_TEXT_VOCAB, vocab_size: int = 0,
                   n_hubert: int = 501, n_pitch: int = 64, n_style: int = 100):
        return cls(text_vocab_size, n_hubert, n_pitch, n_style, vocab_size)

    @property
    def is_expressive(self) -> bool:
        return self.n_pitch > 0

    @property
    def text_marker_id(self) -> int:
        return self.text_vocab_size

    @property
    def speech_marker_id(self) -> int:
        return self.text_vocab_size + 1

    def offset(self, stream: str) -> int:
        """First id of a unit stream."""
        base = self.text_vocab_size + 2
        if stream == "hubert":
            return base
        if stream == "pitch":
            return base + self.n_hubert
        if stream == "style":
            return base + self.n_hubert + self.n_pitch
        raise ValueError(f"unknown unit stream {stream!r}; valid: {', '.join(STREAMS)}")

    def size(self, stream: str) -> int:
        sizes = {"hubert": self.n_hubert, "pitch": self.n_pitch, "style": self.n_style}
        if stream not in sizes:
            raise ValueError(f"unknown unit stream {stream!r}; valid: {', '.join(STREAMS)}")
        return sizes[stream]

    @property
    def streams(self) -> tuple[str, ...]:
        return STREAMS if self.is_expressive else ("hubert",)

    @property
    def n_used(self) -> int:
        return self.text_vocab_size + 2 + self.n_hubert + self.n_pitch + self.n_style

    def id_range(self, stream: str) -> range:
        start = self.offset(stream)
        return range(start, start + self.size(stream))

    def unit_id(self, stream: str, unit: int) -> int:
        n = self.size(stream)
        if not 0 <= unit < n:
            kind = "Base" if not self.is_expressive else "Expressive"
            raise ValueError(
                f"[{STREAM_PREFIX[stream]}{unit}] is out of range: this {kind} layout has "
                f"{n} {stream} units ({STREAM_PREFIX[stream]}0..{STREAM_PREFIX[stream]}{n - 1})"
                if n else f"this {kind} layout has no {stream} tokens ([{STREAM_PREFIX[stream]}{unit}])"
            )
        return self.offset(stream) + unit

    def token_of(self, token_id: int) -> tuple[str, int]:
        """Classify an id: ("text", id) | ("marker", 0 text / 1 speech) | (stream, unit) | ("pad", id)."""
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(f"token id {token_id} is outside the vocabulary [0, {self.vocab_size})")
        if token_id < self.text_vocab_size:
            return "text", token_id
        if token_id < self.text_vocab_size + 2:
            return "marker", token_id - self.text_vocab_size
        for stream in self.streams:
            r = self.id_range(stream)
            if token_id in r:
                return stream, token_id - r.start
        return "pad", token_id

    def token_string(self, token_id: int) -> str:
        """Official string of a non-text id: "[Text]", "[Speech]", "[Hu12]", ..."""
        kind, value = self.token_of(token_id)
        if kind == "marker":
            return (TEXT_MARKER, SPEECH_MARKER)[value]
        if kind in STREAM_PREFIX:
            return f"[{STREAM_PREFIX[kind]}{value}]"
        raise ValueError(f"token id {token_id} is a {kind} id and has no official token string")

    def describe(self) -> str:
        rows = [f"text        0 .. {self.text_vocab_size - 1}",
                f"[Text]      {self.text_marker_id}", f"[Speech]    {self.speech_marker_id}"]
        for s in self.streams:
            r = self.id_range(s)
            rows.append(f"{STREAM_PREFIX[s]}0..{STREAM_PREFIX[s]}{len(r) - 1:<4} {r.start} .. {r.stop - 1}")
        if self.vocab_size > self.n_used:
            rows.append(f"padding     {self.n_used} .. {self.vocab_size - 1}")
        kind = "Expressive" if self.is_expressive else "Base"
        return f"{kind} layout, vocabulary {self.vocab_size}\n" + "\n".join(rows)

    def to_dict(self) -> dict:
        return {"text_vocab_size": self.text_vocab_size, "n_hubert": self.n_hubert,
                "n_pitch": self.n_pitch, "n_style": self.n_style, "vocab_size": self.vocab_size}

    @classmethod
    def from_dict(cls, d: dict) -> TokenLayout:
        unknown = set(d) - {"text_vocab_size", "n_hubert", "n_pitch", "n_style", "vocab_size"}
        if unknown:
            raise ValueError(f"unknown TokenLayout keys {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def infer(cls, text_vocab_size: int, vocab_size: int) -> TokenLayout:
        """The official rule: a vocabulary that holds the Expressive tokens is Expressive."""
        expressive = cls.expressive(text_vocab_size)
        if vocab_size >= expressive.n_used:
            return cls.expressive(text_vocab_size, vocab_size)
        return cls.base(text_vocab_size, vocab_size)
