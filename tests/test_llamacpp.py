"""GGUF export and llama.cpp decoding (lm/gguf_export.py, lm/llamacpp.py) on tiny checkpoints.

Skipped when the optional extra `llamacpp` is not installed (llama-cpp-python builds llama.cpp from
source, too long for the default `make setup`): `pip install -e '.[llamacpp]'`.
"""

import pytest
import torch

from spiritlm.lm.llamacpp import available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

NO_SPEECH = {"speech_loader": lambda lm: (None, None)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from spiritlm.lm.tiny import write_tiny_checkpoint

    return write_tiny_checkpoint(tmp_path_factory.mktemp("base"), hidden=64, layers=2, heads=4, weights="bin")


@pytest.fixture(scope="module")
def tiny_expressive(tiny_small_dir, tmp_path_factory):
    """A copy of the session's tiny Expressive checkpoint (safetensors), so that gguf/ lands in our copy."""
    import shutil

    return shutil.copytree(tiny_small_dir, tmp_path_factory.mktemp("expr") / "tiny-expressive")


def _pair(path):
    """(plain fp32 torch SpiritLM, llama.cpp f32 SpiritLM) of one checkpoint."""
    from spiritlm.generation.pipeline import SpiritLM
    from spiritlm.lm.model import load_lm

    ll = SpiritLM(load_lm(path, "cpu", quantize="llamacpp-f32"), **NO_SPEECH)
    ll.model.threads = 1  # tiny model: one thread, no OpenMP spinning on a busy machine
    return SpiritLM(load_lm(path, "cpu"), **NO_SPEECH), ll


@pytest.fixture(scope="module")
def pair(tiny):
    return _pair(tiny)


def test_unpermute_puts_rope_pairs_together():
    from spiritlm.lm.gguf_export import _unpermute

    w = torch.arange(16).reshape(16, 1)  # 2 heads of 8 rows: HF halves [0..3 | 4..7] -> pairs (0,4), (1,5), ...
    assert _unpermute(w, 2)[:, 0].tolist() == [0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15]


def test_gguf_vocabulary_is_ours_id_for_id(tiny_expressive, tmp_path):
    import gguf

    from spiritlm.lm.gguf_export import export_gguf
    from spiritlm.lm.model import read_layout
    from spiritlm.lm.text_tokenizer import TextTokenizer

    layout = read_layout(tiny_expressive)
    out = export_gguf(tiny_expressive, tmp_path / "m.gguf", "f16")
    reader = gguf.GGUFReader(out)
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    assert len(tokens) == layout.vocab_size == 1280
    assert tokens[layout.text_marker_id] == "[Text]" and tokens[layout.speech_marker_id] == "[Speech]"
    assert tokens[layout.unit_id("hubert", 12)] == "[Hu12]"
    assert tokens[layout.unit_id("pitch", 3)] == "[Pi3]" and tokens[layout.unit_id("style", 99)] == "[St99]"
    assert tokens[layout.n_used] == f"[PAD{layout.n_used}]"
    sp = TextTokenizer.from_dir(tiny_expressive, layout).backend
    assert tokens[:layout.text_vocab_size] == [sp.piece(i) for i in range(layout.text_vocab_size)]
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == "F16" and types["blk.1.ffn_norm.weight"] == "F32"
    assert len(reader.tensors) == 2 * 9 + 3


def test_llamacpp_logits_match_torch(pair):
    ref, ll = pair
    ids = [1, 40, 300, 7, 512, 600, 601]
    expected = ref.model(torch.tensor([ids])).logits[0, -1]
    ll.model._context(len(ids))
    from spiritlm.lm.llamacpp import _backend

    lib = _backend()
    lib.llama_memory_clear(lib.llama_get_memory(ll.model._ctx), True)
    got = ll.model._eval(ids)
    assert got.shape == expected.shape == (1024,)
    # f32 weights and KV cache; ggml sums in its own order (a wrong q/k permutation is off by ~0.1)
    assert torch.allclose(got, expected, atol=1e-3, rtol=0), (got - expected).abs().max()


@pytest.mark.parametrize("modality,prompt", [("text", "[Text]the cat sat"), ("speech", "[Speech][Hu12][Hu7][Hu3]"),
                                              ("arbitrary", "[Text]a b c[Speech][Hu5]")])
def test_greedy_tokens_equal_plain_path(pair, modality, prompt):
    ref, ll = pair
    for switch in (True, False):
        a = ref.generate(prompt=prompt, output_modality=modality, max_new_tokens=20, do_sample=False,
                         stop_on_modality_switch=switch, synthesize=False)
        b = ll.generate(prompt=prompt, output_modality=modality, max_new_tokens=20, do_sample=False,
                        stop_on_modality_switch=switch, synthesize=False)
        assert b.new_ids == a.new_ids
        assert b.finish_reason == a.finish_reason
    layout = ref.layout
    if modality == "speech":  # the mask is applied: only Hu ids and the stop ids come out
        assert all(layout.token_of(i)[0] == "hubert" or i in (2, layout.text_marker_id) for i in b.new_ids)
    if modality == "text":
        assert all(i < layout.text_vocab_size or i == layout.speech_marker_id for i in b.new_ids)


def test_expressive_speech_and_batch_equal(tiny_expressive):
    ref, ll = _pair(tiny_expressive)
    prompts = ["[Speech][Hu1][Pi3][St7][Hu9]", "[Text]one two three four five[Speech]"]
    a = ref.generate_batch(prompts, output_modality="speech", max_new_tokens=20, do_sample=False, synthesize=False)
    b = ll.generate_batch(prompts, output_modality="speech", max_new_tokens=20, do_sample=False, synthesize=False)
    assert [r.new_ids for r in b] == [r.new_ids for r in a]
    assert len(a[0].new_ids) >= 5


def test_quantized_q8_0_runs(tiny, tmp_path):
    import gguf

    from spiritlm.lm.gguf_export import export_gguf, quantize_gguf

    src = export_gguf(tiny, tmp_path / "m-f32.gguf", "f32")
    q8 = quantize_gguf(src, tmp_path / "m-q8_0.gguf", "q8_0", threads=1)
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(q8).tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.1.ffn_down.weight"] == "Q8_0"
    assert q8.stat().st_size < src.stat().st_size / 2


def test_q4_0_decodes_with_the_speech_mask(tiny):
    from spiritlm.generation.pipeline import SpiritLM
    from spiritlm.lm.model import load_lm

    lm = SpiritLM(load_lm(tiny, "cpu", quantize="llamacpp-q4_0"), **NO_SPEECH)
    lm.model.threads = 1
    assert (tiny / "gguf" / "model-q4_0.gguf").is_file() and not (tiny / "gguf" / "model-bf16.part.gguf").exists()
    out = lm.generate(prompt="[Speech][Hu12][Hu7]", output_modality="speech", max_new_tokens=12, do_sample=False,
                      stop_on_modality_switch=False, synthesize=False)
    layout = lm.layout
    assert 1 <= len(out.new_ids) <= 12
    assert all(layout.token_of(i)[0] == "hubert" for i in out.new_ids[:-1])
    assert layout.token_of(out.new_ids[-1])[0] == "hubert" or out.new_ids[-1] == 2


def test_bad_kind_and_options(tiny, pair):
    from spiritlm.errors import InvalidInput
    from spiritlm.lm.model import load_lm

    with pytest.raises(InvalidInput, match="valid: llamacpp-f32, llamacpp-f16, llamacpp-q8_0, llamacpp-q4_0"):
        load_lm(tiny, "cpu", quantize="llamacpp-q3")
    _, ll = pair
    with pytest.raises(InvalidInput, match="llama.cpp decoding cannot do this call: generation options"):
        ll.generate(prompt="[Text]a", output_modality="text", max_new_tokens=5, num_beams=2, synthesize=False)

