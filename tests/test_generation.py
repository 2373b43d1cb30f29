"""Generation on tiny random checkpoints in the official layout (32000 text ids, vocab 32512 / 32768)."""

import contextlib
import logging
import math

import numpy as np
import pytest
import torch

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.generation.types import ContentType, GenerationInput, OutputModality

TEXT, SPEECH, ARB = OutputModality.TEXT, OutputModality.SPEECH, OutputModality.ARBITRARY


@pytest.fixture(scope="module")
def base(tiny_root):
    return SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-base-7b")


@pytest.fixture(scope="module")
def expressive(tiny_root):
    return SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b")


@contextlib.contextmanager
def fixed_logits(lm, boosts: dict[int, float]):
    """Replace the output layer by a constant: logits 0 everywhere except `boosts` (id -> logit)."""
    old = lm.model.lm_head
    hidden, vocab = old.in_features, old.out_features
    head = torch.nn.Linear(hidden, vocab, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        for i, v in boosts.items():
            head.bias[i] = v
    lm.model.lm_head = head
    try:
        yield
    finally:
        lm.model.lm_head = old


def expected_allowed(lm, modality):
    """The allowed ids, written out from the official layout (independent of constraints.py)."""
    expr = lm.is_expressive
    units = set(range(32002, 32667 if expr else 32503))
    if modality is TEXT:
        return (set(range(32000)) - {0, 1}) | {32001}
    if modality is SPEECH:
        return units | {2, 32000}
    return (set(range(32000)) - {0, 1}) | {32000, 32001} | units


@pytest.mark.parametrize("modality", [TEXT, SPEECH, ARB])
@pytest.mark.parametrize("which", ["base", "expressive"])
def test_constraint_never_emits_forbidden_ids(request, which, modality):
    lm = request.getfixturevalue(which)
    allowed = expected_allowed(lm, modality)
    prompts = [[("text", "The cat")], [("speech", "[Hu5][Hu6]")], [("text", "a"), ("speech", "[Hu7]")]]
    # Uniform logits: every id the mask lets through is equally likely, so a leak would show at once.
    stop = {TEXT: 32001, SPEECH: 32000, ARB: 2}[modality]
    with fixed_logits(lm, {stop: -30.0, 2: -30.0}):
        results = lm.generate_batch(prompts, output_modality=modality, max_new_tokens=100, do_sample=True,
                                    top_k=0, seed=0, synthesize=False)
    emitted = [i for r in results for i in r.new_ids]
    assert len(emitted) == 300
    assert set(emitted) <= allowed
    assert len(set(emitted)) > 100  # the sample really covers the allowed set


def test_compat_masks_are_official(base, expressive):
    from spiritlm.generation.constraints import allowed_mask

    m = allowed_mask(base.layout, TEXT, 2, compat=True)
    banned = set(torch.nonzero(~m).flatten().tolist())
    assert banned == {32000, 32001} | set(range(32002, 32503))  # base padding rows 32503..32511 stay allowed
    m = allowed_mask(expressive.layout, TEXT, 2, compat=True)
    assert set(torch.nonzero(~m).flatten().tolist()) == set(range(32000, 32667))
    m = allowed_mask(expressive.layout, SPEECH, 2, compat=True)
    assert set(torch.nonzero(~m).flatten().tolist()) == set(range(32002))  # includes </s>
    assert bool(allowed_mask(expressive.layout, ARB, 2, compat=True).all())


def test_speech_turn_stops_by_itself(expressive):
    with fixed_logits(expressive, {2: 4.0}):  # </s> is likely but not certain at each step
        r = expressive.generate([("text", "Say it")], output_modality=SPEECH, max_new_tokens=200, do_sample=True,
                                seed=3, synthesize=False)
        assert r.finish_reason == "eos" and r.new_ids[-1] == 2 and len(r.new_ids) < 200
        assert all(32002 <= i <= 32666 for i in r.new_ids[:-1])
        official = expressive.generate([("text", "Say it")], output_modality=SPEECH, max_new_tokens=200,
                                       do_sample=True, seed=3, synthesize=False, compat=True)
    assert official.finish_reason == "length" and len(official.new_ids) == 200 and 2 not in official.new_ids


@pytest.mark.parametrize("modality,marker", [(SPEECH, 32000), (TEXT, 32001)])
def test_turn_stops_at_modality_switch(base, modality, marker):
    with fixed_logits(base, {marker: 12.0}):
        r = base.generate([("text", "x")], output_modality=modality, max_new_tokens=50, do_sample=True, seed=0,
                          synthesize=False)
        assert r.finish_reason == "modality_switch" and r.new_ids == [marker] and r.outputs == []
        r = base.generate([("text", "x")], output_modality=modality, max_new_tokens=5, do_sample=True, seed=0,
                          synthesize=False, stop_on_modality_switch=False)
    assert marker not in r.new_ids and len(r.new_ids) == 5


def test_batch_equals_singles_greedy(expressive):
    prompts = [[("text", "Hello")], [("text", "A longer prompt with more words")], [("speech", "[St3][Pi2][Hu9]")]]
    batch = expressive.generate_batch(prompts, output_modality=ARB, max_new_tokens=12, do_sample=False,
                                      synthesize=False)
    singles = [expressive.generate(p, output_modality=ARB, max_new_tokens=12, do_sample=False, synthesize=False)
               for p in prompts]
    assert [b.new_ids for b in batch] == [s.new_ids for s in singles]


def test_kv_cache_equals_full_forward(base):
    kw = dict(output_modality=ARB, max_new_tokens=10, do_sample=False, synthesize=False)
    with_cache = base.generate([("text", "The sea")], use_cache=True, **kw)
    without = base.generate([("text", "The sea")], use_cache=False, **kw)
    assert with_cache.new_ids == without.new_ids


def test_seed_makes_sampling_reproducible(base):
    kw = dict(output_modality=TEXT, max_new_tokens=15, do_sample=True, temperature=1.0, synthesize=False)
    a = base.generate([("text", "Once")], seed=7, **kw)
    b = base.generate([("text", "Once")], seed=7, **kw)
    assert a.new_ids == b.new_ids


@pytest.mark.parametrize("inputs,modality,expected", [
    ([("text", "The largest country in the world is")], TEXT, "[Text]The largest country in the world is"),
    ([("speech", "[Hu99][Hu49][Hu361]")], TEXT, "[Speech][Hu99][Hu49][Hu361][Text]"),
    ([("text", "Hello")], SPEECH, "[Text]Hello[Speech]"),
    ([("text", "Hello"), ("text", " world")], ARB, "[Text]Hello world"),
    ([("speech", "[Hu1]"), ("speech", "[Hu2]"), ("text", "a")], SPEECH, "[Speech][Hu1][Hu2][Text]a[Speech]"),
    ([("speech", "[Hu1]")], SPEECH, "[Speech][Hu1]"),
])
def test_prompt_rules(base, inputs, modality, expected):
    p = base.build_prompt(inputs, modality)
    assert p.text == expected
    assert p.ids == base.tokenizer.encode(expected)


def test_speech_file_input_through_encoder(tiny_root, reference_flac, fake_encoder):
    lm = SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-base-7b", speech_encoder=fake_encoder)
    units = lm.encode_speech(reference_flac)
    assert len(units) == 228  # 146160 // 640
    p = lm.build_prompt([GenerationInput(str(reference_flac), ContentType.SPEECH)], TEXT)
    dedup = units.dedup_hubert()
    assert p.ids[1] == 32001 and p.ids[-1] == 32000 and len(p.ids) == 3 + len(dedup)
    assert p.ids[2:-1] == [32002 + int(u) for u in dedup.hubert]


def test_speech_output_vocoded_with_prompt_context(tiny_root, fake_vocoder):
    lm = SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b", vocoder=fake_vocoder)
    context = "[St4][Pi9][Hu1][Hu2][Hu3]"
    with fixed_logits(lm, {2: -30.0, 32000: -30.0, 32001: -30.0, **{i: -30.0 for i in range(32000)}}):
        r = lm.generate([("speech", context)], output_modality=ARB, max_new_tokens=60, do_sample=True, seed=1)
    (out,) = r.outputs
    units_all, _ = fake_vocoder.calls[-1]
    n_ctx = 3
    assert units_all.hubert[:n_ctx].tolist() == [1, 2, 3]
    assert len(out.units) == len(units_all) - n_ctx
    total = len(units_all) * 640
    assert len(out.content) == total - math.ceil(total * n_ctx / len(units_all))
    assert np.allclose(out.content[:640], units_all.hubert[n_ctx] / 1000.0)


def test_arbitrary_drops_short_later_speech_chunks(base, fake_vocoder):
    base._vocoder = fake_vocoder
    prompt = base.build_prompt([("text", "hi")], ARB)
    ids = base.tokenizer.encode_text(" one") + [32002 + 5] * 10 + base.tokenizer.encode_text(" two") + \
        [32002 + 6] * 24 + [32000] + base.tokenizer.encode_text(" three") + [32001] + [32002 + 7] * 25
    outs = base._outputs(ids, prompt, ARB, None, compat=False, synthesize=True)
    assert [o.content_type for o in outs] == [ContentType.TEXT] * 3 + [ContentType.SPEECH]
    assert [o.content for o in outs[:3]] == ["one", " two", " three"] and len(outs[3].units) == 25
    official = base._outputs(ids, prompt, ARB, None, compat=True, synthesize=True)  # counts n + 1
    assert [len(o.units) for o in official if o.units is not None] == [24, 25]
    base._vocoder = None


def test_missing_vocoder_is_a_clear_error(base):
    with fixed_logits(base, {i: -30.0 for i in range(32002)}):
        with pytest.raises(ValueError, match="no vocoder loaded"):
            base.generate([("text", "x")], output_modality=SPEECH, max_new_tokens=3, do_sample=True, seed=0)


@pytest.mark.parametrize("call,msg", [
    (lambda lm: lm.generate([("text", "x")], output_modality="video"), "unknown output modality 'video'"),
    (lambda lm: lm.generate([]), "prompt is empty"),
    (lambda lm: lm.generate(None), "give inputs"),
    (lambda lm: lm.generate([("audio", "x")]), "unknown content type 'audio'"),
    (lambda lm: lm.generate([("text", "x")], tempreature=0.3), "unknown generation setting 'tempreature'"),
    (lambda lm: lm.generate(prompt="[Text]hi[Hu12"), "malformed speech token"),
    (lambda lm: lm.generate(prompt="[Speech][Pi-1]"), "malformed speech token"),
    (lambda lm: lm.generate(prompt="[Speech][Hu999]"), "out of range"),
    (lambda lm: lm.generate([("speech", "[Hu3][Pi2]")]), "no pitch tokens"),
    (lambda lm: lm.generate_batch([]), "at least one prompt"),
])
def test_bad_input(base, call, msg):
    with pytest.raises(ValueError, match=msg):
        call(base)


def test_official_api(tiny_root, monkeypatch, caplog):
    from transformers import GenerationConfig

    from spiritlm.model.spiritlm_model import GenerationOuput, Spiritlm, SpiritlmVariants

    monkeypatch.setenv("SPIRITLM_CHECKPOINTS_DIR", str(tiny_root))
    spirit = Spiritlm(SpiritlmVariants.EXPRESSIVIE_7B.value)
    assert spirit.is_expressive_model and SpiritlmVariants.EXPRESSIVIE_7B is SpiritlmVariants.EXPRESSIVE_7B
    outs, prompt = spirit.generate(
        output_modality=OutputModality.TEXT,
        interleaved_inputs=[GenerationInput(content="The largest country in the world is",
                                            content_type=ContentType.TEXT)],
        generation_config=GenerationConfig(max_new_tokens=8, do_sample=False), return_prompt=True)
    assert prompt == "[Text]The largest country in the world is"
    assert all(isinstance(o, GenerationOuput) and o.content_type is ContentType.TEXT for o in outs)
    tup = spirit.generate(interleaved_inputs=[("text", "The largest country in the world is")],
                          output_modality="text", max_new_tokens=8, do_sample=False)
    assert [o.content for o in tup] == [o.content for o in outs]
    assert spirit._build_prompt([GenerationInput.from_tuple(("speech", "[Hu3]"))], OutputModality.TEXT) == \
        "[Speech][Hu3][Text]"
    with caplog.at_level(logging.WARNING):
        spirit.generate(interleaved_inputs=[("text", "ignored")], prompt="[Text]hi", output_modality="text",
                        max_new_tokens=2)
    assert "interleaved_inputs will not be used" in caplog.text
    with pytest.raises(ValueError, match="can not both be None"):
        spirit.generate()


def test_top_level_exports():
    import spiritlm

    assert spiritlm.GenerationOuput is spiritlm.GenerationOutput
    assert spiritlm.OutputModality.parse("Speech") is OutputModality.SPEECH
    with pytest.raises(AttributeError):
        spiritlm.NotAThing  # noqa: B018


def test_expressive_turn_without_pitch_or_style_is_completed(tiny_root, fake_vocoder, caplog):
    lm = SpiritLM.from_pretrained(tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b", vocoder=fake_vocoder)
    no_pi_st = {i: -30.0 for i in range(32503, 32667)} | {2: -30.0, 32000: -30.0}
    with fixed_logits(lm, no_pi_st), caplog.at_level(logging.WARNING):
        r = lm.generate([("text", "x")], output_modality=SPEECH, max_new_tokens=12, do_sample=True, seed=0)
    units, _ = fake_vocoder.calls[-1]
    assert len(units) == 12 and units.pitch.tolist() == [0] * 12 and units.style.tolist() == [71] * 12
    assert "no pitch token" in caplog.text and r.outputs[0].content.shape == (12 * 640,)
