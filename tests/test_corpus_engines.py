"""Every engine (installed by `make test`: APT_PACKAGES + the `data` extra) speaks with checked timings."""

import numpy as np
import pytest

from spiritlm.data.corpus.engines import ENGINES, EngineError, find_engines, make_engine
from spiritlm.data.corpus.engines.espeak import _cut, _split_merged
from spiritlm.data.corpus.manifest import TimedPhone, check_intervals, text_words
from spiritlm.data.corpus.styles import get_style

TEXT = "Last year there was a serious deficit, in the mouth."


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(request):
    return make_engine(request.param)


def test_all_engines_installed():
    assert find_engines(tuple(ENGINES)) == list(ENGINES)


def test_engine_speaks_with_word_times(engine):
    voice = engine.voices()[0]
    syn = engine.synthesize(TEXT, voice, get_style("neutral"))
    assert syn.wav.dtype == np.float32 and syn.wav.ndim == 1
    assert 1.5 < syn.duration < 6.0
    assert [w.word for w in syn.words] == text_words(TEXT)
    check_intervals(syn.words, syn.duration, "word")
    check_intervals(syn.phonemes, syn.duration, "phoneme")
    assert len(syn.phonemes) >= 30  # ~35 phonemes in the sentence
    assert all(w.end - w.start >= 0.02 for w in syn.words)
    # the audio is not silent inside a word and the first word starts in the first half second
    assert syn.words[0].start < 0.5
    mid = syn.words[4]
    seg = syn.wav[int(mid.start * 16000): int(mid.end * 16000)]
    assert np.abs(seg).max() > 0.01


def test_rate_styles_change_duration(engine):
    voice = engine.voices()[0]
    assert engine.supports(get_style("slow"), voice.name)  # (festival's HTS voice would not; its first, kal, does)
    fast = engine.synthesize(TEXT, voice, get_style("fast")).duration
    slow = engine.synthesize(TEXT, voice, get_style("slow")).duration
    assert slow > 1.3 * fast


def test_loud_is_louder(engine):
    voice = engine.voices()[0]
    quiet = engine.synthesize(TEXT, voice, get_style("neutral")).wav
    loud = engine.synthesize(TEXT, voice, get_style("loud")).wav
    assert np.sqrt(np.mean(loud**2)) > 1.3 * np.sqrt(np.mean(quiet**2))


def test_style_support_matrix():
    from spiritlm.data.corpus.engines import engine_class

    whisper = get_style("whisper")
    assert engine_class("espeak").supports(whisper)
    assert not any(engine_class(e).supports(whisper) for e in ("flite", "festival", "piper"))
    assert not engine_class("piper").supports(get_style("happy"))
    assert engine_class("festival").supports(get_style("sad"), "kal_diphone")
    assert not engine_class("festival").supports(get_style("sad"), "cmu_us_slt_arctic_hts")


def test_voices_are_distinct_speakers():
    speakers = [v.speaker for e in ENGINES for v in make_engine(e).voices()]
    assert len(speakers) == len(set(speakers)) == 14


def test_espeak_merged_words_get_their_own_intervals():
    eng = make_engine("espeak")
    syn = eng.synthesize("Last year there was a serious budgetary deficit.", eng.voices()[0], get_style("neutral"))
    there, was = syn.words[2], syn.words[3]
    assert there.end == was.start and there.start < there.end < was.end


def test_split_merged_by_phone_counts():
    ph = [TimedPhone(p, i * 0.1, i * 0.1 + 0.1) for i, p in enumerate(["D", "e@", "w", "V", "z", "a"])]
    groups = _split_merged([ph[:5], [], ph[5:]], [2, 3, 1])
    assert [[p.phone for p in g] for g in groups] == [["D", "e@"], ["w", "V", "z"], ["a"]]
    assert _cut(5, [1, 1]) == [0, 2, 5]
    assert _cut(4, [1, 1, 1, 1]) == [0, 1, 2, 3, 4]
    with pytest.raises(EngineError, match="share only"):
        _cut(1, [1, 1])


def test_espeak_unknown_voice_is_engine_error():
    from spiritlm.data.corpus.engines.base import Voice

    eng = make_engine("espeak")
    with pytest.raises(EngineError, match="no voice"):
        eng.synthesize("Hello there.", Voice("espeak", "xx-nonexistent", "espeak-xx"), get_style("neutral"))


def test_festival_recovers_from_a_dead_interpreter():
    eng = make_engine("festival")
    voice = eng.voices()[0]
    first = eng.synthesize("One two three four.", voice, get_style("neutral"))
    eng._session.proc.kill()
    eng._session.proc.wait()
    with pytest.raises(EngineError, match="festival exited"):
        eng.synthesize("One two three four.", voice, get_style("neutral"))
    again = eng.synthesize("One two three four.", voice, get_style("neutral"))
    assert again.words == first.words and np.array_equal(again.wav, first.wav)
    eng.close()
