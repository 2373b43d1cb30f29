"""Unit quality on real recorded speech (`spiritlm.eval.real_speech`): pocketsphinx-testdata's transcripts,
pocketsphinx forced alignment onto the phone inventory, and the pooled scores (on hand-made segments)."""

from __future__ import annotations

import json
import math
from dataclasses import astuple
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spiritlm.cli import main
from spiritlm.eval import real_speech
from spiritlm.eval.real_speech import align_phones, pocketsphinx_testdata, read_transcription, real_speech_quality
from spiritlm.eval.unit_quality import UnitQualityConfig, chance_quality, run, unit_quality
from spiritlm.speech.phones import PHONES

DATA = Path(real_speech.TESTDATA)
LIBRIVOX = DATA / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
needs_testdata = pytest.mark.skipif(not LIBRIVOX.is_file(), reason="apt package pocketsphinx-testdata not installed")


def test_read_transcription_strips_markers_and_punctuation(tmp_path):
    f = tmp_path / "transcription"
    f.write_text("<s> Hello, World! </s> (utt-1)\n\n<s> it's five </s>   (002) \n")
    assert read_transcription(f) == [("utt-1", "hello world"), ("002", "it's five")]
    f.write_text("no file id here\n")
    with pytest.raises(ValueError, match=r"transcription:1: expected 'words \(fileid\)'"):
        read_transcription(f)


def test_missing_data_folder_names_the_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt package pocketsphinx-testdata"):
        pocketsphinx_testdata(tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown pocketsphinx-testdata set 'tidigits'; valid: librivox, cards"):
        pocketsphinx_testdata(tmp_path, sets=("tidigits",))


@needs_testdata
def test_testdata_lists_the_librivox_and_cards_utterances():
    utts = pocketsphinx_testdata(DATA)
    librivox = [(p.name, t) for p, t in utts if p.parent.name == "librivox"]
    assert len(librivox) == 5 and all(p.is_file() for p, _ in utts)
    assert ("sense_and_sensibility_01_austen_64kb-0880.wav", "he was not an ill disposed young man") in librivox
    if (DATA / "cards").is_dir():
        assert [(p.name, t) for p, t in utts if p.parent.name == "cards"][0] == ("001.wav", "ten of clubs")


@needs_testdata
def test_alignment_of_a_librivox_utterance():
    pytest.importorskip("pocketsphinx")
    segs = align_phones(LIBRIVOX, "He was not an ill-disposed young man.")
    duration = sf.info(str(LIBRIVOX)).duration  # 2.99 s
    assert all(p in PHONES for p, _, _ in segs)
    assert segs[0][1] == 0.0 and segs[-1][2] >= 0.95 * duration and segs[-1][2] <= duration
    assert all(s < e for _, s, e in segs)
    assert all(a[2] == pytest.approx(b[1]) for a, b in zip(segs, segs[1:]))  # in order, end to end
    assert segs[0][0] == segs[-1][0] == "sil"
    # the dictionary's pronunciations, as pocketsphinx chose them (was(2) = w ah z, an(2) = ah n)
    assert [p for p, _, _ in segs if p != "sil"] == (
        "hh iy w ah z n aa t ah n ih l d ih s p ow z d y ah ng m ae n".split())


def test_alignment_rejects_words_outside_the_dictionary():
    pytest.importorskip("pocketsphinx")
    with pytest.raises(ValueError, match="not in pocketsphinx's dictionary: zzxqv"):
        align_phones(np.zeros(16000, dtype=np.float32), "hello zzxqv")


def _fake_testdata(tmp_path, monkeypatch) -> Path:
    """One 0.4 s librivox and one 0.2 s cards utterance, with hand-made alignments (no pocketsphinx)."""
    root = tmp_path / "data"
    for name, trans, fileid, seconds in (("librivox", "transcription", "a", 0.4),
                                         ("cards", "cards.transcription", "b", 0.2)):
        (root / name).mkdir(parents=True)
        (root / name / trans).write_text(f"<s> words </s> ({fileid})\n")
        sf.write(root / name / f"{fileid}.wav", np.zeros(int(seconds * 16000), dtype=np.float32), 16000)
    # frames of 0.04 s: a = sil sil aa aa aa aa s s s (unlabelled: past the alignment), b = s x 5
    segs = {0.4: [("sil", 0.0, 0.08), ("aa", 0.08, 0.24), ("s", 0.24, 0.36)], 0.2: [("s", 0.0, 0.2)]}
    monkeypatch.setattr(real_speech, "_decoder", lambda sample_rate=16000: None)
    monkeypatch.setattr(real_speech, "align_phones", lambda wav, text, sr, d: segs[round(len(wav) / sr, 2)])
    return root


def fake_encode(wav: np.ndarray) -> np.ndarray:
    return np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2]) if len(wav) == 6400 else np.full(5, 2)


def test_real_speech_quality_pools_frames(tmp_path, monkeypatch):
    root = _fake_testdata(tmp_path, monkeypatch)
    q = real_speech_quality(fake_encode, 640, root)
    assert list(q) == ["all", "no-silence", "chance", "librivox", "cards"]
    # pooled: unit 0 = sil x2, unit 1 = aa x3, unit 2 = aa x1 + s x8 (frame 9 of `a` is unlabelled)
    assert (q["all"].n_frames, q["all"].n_units_used, q["all"].n_phones) == (14, 3, 3)
    assert q["all"].phone_purity == pytest.approx(13 / 14)
    assert q["all"].cluster_purity == pytest.approx((2 + 3 + 8) / 14)
    pxy = np.array([[2, 0, 0], [0, 3, 1], [0, 0, 8]]) / 14  # rows sil, aa, s
    py, pz = pxy.sum(1), pxy.sum(0)
    mi = sum(pxy[i, j] * math.log(pxy[i, j] / (py[i] * pz[j])) for i in range(3) for j in range(3) if pxy[i, j])
    assert q["all"].pnmi == pytest.approx(mi / -(py * np.log(py)).sum())
    assert (q["no-silence"].n_frames, q["no-silence"].phone_purity) == (12, pytest.approx(11 / 12))
    assert q["librivox"].n_frames == 9 and q["librivox"].phone_purity == pytest.approx(8 / 9)
    assert q["cards"] == unit_quality([2] * 5, ["s"] * 5)
    assert q["chance"].n_frames == 14 and q["chance"].pnmi < q["all"].pnmi


def test_chance_quality_is_the_shuffled_floor():
    one_unit = ([1, 1, 1, 1], ["a", "b", "a", None])  # one unit: shuffling changes nothing
    assert astuple(chance_quality(*one_unit)) == pytest.approx(astuple(unit_quality(*one_unit)))
    units, labels = list(range(40)) * 5, [f"p{i % 8}" for i in range(200)]  # units that name the phone exactly
    assert unit_quality(units, labels).pnmi == pytest.approx(1.0)
    floor = chance_quality(units, labels)
    assert floor == chance_quality(units, labels)  # seeded
    assert 0.2 < floor.pnmi < 0.6 and floor.n_units_used == 40  # 5 frames a unit: far above 0 by chance


def test_unit_quality_run_and_cli_report_real_speech(tmp_path, monkeypatch, capsys):
    root = _fake_testdata(tmp_path, monkeypatch)
    monkeypatch.setattr("spiritlm.eval.unit_quality.kmeans_encoder", lambda kdir: (fake_encode, 640))
    assert UnitQualityConfig(manifest="m", kmeans=("k",)).real_speech is False  # off unless asked
    with pytest.raises(ValueError, match="nothing to score"):
        run(UnitQualityConfig(manifest="", kmeans=("k",)))
    scores = run(UnitQualityConfig(manifest="", kmeans=("km",), real_speech=True, real_speech_folder=str(root)))
    assert list(scores) == [f"km real-speech/{p}" for p in ("all", "no-silence", "chance", "librivox", "cards")]
    out = tmp_path / "uq.json"
    assert main(["eval", "unit-quality", "--kmeans", "km", "--real-speech", "--real-speech-folder", str(root),
                 "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["command"] == f"spiritlm eval unit-quality --kmeans km --real-speech-folder {root} --real-speech"
    assert data["results"][0]["name"] == "km real-speech/all" and data["results"][0]["n_frames"] == 14
    assert "km real-speech/all" in capsys.readouterr().out


def test_missing_pocketsphinx_names_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pocketsphinx", None)  # import pocketsphinx -> ImportError
    with pytest.raises(ImportError, match=r"needs pocketsphinx: pip install 'spiritlm\[data\]'"):
        align_phones(np.zeros(1600, dtype=np.float32), "hello")
