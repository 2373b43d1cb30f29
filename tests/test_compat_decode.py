"""`spiritlm_base(compat=True)` / `spiritlm_expressive(compat=True)` reach `decode` (README compat table)."""

from __future__ import annotations

import numpy as np
import pytest

from spiritlm.speech_tokenizer import spiritlm_base


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from spiritlm.checkpoints.tiny_root import write_tiny_vocoder

    root = tmp_path_factory.mktemp("root")
    write_tiny_vocoder(root / "speech_tokenizer" / "hifigan_spiritlm_base", expressive=False)
    return root


def _base(root, compat):
    from spiritlm.speech.random_checkpoints import write_hubert_checkpoints

    if not (root / "speech_tokenizer" / "hubert_25hz").is_dir():
        write_hubert_checkpoints(root, "tiny")
    return spiritlm_base(root=root, compat=compat)


def test_base_compat_decode_keeps_repeated_units(root):
    gen = "[Hu5][Hu5][Hu5][Hu9][Hu3]"  # an LM output with a repeated unit
    ours, official = _base(root, False), _base(root, True)
    assert ours.compat is False and official.compat is True
    want_official = official.vocoder.decode(gen, speaker_id=2, compat=True)
    want_ours = ours.vocoder.decode(gen, speaker_id=2, compat=False)
    np.testing.assert_array_equal(official.decode(gen, speaker_id=2), want_official)
    np.testing.assert_array_equal(ours.decode(gen, speaker_id=2), want_ours)
    # official: never deduplicated (5 units, each >= 1 frame); ours: deduplicated before duration prediction
    hop = official.vocoder.config.hop_length
    assert len(want_official) >= 5 * hop and len(want_ours) < len(want_official)
    np.testing.assert_array_equal(ours.decode(gen, speaker_id=2, compat=True), want_official)
