"""Modality constraints: which ids may be generated, and which ids end a turn.

A boolean mask over the vocabulary, applied to the logits at every step (one `masked_fill`, unlike
`bad_words_ids`, which the official code passes one banned id at a time)::

    TEXT       text ids (no <s>/<unk>) + </s>          + [Speech] (ends the turn)
    SPEECH     Hu (+ Pi, St for Expressive) + </s>      + [Text]   (ends the turn)
    ARBITRARY  every used id except <s>/<unk>; padding rows never

`compat=True` reproduces the official bans exactly: TEXT bans markers and units (padding rows stay
allowed), SPEECH bans markers and all 32k text ids including </s> (so a speech turn always runs to
`max_new_tokens`), ARBITRARY bans nothing.
"""

from __future__ import annotations

import torch

from ..vocab import TokenLayout
from .types import OutputModality


def allowed_mask(layout: TokenLayout, modality: OutputModality, eos_id: int, bos_id: int = -1, unk_id: int = -1,
                 stop_on_modality_switch: bool = True, compat: bool = False) -> torch.Tensor:
    """[V] bool: True where the id may be generated."""
    V, T = layout.vocab_size, layout.text_vocab_size
    if compat:
        banned = torch.zeros(V, dtype=torch.bool)
        if modality is OutputModality.TEXT:
            banned[T:T + 2] = True
            for s in layout.streams:
                r = layout.id_range(s)
                banned[r.start:r.stop] = True
        elif modality is OutputModality.SPEECH:
            banned[:T + 2] = True
        return ~banned
    mask = torch.zeros(V, dtype=torch.bool)
    if modality in (OutputModality.TEXT, OutputModality.ARBITRARY):
        mask[:T] = True
    if modality in (OutputModality.SPEECH, OutputModality.ARBITRARY):
        for s in layout.streams:
            r = layout.id_range(s)
            mask[r.start:r.stop] = True
    if modality is OutputModality.ARBITRARY:
        mask[T:T + 2] = True
    elif stop_on_modality_switch:
        mask[layout.speech_marker_id if modality is OutputModality.TEXT else layout.text_marker_id] = True
    for special in (bos_id, unk_id):
        if 0 <= special < V and special != eos_id:
            mask[special] = False
    mask[eos_id] = True
    return mask


def stop_ids(layout: TokenLayout, modality: OutputModality, eos_id: int, stop_on_modality_switch: bool = True,
             compat: bool = False) -> list[int]:
    """Ids that end generation (the first one emitted is kept in `new_ids`, then cut from outputs)."""
    ids = [eos_id]
    if not compat and stop_on_modality_switch:
        if modality is OutputModality.TEXT:
            ids.append(layout.speech_marker_id)
        elif modality is OutputModality.SPEECH:
            ids.append(layout.text_marker_id)
    return ids


class ModalityLogitsProcessor:
    """A `transformers` logits processor that sets disallowed ids to -inf."""

    def __init__(self, allowed: torch.Tensor):
        self.allowed = allowed
        self._cache: dict[tuple, torch.Tensor] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        key = (scores.device, scores.shape[-1])
        blocked = self._cache.get(key)
        if blocked is None:
            n = scores.shape[-1]
            allowed = self.allowed[:n] if n <= len(self.allowed) else torch.cat(
                [self.allowed, torch.zeros(n - len(self.allowed), dtype=torch.bool)])
            blocked = self._cache[key] = ~allowed.to(scores.device)
        return scores.masked_fill(blocked, float("-inf"))
