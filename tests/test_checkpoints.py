import json
import shutil

import pytest

from spiritlm.checkpoints import resolve_lm_dir
from spiritlm.generation.pipeline import SpiritLM
from spiritlm.lm.model import load_lm, read_layout


@pytest.fixture
def base_copy(tiny_root, tmp_path):
    dst = tmp_path / "spirit-lm-base-7b"
    shutil.copytree(tiny_root / "spiritlm_model" / "spirit-lm-base-7b", dst)
    return dst


def test_resolution_by_name_and_path(tiny_root, monkeypatch, tmp_path):
    monkeypatch.setenv("SPIRITLM_CHECKPOINTS_DIR", str(tiny_root))
    by_name = resolve_lm_dir("spirit-lm-base-7b")
    assert by_name == tiny_root / "spiritlm_model" / "spirit-lm-base-7b"
    renamed = tmp_path / "my-model"
    shutil.copytree(by_name, renamed)
    assert read_layout(renamed).vocab_size == 32512  # any folder name works, unlike the official code


def test_missing_folder_lists_places(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIRITLM_CHECKPOINTS_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="spirit-lm-base-7b, spirit-lm-expressive-7b"):
        resolve_lm_dir("spirit-lm-huge")


def test_safetensors_small_vocab(tiny_small_dir):
    lm = SpiritLM.from_pretrained(tiny_small_dir)
    assert lm.layout.text_vocab_size == 512 and lm.layout.vocab_size == 1280 and lm.is_expressive
    r = lm.generate([("text", "The cat")], output_modality="speech", max_new_tokens=20, seed=0, do_sample=True,
                    synthesize=False)
    assert all(514 <= i < 1179 or i in (2, 512) for i in r.new_ids)


@pytest.mark.parametrize("victim,msg", [("config.json", "config.json is missing"),
                                        ("tokenizer.model", "no tokenizer"),
                                        ("pytorch_model.bin", "no weights")])
def test_missing_files(base_copy, victim, msg):
    (base_copy / victim).unlink()
    with pytest.raises(FileNotFoundError, match=msg):
        load_lm(base_copy)


def test_vocab_that_does_not_fit(base_copy):
    cfg = json.loads((base_copy / "config.json").read_text())
    cfg["vocab_size"] = 32400
    (base_copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="vocab_size 32400 .* does not fit"):
        load_lm(base_copy)


def test_official_name_must_match_variant(base_copy, tmp_path):
    wrong = tmp_path / "spirit-lm-expressive-7b"
    base_copy.rename(wrong)
    with pytest.raises(ValueError, match="should be Expressive"):
        read_layout(wrong)


def test_embedding_rows_must_match(base_copy):
    import torch

    state = torch.load(base_copy / "pytorch_model.bin", weights_only=True)
    state["model.embed_tokens.weight"] = state["model.embed_tokens.weight"][:32503]
    torch.save(state, base_copy / "pytorch_model.bin")
    with pytest.raises(ValueError, match="do not match its config.json"):
        load_lm(base_copy)


def test_missing_weights_are_refused(base_copy):
    import torch

    state = torch.load(base_copy / "pytorch_model.bin", weights_only=True)
    del state["model.layers.1.mlp.up_proj.weight"]
    torch.save(state, base_copy / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"missing \['model.layers.1.mlp.up_proj.weight'\]"):
        load_lm(base_copy)


def test_manifest_round_trip_and_damage(base_copy):
    from spiritlm.checkpoints import verify_manifest, write_manifest

    write_manifest(base_copy)
    assert verify_manifest(base_copy) == 6
    with open(base_copy / "config.json", "a") as f:
        f.write(" ")
    (base_copy / "tokenizer.model").unlink()
    with pytest.raises(ValueError, match=r"config.json \(sha256 differs\), tokenizer.model \(missing\)"):
        verify_manifest(base_copy)


def test_root_manifest_checked_at_load(tiny_root, tmp_path):
    from spiritlm.checkpoints import write_manifest

    root = tmp_path / "root"
    shutil.copytree(tiny_root / "spiritlm_model" / "spirit-lm-base-7b", root / "spiritlm_model" / "mini")
    write_manifest(root)
    assert load_lm(root / "spiritlm_model" / "mini").layout.vocab_size == 32512
    cfg = root / "spiritlm_model" / "mini" / "generation_config.json"
    cfg.write_text(cfg.read_text() + "\n")
    with pytest.raises(ValueError, match=r"damaged: spiritlm_model/mini/generation_config.json \(sha256 differs\)"):
        load_lm(root / "spiritlm_model" / "mini")
