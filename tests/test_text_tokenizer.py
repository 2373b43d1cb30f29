import json

import pytest

from spiritlm.lm.model import read_layout
from spiritlm.lm.text_tokenizer import TextTokenizer

STRINGS = [
    "[Text]The largest country in the world is",
    "[Text]  two  spaces, tabs\tand\nnewlines [not a token] (x) [",
    "[Speech][Hu99][Hu49][Hu38][Text] and they went out together[Speech][Hu431]",
    "Ünïcödé 東京 😀 123456 $4.50",
    "[Text]a[Text]b[Speech][Speech]",
]


@pytest.fixture(scope="module")
def tok(tiny_root):
    path = tiny_root / "spiritlm_model" / "spirit-lm-expressive-7b"
    return TextTokenizer.from_dir(path, read_layout(path))


@pytest.mark.parametrize("s", STRINGS)
def test_exact_round_trip(tok, s):
    ids = tok.encode(s)
    assert ids[0] == tok.bos_id == 1
    assert tok.decode(ids) == s


def test_official_ids(tok):
    ids = tok.encode("[Text]hi[Speech][Hu0][Hu500][Pi0][Pi63][St0][St99]", add_bos=False)
    assert ids[0] == 32000 and ids[-7:] == [32001, 32002, 32502, 32503, 32566, 32567, 32666]
    assert all(i < 32000 for i in ids[1:-7])
    assert (tok.eos_id, tok.unk_id, tok.pad_id) == (2, 0, 2)


def test_official_expressive_string_round_trip(tok, official_vectors):
    s = "[Speech]" + official_vectors["string_expressive"]
    ids = tok.encode(s, add_bos=False)
    assert len(ids) == 1 + 167 + 82 + 10
    assert tok.decode(ids) == s


def test_out_of_layout_units(tiny_root):
    path = tiny_root / "spiritlm_model" / "spirit-lm-base-7b"
    base = TextTokenizer.from_dir(path, read_layout(path))
    with pytest.raises(ValueError, match="no pitch tokens"):
        base.encode("[Speech][Pi3]")
    with pytest.raises(ValueError, match="Hu0..Hu500"):
        base.encode("[Speech][Hu999]")


def test_added_tokens_must_match_layout(tiny_root, tmp_path):
    import shutil

    src = tiny_root / "spiritlm_model" / "spirit-lm-base-7b"
    dst = tmp_path / "ckpt"
    shutil.copytree(src, dst)
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    cfg["added_tokens_decoder"] = {"32005": {"content": "[Hu0]"}}
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"maps \[Hu0\] to id 32005"):
        TextTokenizer.from_dir(dst, read_layout(dst))
    cfg["added_tokens_decoder"] = {"32000": {"content": "[Text]"}, "32002": {"content": "[Hu0]"}}
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    TextTokenizer.from_dir(dst, read_layout(dst))


def test_missing_tokenizer(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer.model"):
        TextTokenizer.from_dir(tmp_path)
