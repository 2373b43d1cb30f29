import pytest

from spiritlm.vocab import TokenLayout


def test_official_base_layout():
    lay = TokenLayout.base()
    assert (lay.vocab_size, lay.n_used) == (32512, 32503)
    assert (lay.text_marker_id, lay.speech_marker_id) == (32000, 32001)
    assert lay.id_range("hubert") == range(32002, 32503)
    assert lay.unit_id("hubert", 0) == 32002 and lay.unit_id("hubert", 500) == 32502
    assert lay.token_of(32511) == ("pad", 32511)
    assert lay.streams == ("hubert",)


def test_official_expressive_layout():
    lay = TokenLayout.expressive()
    assert lay.vocab_size == 32768
    assert lay.id_range("pitch") == range(32503, 32567)
    assert lay.id_range("style") == range(32567, 32667)
    assert [lay.token_string(i) for i in (32000, 32001, 32002, 32502, 32503, 32566, 32567, 32666)] == [
        "[Text]", "[Speech]", "[Hu0]", "[Hu500]", "[Pi0]", "[Pi63]", "[St0]", "[St99]"]
    assert lay.token_of(0) == ("text", 0) and lay.token_of(32667) == ("pad", 32667)


def test_other_text_vocab_shifts_layout():
    lay = TokenLayout.expressive(49152)
    assert lay.text_marker_id == 49152 and lay.unit_id("style", 99) == 49152 + 2 + 501 + 64 + 99
    assert lay.vocab_size % 256 == 0 and lay.vocab_size >= lay.n_used
    assert TokenLayout.from_dict(lay.to_dict()) == lay


def test_infer_from_sizes():
    assert not TokenLayout.infer(32000, 32512).is_expressive
    assert TokenLayout.infer(32000, 32768).is_expressive


@pytest.mark.parametrize("stream,unit,msg", [("hubert", 501, "Hu0..Hu500"), ("pitch", -1, "Pi0..Pi63"),
                                             ("style", 100, "St0..St99")])
def test_out_of_range_units(stream, unit, msg):
    with pytest.raises(ValueError, match=msg):
        TokenLayout.expressive().unit_id(stream, unit)


def test_base_has_no_pitch():
    with pytest.raises(ValueError, match="no pitch tokens"):
        TokenLayout.base().unit_id("pitch", 3)


def test_bad_layouts():
    with pytest.raises(ValueError, match="too small"):
        TokenLayout.base(32000, vocab_size=32400)
    with pytest.raises(ValueError, match="pitch and style"):
        TokenLayout(32000, 501, 64, 0)
    with pytest.raises(ValueError, match="unknown unit stream"):
        TokenLayout.base().offset("energy")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TokenLayout.base().token_of(32512)
