"""Text tokenizer of a Spirit checkpoint: a text vocabulary plus the markup tokens of its layout.

The text part is the checkpoint's own tokenizer (SentencePiece `tokenizer.model` for Llama-2, or a
Hugging Face `tokenizer.json`). Markup tokens (`[Text]`, `[Speech]`, `[Hu12]`, `[Pi3]`, `[St71]`)
never go through it: a prompt string is split at markup, each text run is encoded on its own, and
markup maps straight to layout ids. So the round trip is exact whatever the tokenizer files say
about added tokens::

    "[Text]The cat[Speech][Hu12][Hu7]"
    -> <s> [Text] ▁The ▁cat [Speech] [Hu12] [Hu7]
    -> ids 1, 32000, 450, 6635, 32001, 32014, 32009   (Llama-2)
    -> decode -> "[Text]The cat[Speech][Hu12][Hu7]"
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..tokens import markup_id, split_markup
from ..vocab import SPEECH_MARKER, TEXT_MARKER, TokenLayout

logger = logging.getLogger(__name__)


class _SentencePieceText:
    def __init__(self, model_file: Path):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        marker = self.sp.piece_to_id(TEXT_MARKER)
        has_marker = marker != self.sp.unk_id() and self.sp.id_to_piece(marker) == TEXT_MARKER
        # A tokenizer.model that already holds the markup pieces: the text part ends at [Text].
        self.size = marker if has_marker else self.sp.get_piece_size()
        self.bos_id, self.eos_id, self.unk_id = self.sp.bos_id(), self.sp.eos_id(), self.sp.unk_id()
        self.pad_id = self.sp.pad_id()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def piece(self, i: int) -> str:
        return self.sp.id_to_piece(i)


class _HFText:
    def __init__(self, tokenizer_file: Path, config: dict):
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_file))
        self.size = self.tok.get_vocab_size(with_added_tokens=True)
        marker = self.tok.token_to_id(TEXT_MARKER)
        if marker is not None:
            self.size = marker

        def special(name: str) -> int:
            value = config.get(name)
            if isinstance(value, dict):
                value = value.get("content")
            tid = self.tok.token_to_id(value) if value else None
            return -1 if tid is None else tid

        self.bos_id, self.eos_id = special("bos_token"), special("eos_token")
        self.unk_id, self.pad_id = special("unk_token"), special("pad_token")

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids, skip_special_tokens=False)

    def piece(self, i: int) -> str:
        return self.tok.id_to_token(i)


class TextTokenizer:
    """Text + markup tokenizer bound to a `TokenLayout`."""

    def __init__(self, backend, layout: TokenLayout | None = None, add_bos: bool = True):
        self.backend = backend
        self.add_bos = add_bos
        self.layout = layout or TokenLayout.base(backend.size)
        if self.layout.text_vocab_size != backend.size:
            raise ValueError(
                f"the text tokenizer has {backend.size} text ids but the layout expects "
                f"{self.layout.text_vocab_size}; the tokenizer files do not match this checkpoint"
            )
        self.bos_id, self.eos_id, self.unk_id = backend.bos_id, backend.eos_id, backend.unk_id
        if self.eos_id < 0:
            raise ValueError("the text tokenizer defines no end-of-sequence token")
        # Llama-2 has no pad token: pad with EOS (masked by the attention mask anyway).
        self.pad_id = backend.pad_id if backend.pad_id >= 0 else self.eos_id

    @classmethod
    def from_dir(cls, path: str | Path, layout: TokenLayout | None = None) -> TextTokenizer:
        """Load `tokenizer.model` (SentencePiece) or `tokenizer.json` from a checkpoint folder."""
        path = Path(path)
        config_file = path / "tokenizer_config.json"
        config = json.loads(config_file.read_text()) if config_file.is_file() else {}
        if (path / "tokenizer.model").is_file():
            backend = _SentencePieceText(path / "tokenizer.model")
        elif (path / "tokenizer.json").is_file():
            backend = _HFText(path / "tokenizer.json", config)
        else:
            raise FileNotFoundError(f"no tokenizer in {path}: expected tokenizer.model (SentencePiece) "
                                    "or tokenizer.json (Hugging Face tokenizers)")
        tok = cls(backend, layout, add_bos=bool(config.get("add_bos_token", True)))
        tok._check_added_tokens(config)
        return tok

    def _check_added_tokens(self, config: dict) -> None:
        """Tokenizer files that register markup tokens must agree with the layout."""
        for sid, entry in (config.get("added_tokens_decoder") or {}).items():
            content = entry.get("content") if isinstance(entry, dict) else None
            if not content or not content.startswith("["):
                continue
            try:
                expected = markup_id(content, self.layout)
            except ValueError:
                expected = None
            if expected is not None and expected != int(sid):
                raise ValueError(f"tokenizer_config.json maps {content} to id {sid}, but the layout puts it at "
                                 f"{expected}: the tokenizer does not match this checkpoint")

    @property
    def text_vocab_size(self) -> int:
        return self.backend.size

    def encode_text(self, text: str) -> list[int]:
        """One text run, no BOS, no markup parsing."""
        return list(self.backend.encode(text)) if text else []

    def encode(self, s: str, add_bos: bool | None = None) -> list[int]:
        """A prompt string with markup -> ids (BOS first unless `add_bos=False`)."""
        ids = [self.bos_id] if (self.add_bos if add_bos is None else add_bos) and self.bos_id >= 0 else []
        for piece in split_markup(s):
            mid = markup_id(piece, self.layout)
            ids.extend([mid] if mid is not None else self.encode_text(piece))
        return ids

    def decode(self, ids: Iterable[int], skip_special: bool = True) -> str:
        """Ids -> string with markup; BOS/EOS/padding dropped when `skip_special`."""
        out: list[str] = []
        run: list[int] = []
        specials = {self.bos_id, self.eos_id, self.pad_id}
        for i in map(int, ids):
            kind, _ = self.layout.token_of(i)
            if kind == "text":
                if not (skip_special and i in specials):
                    run.append(i)
                continue
            if run:
                out.append(self.backend.decode(run))
                run = []
            if kind != "pad":
                out.append(self.layout.token_string(i))
            elif not skip_special:
                out.append(f"<pad{i}>")
        if run:
            out.append(self.backend.decode(run))
        return "".join(out)

    def decode_text(self, ids: Sequence[int]) -> str:
        return self.backend.decode([i for i in ids if i not in (self.bos_id, self.eos_id, self.pad_id)])

    def marker_string(self, speech: bool) -> str:
        return SPEECH_MARKER if speech else TEXT_MARKER
