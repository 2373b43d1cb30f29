"""One of our LMs, rewritten as Meta's `spirit-lm-{base,expressive}-7b` folder.

The official code hard-codes the ids of the markup tokens (its modality bans list 32000, 32001,
32002..32502, ...) and reads the text tokenizer with `LlamaTokenizer.from_pretrained`, so an export
has to put every row of the LM where the official layout expects it::

    ours (mini): text 0..2047 | [Text] 2048 | [Speech] 2049 | Hu0..199 2050..2249 | ...
    official:    text 0..2047, unused 2048..31999 | [Text] 32000 | [Speech] 32001 | Hu0..500 32002..32502 | ...

Rows the source model does not have (text ids past its vocabulary, Hu/Pi/St units its speech side
never emits, the padding up to 32512 / 32768) are filled with a row the source model never predicts:
its first padding row, else `<unk>`. Their logits then equal that row's, which training pushed far
down, and SentencePiece never produces the unused text ids (they are UNUSED pieces).

The tokenizer: the markup is appended to `tokenizer.model` as USER_DEFINED SentencePiece pieces
at the official ids. SentencePiece then matches `[Hu12]` as one piece inside any text, and decodes
pieces with no separator, so the official string round trip (`decoded[len(prompt):]`) holds, under
transformers 4.x's slow `LlamaTokenizer` and 5.x's converted one alike. Registering the markup as
Hugging Face added tokens instead would break it: transformers 4.45 decodes added tokens
space-separated ("[Text] The cat [Speech] [Hu12] [Hu7]"), which the official speech parser cannot
read. The official README's T->T output shows an exact round trip, so Meta's tokenizer too must
hold the markup as pieces; see `docs/export.md` for what remains unknown.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..vocab import OFFICIAL_TEXT_VOCAB, STREAM_PREFIX, TokenLayout

logger = logging.getLogger(__name__)

OFFICIAL_NAMES = {"base": "spirit-lm-base-7b", "expressive": "spirit-lm-expressive-7b"}
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


@dataclass(frozen=True)
class LMExport:
    path: Path
    source_layout: TokenLayout
    layout: TokenLayout
    filled_rows: int  # rows of the exported LM that the source model did not have


def official_layout(src: TokenLayout) -> TokenLayout:
    """Meta's layout for a source layout, or ValueError naming what cannot be placed."""
    if src.text_vocab_size > OFFICIAL_TEXT_VOCAB:
        raise ValueError(
            f"the text vocabulary has {src.text_vocab_size} ids; Meta's code hard-codes [Text] at id "
            f"{OFFICIAL_TEXT_VOCAB} and bans ids by number, so only text vocabularies of at most "
            f"{OFFICIAL_TEXT_VOCAB} ids can be exported in its format")
    full = TokenLayout.expressive() if src.is_expressive else TokenLayout.base()
    for stream in src.streams:
        if src.size(stream) > full.size(stream):
            raise ValueError(f"the LM has {src.size(stream)} {stream} units; Meta's layout holds {full.size(stream)}")
    return full


def id_map(src: TokenLayout, dst: TokenLayout) -> dict[int, int]:
    """Official id -> source id for every id the source layout uses."""
    pairs = {i: i for i in range(src.text_vocab_size)}
    pairs[dst.text_marker_id] = src.text_marker_id
    pairs[dst.speech_marker_id] = src.speech_marker_id
    for stream in src.streams:
        for unit in range(src.size(stream)):
            pairs[dst.unit_id(stream, unit)] = src.unit_id(stream, unit)
    return pairs


def never_predicted_row(src: TokenLayout, unk_id: int) -> int:
    return src.n_used if src.vocab_size > src.n_used else unk_id


def remap_rows(weight: torch.Tensor, pairs: dict[int, int], size: int, fill: int) -> torch.Tensor:
    """[V_src, D] -> [size, D]: row i = weight[pairs[i]], else weight[fill]."""
    index = torch.full((size,), fill, dtype=torch.long)
    for dst_id, src_id in pairs.items():
        index[dst_id] = src_id
    return weight.detach()[index].clone()  # [size, D]


def markup_pieces(layout: TokenLayout) -> list[str]:
    pieces = ["[Text]", "[Speech]"]
    for stream in layout.streams:
        pieces += [f"[{STREAM_PREFIX[stream]}{u}]" for u in range(layout.size(stream))]
    return pieces


def official_sentencepiece(model: bytes, text_size: int, layout: TokenLayout) -> bytes:
    """Keep the first `text_size` pieces, pad with UNUSED pieces to 32000, append the markup pieces."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    proto = pb.ModelProto()
    proto.ParseFromString(model)
    if len(proto.pieces) < text_size:
        raise ValueError(f"tokenizer.model has {len(proto.pieces)} pieces, fewer than the {text_size} text ids")
    del proto.pieces[text_size:]
    kinds = pb.ModelProto.SentencePiece
    for i in range(text_size, layout.text_vocab_size):
        p = proto.pieces.add()
        p.piece, p.score, p.type = f"<unused{i}>", 0.0, kinds.UNUSED
    for name in markup_pieces(layout):
        p = proto.pieces.add()
        p.piece, p.score, p.type = name, 0.0, kinds.USER_DEFINED
    proto.trainer_spec.vocab_size = len(proto.pieces)
    return proto.SerializeToString()


def _source_sentencepiece(path: Path) -> bytes:
    sp_file = path / "tokenizer.model"
    if not sp_file.is_file():
        raise ValueError(f"{path} has no tokenizer.model: Meta's code reads the text tokenizer with the "
                         "SentencePiece LlamaTokenizer, so only SentencePiece LMs can be exported in its format")
    return sp_file.read_bytes()


def _official_config(model, layout: TokenLayout) -> dict:
    cfg = model.config.to_dict()
    cfg.update(vocab_size=layout.vocab_size, tie_word_embeddings=False, architectures=["LlamaForCausalLM"],
               bos_token_id=1, eos_token_id=2, pad_token_id=None)
    rope = cfg.get("rope_parameters") or {}
    if "rope_theta" not in cfg and "rope_theta" in rope:
        cfg["rope_theta"] = rope["rope_theta"]  # transformers 4.x reads the top-level key
    dtype = cfg.get("dtype") or cfg.get("torch_dtype") or "float32"
    cfg["torch_dtype"] = str(dtype).replace("torch.", "")
    return cfg


def export_lm(src: str | os.PathLike, dst_root: str | os.PathLike, name: str | None = None) -> LMExport:
    """Write `<dst_root>/spiritlm_model/<name>/` (default: Meta's name for the variant) in Meta's format."""
    from ..lm.model import load_lm

    loaded = load_lm(src, device="cpu")
    src_layout = loaded.layout
    layout = official_layout(src_layout)
    variant = "expressive" if layout.is_expressive else "base"
    out = Path(dst_root) / "spiritlm_model" / (name or OFFICIAL_NAMES[variant])
    out.mkdir(parents=True, exist_ok=True)
    sp = official_sentencepiece(_source_sentencepiece(Path(loaded.path)), src_layout.text_vocab_size, layout)
    (out / "tokenizer.model").write_bytes(sp)

    model = loaded.model
    pairs = id_map(src_layout, layout)
    fill = never_predicted_row(src_layout, loaded.tokenizer.unk_id)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    state["model.embed_tokens.weight"] = remap_rows(model.get_input_embeddings().weight, pairs, layout.vocab_size, fill)
    state["lm_head.weight"] = remap_rows(model.get_output_embeddings().weight, pairs, layout.vocab_size, fill)
    torch.save(state, out / "pytorch_model.bin")
    (out / "config.json").write_text(json.dumps(_official_config(model, layout), indent=2) + "\n")
    gen = {"bos_token_id": 1, "eos_token_id": 2, "_from_model_config": True}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps(SPECIALS, indent=2) + "\n")
    # No "legacy" key: with legacy=True transformers 5 prepends "▁" to the text after each piece and
    # decodes "[Text]The" as "[Text] The"; without it 4.x (legacy by default) and 5.x both round-trip.
    tok_cfg = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": False,
               "model_max_length": int(model.config.max_position_embeddings),
               "pad_token": None, "clean_up_tokenization_spaces": False, **SPECIALS}
    (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    filled = layout.vocab_size - len(pairs)
    logger.info("exported %s -> %s (%s layout, %d rows filled)", loaded.path, out, variant, filled)
    return LMExport(out, src_layout, layout, filled)
