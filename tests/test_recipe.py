"""`spiritlm recipe mini --scale tiny`: every stage from nothing to a loadable bundle, then resumption."""

import json

import pytest

from spiritlm.training.recipe import Recipe

SHARED: dict = {}  # the v1 run's work folder: the v2 test reuses its corpus and pitch stage (same at tiny scale)


@pytest.mark.slow
def test_tiny_recipe_end_to_end(tmp_path, reference_flac):
    from spiritlm.checkpoints import verify_manifest
    from spiritlm.generation.pipeline import SpiritLM

    recipe = Recipe(tmp_path / "work", "tiny", workers=0)
    SHARED["work"] = recipe.work
    timings = recipe.run()
    assert list(timings) == [name for name, _ in recipe.stages]
    report = (recipe.results / "report.md").read_text()
    assert "base-same-budget" in report and "ablation-no-interleaving" in report  # the equal-budget pair
    assert verify_manifest(recipe.root) > 20
    spec = json.loads((recipe.root / "speech_tokenizer" / "speech.json").read_text())
    assert set(spec) == {"format", "base", "expressive"}
    for variant in ("base", "expressive"):
        lm = SpiritLM.from_pretrained(recipe.root / "spiritlm_model" / f"spirit-lm-mini-{variant}")
        assert lm.layout.n_hubert == 8 and lm.is_expressive == (variant == "expressive")
        r = lm.generate([("speech", reference_flac)], output_modality="speech", max_new_tokens=20, seed=0,
                        do_sample=True)
        assert r.prompt.startswith("[Speech][")
        for o in r.outputs:
            assert o.content.ndim == 1 and len(o.content) > 0
    assert Recipe(tmp_path / "work", "tiny").run() == {}  # everything done: nothing re-runs

    # the LM runs kept for a fresh machine: bf16 weights + trainer state, no optimizer moments
    from safetensors.torch import load_file

    from spiritlm.training.lm_checkpoint import latest_checkpoint
    from spiritlm.training.recipe_keep import keep_all, read_meta, restore_lm

    kept = keep_all(recipe, tmp_path / "kept")
    assert kept["lm-base"] == "step 6 (done)" and kept["lm-textonly"] == "step 4 (done)"  # equal-budget ablation
    assert read_meta(tmp_path / "kept" / "lm-base")["milestones"] == ["step-000004"]  # its reference checkpoint
    ckpt = tmp_path / "kept" / "lm-base" / "checkpoint"
    assert not (ckpt / "optimizer.safetensors").exists()
    small = load_file(str(ckpt / "model.safetensors"))
    assert {str(v.dtype) for v in small.values()} == {"torch.bfloat16"}
    fresh = Recipe(tmp_path / "fresh", "tiny", keep=tmp_path / "kept")
    assert restore_lm(fresh, fresh.keep, "lm-base") is True  # a finished run: the stage is done
    back = load_file(str(latest_checkpoint(fresh.run_dir("lm-base")) / "model.safetensors"))
    original = load_file(str(latest_checkpoint(recipe.run_dir("lm-base")) / "model.safetensors"))
    for k, v in original.items():
        assert back[k].dtype == v.dtype and (back[k] == v.bfloat16().float()).all()
    assert (fresh.run_dir("lm-base") / "checkpoints" / "step-000004" / "model.safetensors").is_file()

    from spiritlm.training.recipe import install_bundle

    shipped = install_bundle(recipe.root, tmp_path / "shipped")
    assert verify_manifest(shipped) > 20
    from safetensors import safe_open

    with safe_open(str(shipped / "spiritlm_model" / "spirit-lm-mini-base" / "model.safetensors"), "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"F16"}  # stored in half precision
    lm = SpiritLM.from_pretrained(shipped / "spiritlm_model" / "spirit-lm-mini-base")
    assert {p.dtype for p in lm.model.parameters()} == {__import__("torch").float32}  # computed in fp32
    assert lm.generate([("text", "the")], output_modality="speech", max_new_tokens=5, seed=0).outputs is not None


@pytest.mark.slow
def test_tiny_v2_recipe_speech_side(tmp_path, reference_flac):
    """The mini v2 design (`--scale tiny2`): phone encoder + k-means units, prosodic style tokens and WORLD
    vocoders in the root, loaded through the same doors, then units and WORLD speech from the Expressive side."""
    import shutil

    from spiritlm.audio import load_audio
    from spiritlm.speech.bundle import load_encoder
    from spiritlm.speech.phone_encoder import is_phone_encoder
    from spiritlm.speech.prosody_style import is_prosody_style
    from spiritlm.vocoder.load import load_vocoder
    from spiritlm.vocoder.world import WorldVocoder

    kept = tmp_path / "kept"
    recipe = Recipe(tmp_path / "work", "tiny2", workers=0, keep=kept)
    assert [n for n, _ in recipe.stages][:6] == ["corpus", "text-tokenizer", "phone-encoder", "kmeans-phone",
                                                 "pitch", "style"]
    shared = ["corpus", "pitch"]  # identical stages at tiny scale: taken from the v1 run when it ran first
    if (SHARED.get("work") and all((SHARED["work"] / ".stages" / f"{n}.done").is_file() for n in shared)):
        shutil.copytree(SHARED["work"] / "corpus", recipe.work / "corpus")
        shutil.copytree(SHARED["work"] / "runs" / "pitch", recipe.run_dir("pitch"))
        for n in shared:
            recipe.marker(n).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHARED["work"] / ".stages" / f"{n}.done", recipe.marker(n))
    # the new v2 stages on the Expressive side (pitch + style + units; the Base side differs only by the streams)
    new = ["phone-encoder", "kmeans-phone", "style", "speech-root", "units-expressive", "world-expressive"]
    ran = recipe.run(only=["corpus", "pitch", *new])
    assert set(new) <= set(ran) <= {"corpus", "pitch", *new}
    speech = recipe.root / "speech_tokenizer"
    assert is_phone_encoder(speech / "hubert") and is_prosody_style(speech / "style")
    enc = load_encoder(recipe.root, "expressive")
    units = enc.encode_units(load_audio(reference_flac))
    assert units.hubert.max() < 8 and units.style is not None and units.pitch is not None
    assert len(units.style) == -(-len(units.hubert) // 25)  # one style token per started second
    voc = load_vocoder(speech / "vocoder-expressive")
    assert isinstance(voc, WorldVocoder)
    wav = voc.synthesize(units)
    assert wav.ndim == 1 and len(wav) > 16000 and float(abs(wav).max()) > 0

    # a fresh machine with the kept parts: the trained stages are restored, not trained, and give the same speech
    from spiritlm.training.recipe_keep import keep_all, read_meta

    parts = {"phone-encoder", "kmeans-phone", "pitch", "style", "world-expressive"}  # the trained stages run
    assert keep_all(recipe, kept) == dict.fromkeys(parts, "done")
    assert read_meta(kept / "world-expressive")["scale"] == "tiny2"
    assert not [p for p in kept.rglob("*") if p.suffix in (".pt", ".pkl", ".npz")]  # nothing pickled
    fresh = Recipe(tmp_path / "fresh", "tiny2", workers=0, keep=kept)
    shutil.copytree(recipe.work / "corpus", fresh.work / "corpus")  # data is rebuilt; copied to save time
    fresh.marker("corpus").parent.mkdir(parents=True)
    shutil.copyfile(recipe.marker("corpus"), fresh.marker("corpus"))
    fresh.run(only=["corpus", "pitch", *new])
    restored = {n for n in new + ["pitch"] if "restored" in json.loads(fresh.marker(n).read_text())}
    assert restored == parts
    assert not (fresh.run_dir("phone-encoder") / "state.pt").exists()  # never trained here
    again = load_encoder(fresh.root, "expressive").encode_units(load_audio(reference_flac))
    assert again.hubert.tolist() == units.hubert.tolist() and again.style.tolist() == units.style.tolist()
    assert (load_vocoder(fresh.root / "speech_tokenizer" / "vocoder-expressive").synthesize(units) == wav).all()
    # a part kept for another scale is not used
    assert Recipe(tmp_path / "other", "mini2", keep=kept).keep == kept.resolve()
    from spiritlm.training.recipe_keep import usable

    assert usable(Recipe(tmp_path / "other", "mini2"), kept, "phone-encoder") is None


def test_unknown_stage_and_scale(tmp_path):
    with pytest.raises(ValueError, match="unknown recipe scale 'huge'; valid: tiny, mini, tiny2, mini2"):
        Recipe(tmp_path, "huge")
    with pytest.raises(ValueError, match="unknown recipe stage 'lm'"):
        Recipe(tmp_path, "tiny").run(until="lm")


def test_jobs_run_independent_stages_side_by_side_in_dependency_order(tmp_path):
    import threading
    import time

    from spiritlm.training.recipe import NEEDS

    events, lock, active, peak = [], threading.Lock(), [0], [0]

    def stage(name):
        def fn():
            with lock:
                events.append(("start", name))
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)
            with lock:
                active[0] -= 1
                events.append(("end", name))
        return fn

    recipe = Recipe(tmp_path / "work", "tiny", jobs=2)
    assert [n for n, _ in recipe.stages] == list(NEEDS)
    recipe.stages = [(n, stage(n)) for n, _ in recipe.stages]
    timings = recipe.run()
    assert sorted(timings) == sorted(NEEDS)
    assert peak[0] == 2  # pitch and style run beside the HuBERT chain, vocoders beside the LMs
    for name, needs in NEEDS.items():
        start = events.index(("start", name))
        assert all(events.index(("end", d)) < start for d in needs), name
    # a second run skips everything; a stage that needs one outside --only treats it as done
    assert recipe.run() == {}
    assert list(recipe.run(only=["hubert"], force=["hubert"])) == ["hubert"]
    with pytest.raises(ValueError, match="jobs must be >= 1"):
        Recipe(tmp_path, "tiny", jobs=0)


def test_v2_text_only_data_leaves_out_every_valid_and_test_sentence(tmp_path, monkeypatch):
    """design "phone": the LM's text-only stream gets the text sources' other sentences, never a held-out one."""
    import json

    from spiritlm.data.corpus import texts
    from spiritlm.data.corpus.manifest import Sentiment, Utterance

    said = ["The first sentence is here today.", "A second one follows it closely.",
            "Then comes the third of them all.", "And a fourth makes the set complete."]
    monkeypatch.setitem(texts.SOURCES, "wordnet", lambda: iter(said))
    recipe = Recipe(tmp_path / "work", "tiny2", workers=0)
    recipe.manifest.parent.mkdir(parents=True)
    (recipe.manifest.parent / "build.json").write_text(json.dumps({"config": {"sources": ["wordnet"],
                                                                              "min_words": 4, "max_words": 30}}))
    rows = [Utterance(f"u{i}", f"wav/u{i}.wav", t, (), (), "spk", "espeak", "neutral", Sentiment("neutral", 0.0),
                      1.0, split, texts.sentence_id(t), "wordnet")
            for i, (t, split) in enumerate(zip(said, ("train", "valid", "test", "train")))]
    recipe.manifest.write_text("".join(r.to_json() + "\n" for r in rows))
    assert recipe.write_text_only() == 2
    assert sorted(recipe.text_only.read_text().splitlines()) == sorted([said[0], said[3]])
