"""The official README flows, end to end, on a tiny random checkpoints root in Meta's layout."""

import numpy as np
import pytest
from transformers import GenerationConfig

from spiritlm.model.spiritlm_model import ContentType, GenerationInput, OutputModality, Spiritlm


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from spiritlm.checkpoints.tiny_root import write_tiny_root

    return write_tiny_root(tmp_path_factory.mktemp("root"), official_vocab=True)


@pytest.fixture(scope="module")
def expressive(root):
    mp = pytest.MonkeyPatch()
    mp.setenv("SPIRITLM_CHECKPOINTS_DIR", str(root))
    yield Spiritlm("spirit-lm-expressive-7b")
    mp.undo()


def test_speech_tokenizer_lengths(expressive, reference_flac):
    units = expressive.speech_tokenizer.encode_units(str(reference_flac))
    assert [len(units[k].split()) for k in ("hubert", "pitch", "style")] == [228, 114, 10]
    assert units["audio"] == str(reference_flac.resolve())
    s = expressive.speech_tokenizer.encode_string(str(reference_flac))
    assert s.startswith("[St") and s.count("[St") == 10


def test_speech_to_speech_waveform(expressive, reference_flac):
    outputs = expressive.generate(
        output_modality=OutputModality.SPEECH,
        interleaved_inputs=[GenerationInput(content=str(reference_flac), content_type=ContentType.SPEECH)],
        generation_config=GenerationConfig(temperature=0.9, top_p=0.95, max_new_tokens=40, do_sample=True), seed=0)
    (out,) = outputs
    assert out.content_type is ContentType.SPEECH
    assert out.content.dtype == np.float32 and out.content.ndim == 1 and len(out.content) > 0
    assert np.isfinite(out.content).all()


def test_text_to_speech_and_back(expressive, reference_flac):
    import soundfile as sf

    wav, sr = sf.read(str(reference_flac), dtype="float32")
    outs, prompt = expressive.generate(interleaved_inputs=[("speech", wav), ("text", " and then")],
                                       output_modality="speech", max_new_tokens=30, do_sample=True, seed=1,
                                       return_prompt=True)
    assert prompt.startswith("[Speech][St") and "[Text] and then[Speech]" in prompt
    assert all(o.content_type is ContentType.SPEECH for o in outs)
    outs = expressive.generate(interleaved_inputs=[("text", "Hello")], output_modality="speech",
                               max_new_tokens=30, do_sample=True, seed=1, speaker_id=0)
    assert outs and outs[0].content.size > 0
