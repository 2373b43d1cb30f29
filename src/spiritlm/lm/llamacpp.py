"""Decode a Spirit LM with llama.cpp (through llama-cpp-python's low-level API), our rules applied.

`load_lm(path, quantize="llamacpp-q4_0")` exports the checkpoint to GGUF once (`gguf_export.py`,
kept in `<checkpoint>/gguf/`), loads it with llama.cpp and returns a `LoadedLM` whose `model` is a
`LlamaCppLM`. `SpiritLM.generate` then runs unchanged: `generation/decode.py` hands the call to
`LlamaCppLM.generate_new`, which evaluates the prompt ids, then one id at a time, and at every step
reads llama.cpp's logits, applies OUR modality mask (`blocked`) and picks the id (greedy, or our
temperature / top-k / top-p sampler), so masks, stop ids and padding follow the torch paths exactly.
Ids go in and out as ids: the GGUF vocabulary is ours, id for id.

Kinds: `llamacpp-f32` (exact, for tests), `llamacpp-f16`, `llamacpp-q8_0`, `llamacpp-q4_0`.
Requires the optional extra `llamacpp` (`make llamacpp`; pip builds llama.cpp from source).
Threads: `LlamaCppLM.threads` (default: all cores); on a machine where other work holds a core, one
thread decoded the 7B 4x faster than two (llama.cpp's threads wait for each other at every op).
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidInput

logger = logging.getLogger(__name__)

KINDS = ("f32", "f16", "q8_0", "q4_0")
GGML_TYPE_F32, GGML_TYPE_F16 = 0, 1
_state: dict = {}  # the llama.cpp backend is initialised once per process; the log callback stays referenced


def available() -> str | None:
    """None when llama_cpp and gguf import, else why not (with the install command)."""
    try:
        import gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError as e:
        return (f"{e.name} is not installed: make llamacpp, or CMAKE_ARGS=-DGGML_NATIVE=ON pip install -e "
                "'.[llamacpp]' (pip builds llama.cpp from source: 20-35 min on 2 busy cores)")
    return None


def _backend():
    import llama_cpp

    if "init" not in _state:
        @llama_cpp.llama_log_callback
        def _log(level, text, user_data):
            logger.debug("llama.cpp: %s", text.decode(errors="replace").rstrip())

        _state["log"] = _log
        llama_cpp.llama_log_set(_log, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        _state["init"] = True
    return llama_cpp


EXTRA_BUFFERS_ENV = "SPIRITLM_LLAMACPP_EXTRA_BUFFERS"


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def default_extra_buffers() -> bool:
    """llama.cpp's repacked / AMX weight buffers: `$SPIRITLM_LLAMACPP_EXTRA_BUFFERS` (1 / 0) if set, else on
    unless the CPU reports AMX (where llama.cpp 0.3.36 crashed, see `LlamaCppLM`)."""
    env = os.environ.get(EXTRA_BUFFERS_ENV, "").strip().lower()
    if env:
        if env not in ("0", "1", "true", "false", "on", "off"):
            raise InvalidInput(f"{EXTRA_BUFFERS_ENV}={env!r}; valid: 1, 0, true, false, on, off")
        return env in ("1", "true", "on")
    return "amx_tile" not in cpu_flags()


class LlamaCppLM:
    """A GGUF model run by llama.cpp, with the attributes of `LlamaForCausalLM` that SpiritLM reads
    (`config`, `parameters()` for the device) and `generate_new` for `generation/decode.py`."""

    is_llamacpp = True

    def __init__(self, gguf_path: str | os.PathLike, config, threads: int | None = None, kv_f32: bool = False,
                 extra_buffers: bool | None = None):
        """`extra_buffers`: let llama.cpp put weights in its extra CPU buffer types (AMX, repacked Q4_0).
        None: `default_extra_buffers()` (off on CPUs with AMX: on such a 2-core Xeon VM llama.cpp 0.3.36
        segfaults in `ggml_backend_amx_mul_mat` on any Q8_0 / Q4_0 model; on elsewhere)."""
        lib = _backend()
        extra_buffers = default_extra_buffers() if extra_buffers is None else extra_buffers
        self.path = Path(gguf_path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no GGUF file at {self.path}")
        self.config = config
        self.threads = threads or os.cpu_count() or 1
        self.kv_type = GGML_TYPE_F32 if kv_f32 else GGML_TYPE_F16
        params = lib.llama_model_default_params()
        params.use_extra_bufts = extra_buffers
        if extra_buffers:  # repacked weights are a copy: reading the file, not mapping it, keeps one copy in RAM
            fields = {f[0] for f in type(params)._fields_}
            if "load_mode" in fields:
                params.load_mode = lib.LLAMA_LOAD_MODE_NONE
            elif "use_mmap" in fields:
                params.use_mmap = False
        self._model = lib.llama_model_load_from_file(str(self.path).encode(), params)
        if not self._model:
            raise ValueError(f"llama.cpp could not load {self.path}")
        self.n_vocab = lib.llama_vocab_n_tokens(lib.llama_model_get_vocab(self._model))
        if self.n_vocab != config.vocab_size:
            raise ValueError(f"{self.path} has {self.n_vocab} tokens but config.json says {config.vocab_size}")
        self._ctx = None
        self._n_ctx = 0
        self._anchor = torch.empty(0)

    def parameters(self):
        """The device anchor (llama.cpp runs on the CPU); the weights live in llama.cpp, not in torch."""
        yield self._anchor

    def _context(self, needed: int):
        lib = _backend()
        if self._ctx is None or self._n_ctx < needed:
            if self._ctx is not None:
                lib.llama_free(self._ctx)
            params = lib.llama_context_default_params()
            params.n_ctx = -(-needed // 256) * 256
            params.n_batch = params.n_ubatch = min(params.n_ctx, 512)
            params.n_threads = params.n_threads_batch = self.threads
            params.type_k = params.type_v = self.kv_type
            self._ctx = lib.llama_init_from_model(self._model, params)
            if not self._ctx:
                raise RuntimeError(f"llama.cpp could not create a context of {params.n_ctx} positions")
            self._n_ctx = params.n_ctx
        return self._ctx

    def _eval(self, ids: list[int]) -> torch.Tensor:
        """Feed ids after the cached ones; the logits of the last one [V]."""
        lib = _backend()
        for start in range(0, len(ids), 512):
            chunk = ids[start:start + 512]
            arr = (lib.llama_token * len(chunk))(*chunk)
            rc = lib.llama_decode(self._ctx, lib.llama_batch_get_one(arr, len(chunk)))
            if rc != 0:
                raise RuntimeError(f"llama_decode failed ({rc})")
        ptr = lib.llama_get_logits_ith(self._ctx, -1)
        return torch.from_numpy(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy())

    def _row(self, prompt: list[int], max_new_tokens: int, stops: set[int], blocked, choose,
             on_step=None) -> list[int]:
        lib = _backend()
        ctx = self._context(len(prompt) + max_new_tokens)
        lib.llama_memory_clear(lib.llama_get_memory(ctx), True)
        logits = self._eval(prompt)
        out: list[int] = []
        for i in range(max_new_tokens):
            if blocked is not None:
                n = min(len(blocked), logits.shape[-1])
                logits[:n].masked_fill_(blocked[:n], float("-inf"))
            tok = int(choose(logits[None])[0])
            out.append(tok)
            if tok in stops or (on_step is not None and on_step(out)) or i + 1 == max_new_tokens:
                break
            logits = self._eval([tok])
        return out

    @torch.inference_mode()
    def generate_new(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, max_new_tokens: int,
                     stop_ids=(), pad_id: int = 0, blocked: torch.Tensor | None = None, sampling=None,
                     generator: torch.Generator | None = None, stopping_criteria=None) -> torch.Tensor:
        """Same contract as `FastDecoder.generate`: [B, L] left-padded prompts -> [B, n] new ids, a row
        padded with `pad_id` after its stop id. Rows run one after another (batch 1 in llama.cpp)."""
        from .fast_decode import FastDecoder, SamplingConfig

        sampling = sampling or SamplingConfig()
        B = input_ids.shape[0]
        if stopping_criteria and B != 1:
            raise InvalidInput("llama.cpp decoding takes stopping_criteria for one prompt at a time, got a batch "
                               f"of {B}")

        def choose(logits):  # FastDecoder's chooser does not use its instance
            return FastDecoder._choose(None, logits, sampling, generator)

        mask = attention_mask.bool() if attention_mask is not None else torch.ones_like(input_ids, dtype=torch.bool)
        rows = []
        for b in range(B):
            prompt = input_ids[b][mask[b]].tolist()
            on_step = None
            if stopping_criteria:
                def on_step(out, prompt=prompt):
                    seen = torch.tensor([prompt + out])
                    return any(bool(torch.as_tensor(c(seen, None)).any()) for c in stopping_criteria)
            rows.append(self._row(prompt, max_new_tokens, set(stop_ids), blocked, choose, on_step))
        width = max(len(r) for r in rows)
        out = torch.full((B, width), pad_id, dtype=torch.long)
        for b, r in enumerate(rows):
            out[b, :len(r)] = torch.tensor(r, dtype=torch.long)
        return out

    def close(self) -> None:
        lib = _backend()
        if self._ctx is not None:
            lib.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            lib.llama_model_free(self._model)
            self._model = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass


def gguf_file(folder: Path, kind: str) -> Path:
    """The GGUF of a checkpoint folder for `kind`, written on first use (export, then quantize)."""
    from .gguf_export import export_gguf, quantize_gguf

    target = folder / "gguf" / f"model-{kind}.gguf"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(exist_ok=True)
    except OSError as e:
        raise InvalidInput(f"cannot write the GGUF next to {folder} ({e}); export it with "
                           "spiritlm.lm.gguf_export.export_gguf into a writable copy of the checkpoint") from e
    logger.info("exporting %s to %s (once)", folder, target)
    if kind in ("f32", "f16"):
        tmp = target.with_suffix(".part")
        export_gguf(folder, tmp, kind)
        tmp.rename(target)
        return target
    source = target.with_name("model-bf16.part.gguf")
    try:
        export_gguf(folder, source, "bf16")
        quantize_gguf(source, target.with_suffix(".part"), kind)
        target.with_suffix(".part").rename(target)
    finally:
        source.unlink(missing_ok=True)
    return target


def load_llamacpp(folder: Path, kind: str, threads: int | None = None) -> LlamaCppLM:
    from transformers import LlamaConfig

    if kind not in KINDS:
        raise InvalidInput(f"unknown llama.cpp kind {kind!r}; valid: {', '.join('llamacpp-' + k for k in KINDS)}")
    reason = available()
    if reason:
        raise InvalidInput(f"quantize='llamacpp-{kind}' needs llama.cpp: {reason}")
    return LlamaCppLM(gguf_file(folder, kind), LlamaConfig.from_pretrained(folder), threads, kv_f32=kind == "f32")
