"""Continued pretraining of a Spirit LM on text, speech and word-level interleaved data.

One optimizer step consumes ``optim.global_batch`` rows of the packed data mixture
(`spiritlm.data.datasets`). Every process draws the same rows and keeps its slice, so one process
and N processes see the same data::

    global batch 8, micro batch 2, 2 ranks -> 2 accumulation steps
    rows   0 1 | 2 3 | 4 5 | 6 7
           r0    r1    r0    r1        (micro-step 0: rows 0-3, micro-step 1: rows 4-7)

The loss of a step is the mean over every target token of the global batch: each micro-batch adds
``sum(token losses) * world / n_targets(global)`` to the gradient, and DDP (or FSDP) averages over
ranks, so the update does not depend on how the batch is split: one CPU process and ``torchrun
--nproc_per_node 2`` give the same losses up to float rounding. bf16 autocast is used on GPUs that
support it (fp32 on CPU, where bf16 is slow). The learning rate follows linear warm-up then cosine
decay to ``min_lr_ratio * lr`` or stays constant (the paper's final runs: constant 3e-5).

Checkpoints (`lm_checkpoint`) restore weights, AdamW moments and the data stream exactly, so a run
killed at any point, even by SIGKILL, resumes on the same loss curve. Logs go to
``<out_dir>/metrics.jsonl``; ``curves.svg`` / ``curves.csv`` plot training and per-kind eval losses.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import ARCHS, TrainConfig
from .lm_checkpoint import TrainerState, gather_state, latest_checkpoint, load_training_state, save_checkpoint
from .lm_plot import plot_run

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    steps: int
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: dict[str, float] = field(default_factory=dict)
    tokens_per_s: float = 0.0
    data_share: float = 0.0  # fraction of step time spent building and moving batches
    checkpoint: Path | None = None


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world: int
    device: str


def init_distributed() -> DistEnv:
    """torchrun sets RANK/WORLD_SIZE: join the process group (gloo on CPU, nccl on GPUs)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", 1))
    rank = int(os.environ.get("RANK", 0))
    cuda = torch.cuda.is_available()
    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return DistEnv(rank, world, device)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of optimizer step `step` (1-based)."""
    o = cfg.optim
    if o.warmup_steps and step <= o.warmup_steps:
        return o.lr * step / o.warmup_steps
    if o.schedule == "constant":
        return o.lr
    span = max(1, cfg.run.steps - o.warmup_steps)
    progress = min(1.0, (step - o.warmup_steps) / span)
    return o.lr * (o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def build_model(cfg: TrainConfig):
    """(model, tokenizer, layout, tokenizer folder) for `model.init` = scratch | pretrained | spirit."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ..lm.extend import ExtendConfig, extend_vocabulary, spirit_layout
    from ..lm.model import load_lm
    from ..lm.text_tokenizer import TextTokenizer

    m = cfg.model
    if m.init == "spirit":
        lm = load_lm(m.path, device="cpu", dtype=torch.float32)
        return lm.model.train(), lm.tokenizer, lm.layout, Path(lm.path)
    tok_dir = Path(m.tokenizer or m.path)
    text_vocab = TextTokenizer.from_dir(tok_dir).text_vocab_size
    ext = ExtendConfig(variant=m.variant, init=m.extend_init, pad_multiple=m.pad_multiple, rope_theta=m.rope_theta,
                       n_hubert=m.n_hubert, n_pitch=m.n_pitch, n_style=m.n_style,
                       seed=cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    if m.init == "scratch":
        layout = spirit_layout(text_vocab, ext)
        hidden, layers, heads, kv, inter = ARCHS[m.arch]
        tok = TextTokenizer.from_dir(tok_dir, layout)
        model = LlamaForCausalLM(LlamaConfig(
            vocab_size=layout.vocab_size, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
            num_attention_heads=heads, num_key_value_heads=kv, max_position_embeddings=m.max_positions,
            rope_theta=m.rope_theta, tie_word_embeddings=True, bos_token_id=tok.bos_id, eos_token_id=tok.eos_id))
    else:
        model = LlamaForCausalLM.from_pretrained(m.path, dtype=torch.float32)
        layout = extend_vocabulary(model, text_vocab, ext)
        tok = TextTokenizer.from_dir(tok_dir, layout)
    return model.train(), tok, layout, tok_dir


def build_data(cfg: TrainConfig, tokenizer, layout):
    """Training stream and fixed eval batches per kind (kinds with data in the eval split)."""
    from ..data.datasets import DocumentBuilder, PackedMixture, eval_batches, load_pools
    from ..data.interleave import SpanConfig
    from ..data.unit_cache import UnitCache

    d = cfg.data
    cache = UnitCache(d.units) if d.units else None
    if cache is not None and layout.is_expressive and not cache.is_expressive:
        raise ValueError(f"model.variant=expressive needs pitch and style units, but the unit cache {d.units} holds "
                         "only hubert: build it with an Expressive speech encoder")
    hubert_only = cache is not None and cache.is_expressive and not layout.is_expressive
    builder = DocumentBuilder(tokenizer, layout, SpanConfig(tuple(d.text_words), tuple(d.speech_words)))
    pools = load_pools(d.manifest, cache, d.train_split, d.text_files, hubert_only)
    stream = PackedMixture(pools, builder, dict(d.weights), d.seq_len, seed=cfg.run.seed, packing=d.packing,
                           pad_id=tokenizer.pad_id)
    evals = {}
    if d.eval_split and d.manifest and d.eval_rows > 0:
        eval_pools = load_pools(d.manifest, cache, d.eval_split, hubert_only=hubert_only)
        for kind in stream.kinds:
            if eval_pools.get(kind):
                evals[kind] = eval_batches(eval_pools, builder, kind, d.eval_rows, d.seq_len,
                                           cfg.optim.micro_batch, pad_id=tokenizer.pad_id)
    return stream, evals


def token_loss_sum(model, ids, mask, autocast):
    """Sum of next-token cross-entropies over target positions (mask[:, 1:])."""
    import torch
    import torch.nn.functional as F

    with autocast():
        logits = model(input_ids=ids).logits  # [B, L, V]
    targets = ids[:, 1:].masked_fill(~mask[:, 1:], -100)  # [B, L-1]
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100, reduction="sum").to(torch.float32)


class LMTrainer:
    """Holds the model, optimizer and data of one run; `train()` runs it to `run.steps`."""

    def __init__(self, cfg: TrainConfig):
        import torch

        self.cfg, self.env = cfg, init_distributed()
        o = cfg.optim
        if o.global_batch % (o.micro_batch * self.env.world):
            raise ValueError(f"optim.global_batch {o.global_batch} must be a multiple of micro_batch x world size "
                             f"({o.micro_batch} x {self.env.world})")
        self.accum = o.global_batch // (o.micro_batch * self.env.world)
        self.out = Path(cfg.run.out_dir)
        self.model, self.tokenizer, self.layout, self.tok_dir = build_model(cfg)
        self.model.to(self.env.device)
        self.stream, self.evals = build_data(cfg, self.tokenizer, self.layout)
        self.wrapped = self._wrap()
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": o.weight_decay},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]  # norms: no decay
        self.optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas))
        bf16 = cfg.dist.precision == "bf16" or (cfg.dist.precision == "auto" and self.env.device.startswith("cuda")
                                                and torch.cuda.is_bf16_supported())
        dev = "cuda" if self.env.device.startswith("cuda") else "cpu"
        self.autocast = (lambda: torch.autocast(dev, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
        self.step, self.tokens = 0, 0

    def _wrap(self):
        if self.env.world == 1:
            return self.model
        if self.cfg.dist.strategy == "fsdp":
            from torch.distributed.fsdp import fully_shard

            for layer in self.model.model.layers:
                fully_shard(layer)
            fully_shard(self.model)
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(self.model)

    def _all_sum(self, value):
        import torch.distributed as dist

        if self.env.world > 1:
            dist.all_reduce(value)
        return value

    def resume(self) -> bool:
        ckpt = latest_checkpoint(self.out) if self.cfg.run.resume else None
        if ckpt is None:
            return False
        state = load_training_state(self.model, self.optimizer, ckpt)
        self.stream.load_state_dict(state.data)
        self.step, self.tokens = state.step, state.tokens
        if self.env.rank == 0:
            self._truncate_metrics(state.step)
        logger.info("resumed from %s (step %d)", ckpt, state.step)
        return True

    def _truncate_metrics(self, step: int) -> None:
        f = self.out / "metrics.jsonl"
        if not f.is_file():
            return
        keep = []
        for line in f.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    keep.append(line)
            except (json.JSONDecodeError, KeyError):  # a line torn by the kill
                continue
        f.write_text("".join(line + "\n" for line in keep))

    def _log(self, record: dict) -> None:
        if self.env.rank == 0:
            with open(self.out / "metrics.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def train_step(self) -> tuple[float, float, float]:
        """One optimizer step; returns (loss, seconds building batches, seconds in total)."""
        import torch

        t0 = time.perf_counter()
        o, env = self.cfg.optim, self.env
        batch = self.stream.next_batch(o.global_batch)
        n_targets = batch.n_targets
        data_s = time.perf_counter() - t0
        self.step += 1
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.cfg)
        total = torch.zeros((), dtype=torch.float32, device=env.device)
        for m in range(self.accum):
            t1 = time.perf_counter()
            lo = (m * env.world + env.rank) * o.micro_batch
            ids = batch.input_ids[lo:lo + o.micro_batch].to(env.device, non_blocking=True)
            mask = batch.loss_mask[lo:lo + o.micro_batch].to(env.device, non_blocking=True)
            data_s += time.perf_counter() - t1
            defer = m < self.accum - 1 and hasattr(self.wrapped, "no_sync")  # DDP: all-reduce on the last only
            sync = self.wrapped.no_sync() if defer else contextlib.nullcontext()
            with sync:
                loss_sum = token_loss_sum(self.wrapped, ids, mask, self.autocast)
                (loss_sum * env.world / n_targets).backward()
            total += loss_sum.detach()
        if o.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), o.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.tokens += o.global_batch * self.cfg.data.seq_len
        loss = float(self._all_sum(total)) / n_targets
        return loss, data_s, time.perf_counter() - t0

    def evaluate(self) -> dict[str, float]:
        """Mean token loss per data kind on the fixed eval batches (split over ranks)."""
        import torch

        self.model.eval()
        out = {}
        with torch.no_grad():
            for kind, batches in self.evals.items():
                mine = batches if self.cfg.dist.strategy == "fsdp" else batches[self.env.rank::self.env.world]
                acc = torch.zeros(2, dtype=torch.float64, device=self.env.device)
                for b in mine:
                    ids, mask = b.input_ids.to(self.env.device), b.loss_mask.to(self.env.device)
                    acc += torch.stack([token_loss_sum(self.model, ids, mask, self.autocast).double(),
                                        torch.tensor(float(b.n_targets), dtype=torch.float64, device=acc.device)])
                if self.cfg.dist.strategy != "fsdp":
                    acc = self._all_sum(acc)
                out[kind] = float(acc[0] / acc[1])
        self.model.train()
        return out

    def save(self) -> Path | None:
        gathered = gather_state(self.model, self.optimizer)  # every rank takes part (FSDP gathers shards)
        if self.env.rank != 0:
            return None
        state = TrainerState(self.step, self.stream.state_dict(), self.tokens)
        return save_checkpoint(self.out, self.step, self.model, gathered, state, self.tok_dir, self.layout,
                               self.cfg.to_dict(), keep=self.cfg.run.keep_checkpoints,
                               milestones=self.cfg.run.milestones)

    def train(self) -> TrainResult:
        import yaml
        from tqdm import tqdm

        r = self.cfg.run
        self.out.mkdir(parents=True, exist_ok=True)
        if self.env.rank == 0:
            (self.out / "config.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(self.cfg.to_dict()))))
        self.resume()
        result = TrainResult(self.step)
        data_s = step_s = 0.0
        bar = tqdm(total=r.steps, initial=self.step, desc="train lm", disable=self.env.rank != 0, unit="step")
        while self.step < r.steps:
            loss, d, s = self.train_step()
            data_s, step_s = data_s + d, step_s + s
            result.losses.append((self.step, loss))
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if self.step % r.log_every == 0 or self.step == r.steps:
                self._log({"step": self.step, "loss": loss, "lr": lr_at(self.step, self.cfg), "tokens": self.tokens,
                           "tok_per_s": self.cfg.optim.global_batch * self.cfg.data.seq_len / s, "data_share": d / s})
            if self.evals and (self.step % r.eval_every == 0 or self.step == r.steps):
                result.eval_losses = self.evaluate()
                self._log({"step": self.step, "eval": result.eval_losses})
                logger.info("step %d eval %s", self.step, result.eval_losses)
            if self.step % r.checkpoint_every == 0 or self.step == r.steps or self.step in r.milestones:
                result.checkpoint = self.save()
                if self.env.rank == 0:
                    plot_run(self.out)
        bar.close()
        n_steps = max(1, len(result.losses))
        tokens = n_steps * self.cfg.optim.global_batch * self.cfg.data.seq_len
        result.steps, result.tokens_per_s = self.step, tokens / max(step_s, 1e-9)
        result.data_share = data_s / max(step_s, 1e-9)
        return result


def train_lm(cfg: TrainConfig) -> TrainResult:
    return LMTrainer(cfg).train()


# ------------------------------------------------------------------------------------- CLI


def register(sub) -> None:
    """`spiritlm train lm --config recipes/lm_mini_base.yaml [--set run.steps=10 ...]`."""
    p = sub.add_parser("lm", help="continued pretraining of the LM on text, speech and interleaved data "
                                  "(one process, or under torchrun)")
    p.add_argument("--config", required=True, help="YAML run config (see recipes/)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value (YAML syntax), e.g. --set run.steps=10")
    p.set_defaults(func=_cli)


def _cli(args) -> int:
    import torch.distributed as dist

    from .config import load_config

    cfg = load_config(args.config, args.set)
    result = train_lm(cfg)
    if int(os.environ.get("RANK", 0)) == 0:
        last = result.losses[-1][1] if result.losses else float("nan")
        print(f"trained to step {result.steps}: loss {last:.4f}, eval {result.eval_losses}, "
              f"{result.tokens_per_s:.0f} tok/s, {100 * result.data_share:.2f}% of step time outside the model; "
              f"checkpoint {result.checkpoint}")
    if dist.is_initialized():
        # every rank leaves together: a rank tearing gloo down while another still writes its last checkpoint or
        # plot aborted once ("terminate called without an active exception") on a loaded 2-core machine
        dist.barrier()
        dist.destroy_process_group()
    return 0
