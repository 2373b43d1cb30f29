"""LM trainer: a tiny model learns, a SIGKILLed run resumes exactly, torchrun (2 x gloo) == 1 process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from spiritlm.data.unit_cache import build_unit_cache
from spiritlm.lm.model import load_lm
from spiritlm.training.config import config_from_dict, load_config
from spiritlm.training.lm import lr_at, train_lm
from spiritlm.training.lm_plot import read_curves
from test_train_support import SpectralPeakEncoder, write_corpus, write_text_tokenizer

BIN = Path(sys.executable).parent
# Torch on one thread here (conftest `one_thread`); subprocesses get the same setting so that their
# floating-point results are bit-identical to the in-process runs.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("lm")
    manifest = write_corpus(root / "data", n_utts=12)
    build_unit_cache(manifest, root / "units", SpectralPeakEncoder(), progress=False)
    write_text_tokenizer(root / "tok")
    return {"run": {"out_dir": str(root / "run"), "steps": 8, "log_every": 1, "eval_every": 4, "checkpoint_every": 3},
            "model": {"tokenizer": str(root / "tok"), "arch": "tiny"},
            "data": {"manifest": str(manifest), "units": str(root / "units"), "seq_len": 48, "text_words": [2, 5],
                     "speech_words": [1, 3], "eval_rows": 4},
            "optim": {"lr": 3e-3, "global_batch": 8, "micro_batch": 4, "warmup_steps": 2}}


def _with(recipe: dict, out_dir: Path, **sections) -> dict:
    d = json.loads(json.dumps(recipe))
    d["run"]["out_dir"] = str(out_dir)
    for name, values in sections.items():
        d.setdefault(name, {}).update(values)
    return d


def _losses(out_dir: Path) -> list[tuple[int, float]]:
    return read_curves(out_dir / "metrics.jsonl")["train"]


def test_tiny_model_learns_and_writes_a_loadable_checkpoint(recipe, tmp_path):
    run = {"steps": 12, "eval_every": 6, "checkpoint_every": 6}
    result = train_lm(config_from_dict(_with(recipe, tmp_path / "run", run=run, optim={"lr": 6e-3})))
    first, last = result.losses[0][1], sum(v for _, v in result.losses[-3:]) / 3
    assert result.steps == 12 and last < first - 0.8, (first, last)
    assert set(result.eval_losses) == {"text", "speech", "interleaved"}
    curves = read_curves(tmp_path / "run" / "metrics.jsonl")
    assert [s for s, _ in curves["eval/speech"]] == [6, 12]
    assert (tmp_path / "run" / "curves.svg").read_text().count("<polyline") == 4
    lm = load_lm(result.checkpoint, device="cpu")
    assert lm.layout.vocab_size == 1024 and lm.layout.text_vocab_size == 512
    assert lm.model.config.rope_parameters["rope_theta"] == 100000.0
    assert [p.name for p in sorted((tmp_path / "run" / "checkpoints").glob("step-*"))] == ["step-000006",
                                                                                        "step-000012"]


def test_killed_run_resumes_on_the_same_loss_curve(recipe, tmp_path):
    run = {"steps": 24, "checkpoint_every": 4, "eval_every": 12}
    reference = train_lm(config_from_dict(_with(recipe, tmp_path / "ref", run=run)))
    out = tmp_path / "killed"
    (tmp_path / "killed.yaml").write_text(yaml.safe_dump(_with(recipe, out, run=run)))
    proc = subprocess.Popen([str(BIN / "spiritlm"), "train", "lm", "--config", str(tmp_path / "killed.yaml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ONE_THREAD)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (out / "metrics.jsonl").is_file() and any(s >= 6 for s, _ in _losses(out)):
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed mid-run, not finished
    saved = int((out / "checkpoints" / "latest").read_text().removeprefix("step-"))
    assert saved % 4 == 0 and 4 <= saved < 24
    resumed = train_lm(load_config(tmp_path / "killed.yaml"))
    assert resumed.losses[0][0] == saved + 1  # continued after the last complete checkpoint
    assert _losses(out) == reference.losses  # bit-identical curve, steps 1-24


def test_resume_without_optimizer_moments(recipe, tmp_path, caplog):
    """A kept checkpoint (`recipe_keep`) has weights and trainer state only: the run continues at its step."""
    run = {"steps": 4, "checkpoint_every": 2}
    out = tmp_path / "run"
    first = train_lm(config_from_dict(_with(recipe, out, run=run)))
    assert [s for s, _ in first.losses] == [1, 2, 3, 4]
    (out / "checkpoints" / "latest").write_text("step-000002")
    shutil.rmtree(out / "checkpoints" / "step-000004")
    (out / "checkpoints" / "step-000002" / "optimizer.safetensors").unlink()
    with caplog.at_level("WARNING"):
        resumed = train_lm(config_from_dict(_with(recipe, out, run={**run, "steps": 6})))
    assert "the AdamW moments start from zero at step 2" in caplog.text
    assert [s for s, _ in resumed.losses] == [3, 4, 5, 6]
    assert resumed.losses[0][1] == pytest.approx(first.losses[2][1], rel=1e-6)  # same weights and data at step 3


def test_torchrun_two_gloo_processes_match_one_process(recipe, tmp_path):
    one = train_lm(config_from_dict(_with(recipe, tmp_path / "one", run={"steps": 5})))
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(_with(recipe, tmp_path / "two", run={"steps": 5})))
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", str(BIN / "spiritlm"),
                           "train", "lm", "--config", str(tmp_path / "two.yaml")], capture_output=True, text=True,
                          timeout=300, env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = _losses(tmp_path / "two")
    assert [s for s, _ in two] == [1, 2, 3, 4, 5]
    for (_, a), (_, b) in zip(one.losses, two):
        assert abs(a - b) < 1e-5, (one.losses, two)


def test_config_rejects_unknown_keys_and_schedules(recipe, tmp_path):
    with pytest.raises(ValueError, match=r"unknown key\(s\) optim.learning_rate; valid in optim: lr"):
        config_from_dict(_with(recipe, tmp_path, optim={"learning_rate": 1.0}))
    with pytest.raises(ValueError, match="unknown key"):
        config_from_dict({"trainer": {}})
    with pytest.raises(ValueError, match="valid: cosine, constant"):
        config_from_dict(_with(recipe, tmp_path, optim={"schedule": "linear"}))
    with pytest.raises(ValueError, match="multiple of optim.micro_batch"):
        config_from_dict(_with(recipe, tmp_path, optim={"global_batch": 6}))
    cfg = config_from_dict(_with(recipe, tmp_path), overrides=["run.steps=12", "optim.schedule=constant"])
    assert cfg.run.steps == 12 and lr_at(1, cfg) == pytest.approx(1.5e-3) and lr_at(9, cfg) == 3e-3
    cosine = config_from_dict(_with(recipe, tmp_path, run={"steps": 12}))
    assert lr_at(2, cosine) == 3e-3 and lr_at(12, cosine) == pytest.approx(3e-4)
    assert lr_at(7, cosine) == pytest.approx(3e-4 + 2.7e-3 * 0.5)


def _torchrun(config: Path, *overrides: str) -> None:
    cmd = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", str(BIN / "spiritlm"), "train", "lm",
           "--config", str(config)] + [a for o in overrides for a in ("--set", o)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ONE_THREAD)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_fsdp_two_processes_match_and_resume(recipe, tmp_path):
    optim = {"schedule": "constant"}
    one = train_lm(config_from_dict(_with(recipe, tmp_path / "one", run={"steps": 7}, optim=optim)))
    cfg = tmp_path / "fsdp.yaml"
    cfg.write_text(yaml.safe_dump(_with(recipe, tmp_path / "fsdp", optim=optim, dist={"strategy": "fsdp"})))
    _torchrun(cfg, "run.steps=5")
    _torchrun(cfg, "run.steps=7")  # resumes from the step-5 checkpoint (sharded optimizer state restored)
    two = _losses(tmp_path / "fsdp")
    assert [s for s, _ in two] == list(range(1, 8))
    for (_, a), (_, b) in zip(one.losses, two):
        assert abs(a - b) < 1e-5, (one.losses, two)
