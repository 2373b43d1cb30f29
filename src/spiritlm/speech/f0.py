"""F0 (fundamental frequency) extraction at 200 frames per second, the input of the pitch tokenizer.

Spirit LM's pitch stream starts from a dense F0 contour sampled every 80 samples at 16 kHz (5 ms).
Two extractors give it:

* **FCPE** (`torchfcpe`, weights bundled in the package; the official default). The model itself
  runs at hop 160 (100 Hz); its output is made dense the official way: frames under 50 Hz are
  unvoiced, unvoiced gaps are filled by linear interpolation between voiced neighbours (edges take
  the nearest voiced value), values are clamped to 1100 Hz, and both F0 and the voicing flag are
  stretched to ``len(wav) // 80 + 1`` frames by nearest-neighbour interpolation.
* **pYAAPT** (`amfm-decompy`; what the paper trained the VQ-VAE with): peak-normalised audio
  (x / max|x| * 0.95), trimmed to a multiple of the hop, padded by 10 ms each side, 20 ms frames
  every 5 ms; zero (unvoiced) frames linearly interpolated from the voiced ones. It gives
  ``len(wav) // 80`` frames, one fewer than FCPE; both give the same number of pitch codes (÷16)
  except when ``len(wav) // 80 + 1`` is a multiple of 16.

Both return an `F0Contour`: ``f0`` in Hz (interpolated through unvoiced frames unless
``interpolate=False``) and ``vuv`` (1.0 voiced, 0.0 unvoiced), each ``[T]`` float32::

    >>> contour = FcpeExtractor().extract(wav)      # wav: 1-D float32 at 16 kHz, 9.135 s
    >>> contour.f0.shape, contour.vuv.shape          # 146160 // 80 + 1 frames
    ((1828,), (1828,))

Inputs the official code crashes on (issue #17: no voiced frame at all, e.g. digital silence,
noise, or a 1-sample chunk) give here ``f0 = 0`` and ``vuv = 0`` on every frame, the same
convention as an unvoiced frame without interpolation. Empty and non-finite input are rejected by
`spiritlm.audio.check_samples`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import logging
import sys
import types
import warnings
from dataclasses import dataclass

import numpy as np

from ..audio import SAMPLE_RATE, check_samples

logger = logging.getLogger(__name__)

HOP_LENGTH = 80
"""Samples per F0 frame at 16 kHz (200 frames per second), the official value."""
F0_METHODS = ("fcpe", "pyaapt")


@dataclass(frozen=True, eq=False)
class F0Contour:
    """A dense F0 contour: one value every `hop_length` samples."""

    f0: np.ndarray  # [T] Hz; float32 (FCPE) or float64 (pYAAPT, as amfm-decompy computes it)
    vuv: np.ndarray  # [T] float32, 1 voiced / 0 unvoiced

    def __len__(self) -> int:
        return len(self.f0)

    @property
    def voiced_fraction(self) -> float:
        return float(self.vuv.mean()) if len(self.vuv) else 0.0


def as_waveform(wav, what: str = "audio") -> np.ndarray:
    """A 1-D float waveform -> float32, or a clear error (integer PCM, several channels, NaN, empty).

    `spiritlm.audio.load_audio` turns files, integer PCM and multi-channel audio into this form."""
    arr = np.asarray(wav)
    if arr.dtype.kind != "f":
        raise ValueError(f"{what} must hold float samples in [-1, 1], got dtype {arr.dtype}; "
                         "spiritlm.audio.load_audio converts integer PCM")
    arr = (arr if arr.ndim == 1 else np.atleast_1d(np.squeeze(arr))).astype(np.float32, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D mono at 16 kHz, got shape {arr.shape}; "
                         "spiritlm.audio.load_audio mixes or picks channels")
    return check_samples(arr, what)


@contextlib.contextmanager
def _torchaudio_stand_in():
    """torchfcpe imports `torchaudio.transforms.Resample` at import time, and only calls it for
    input rates other than 16 kHz, which we never pass. The real torchaudio does not load beside
    torch 2.13, so while torchfcpe is imported a stand-in whose Resample refuses is registered; it is
    removed afterwards so that nothing else (transformers checks for torchaudio) ever sees it."""
    usable = False
    if "torchaudio" in sys.modules or importlib.util.find_spec("torchaudio") is not None:
        try:
            importlib.import_module("torchaudio.transforms")
            usable = True
        except Exception:  # an ABI error from a broken install
            sys.modules.pop("torchaudio", None)
            sys.modules.pop("torchaudio.transforms", None)
    if usable:
        yield
        return

    class Resample:
        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("torchaudio is not available; spiritlm feeds FCPE 16 kHz audio only")

    stub = types.ModuleType("torchaudio")
    transforms = types.ModuleType("torchaudio.transforms")
    transforms.Resample = Resample
    stub.transforms = transforms
    sys.modules.update({"torchaudio": stub, "torchaudio.transforms": transforms})
    try:
        yield
    finally:
        for name, mod in (("torchaudio", stub), ("torchaudio.transforms", transforms)):
            if sys.modules.get(name) is mod:
                del sys.modules[name]


class FcpeExtractor:
    """FCPE with the official Spirit call parameters (see the module docstring)."""

    method = "fcpe"

    def __init__(self, hop_length: int = HOP_LENGTH, interpolate: bool = True, threshold: float = 0.05,
                 f0_min: float = 50.0, f0_max: float = 1100.0, device: str = "cpu") -> None:
        self.hop_length = hop_length
        self.interpolate = interpolate
        self.threshold = threshold
        self.f0_min = f0_min
        self.f0_max = f0_max
        self.device = device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            with _torchaudio_stand_in(), contextlib.redirect_stdout(io.StringIO()):  # torchfcpe prints banners
                from torchfcpe import spawn_bundled_infer_model
                from torchfcpe.torch_interp import batch_interp_with_replacement_detach

                self._interp = batch_interp_with_replacement_detach
                self._model = spawn_bundled_infer_model(device=self.device)
        return self._model

    def extract(self, wav) -> F0Contour:
        import torch
        import torch.nn.functional as F

        model = self.model
        wav = as_waveform(wav, "audio for F0 extraction")
        n_frames = len(wav) // self.hop_length + 1
        x = torch.from_numpy(wav)[None, :, None]  # [1, T, 1]
        with torch.inference_mode():
            f0 = model(x, sr=SAMPLE_RATE, decoder_mode="local_argmax", threshold=self.threshold)  # [1, N, 1]
            uv = (f0 < self.f0_min).to(f0.dtype)
            if bool(uv.all()):  # the official code crashes here (issue #17)
                logger.debug("no voiced frame in %d samples: f0 = 0", len(wav))
                f0 = torch.zeros_like(f0)
            elif self.interpolate:
                f0 = self._interp(uv[..., 0].bool(), f0[..., 0])[..., None]
            f0 = f0.clamp(max=self.f0_max)
            f0 = F.interpolate(f0.transpose(1, 2), size=n_frames, mode="nearest")[0, 0]  # [T]
            uv = F.interpolate(uv.transpose(1, 2), size=n_frames, mode="nearest")[0, 0]  # [T]
        return F0Contour(f0=f0.numpy().astype(np.float32), vuv=(1.0 - uv).numpy().astype(np.float32))


def interpolate_unvoiced(f0: np.ndarray) -> np.ndarray:
    """Fill zero (unvoiced) frames linearly between voiced ones; edges take the nearest voiced value.

    Fewer than two voiced frames: returned unchanged (the official rule)."""
    t = np.arange(len(f0))
    voiced = f0 != 0
    if voiced.sum() <= 1:
        return f0
    out = np.interp(t, t[voiced], f0[voiced])
    return out.astype(f0.dtype)


class YaaptExtractor:
    """pYAAPT (amfm-decompy) with the official Spirit parameters."""

    method = "pyaapt"

    def __init__(self, hop_length: int = HOP_LENGTH, interpolate: bool = True, frame_length_ms: float = 20.0) -> None:
        self.hop_length = hop_length
        self.interpolate = interpolate
        self.frame_length_ms = frame_length_ms

    def extract(self, wav) -> F0Contour:
        import amfm_decompy.basic_tools as basic
        import amfm_decompy.pYAAPT as pYAAPT

        wav = as_waveform(wav, "audio for F0 extraction")
        wav = wav[: len(wav) // self.hop_length * self.hop_length]
        peak = float(np.max(np.abs(wav))) if len(wav) else 0.0
        if peak == 0.0:  # too short for one hop, or digital silence: no voiced frame
            n_frames = self._frame_count(len(wav))
            zeros = np.zeros(n_frames, dtype=np.float32)
            return F0Contour(f0=zeros, vuv=zeros.copy())
        # peak normalisation divides in float64 and stores float32, as librosa.util.normalize does
        audio = (wav / np.float64(peak)).astype(np.float32) * np.float32(0.95)
        if self.hop_length == 80:
            pad = int(self.frame_length_ms / 1000 * SAMPLE_RATE) // 2
            audio = np.pad(audio, (pad, pad))
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):  # pYAAPT's own numeric chatter
                warnings.simplefilter("ignore", (RuntimeWarning, UserWarning))
                pitch = pYAAPT.yaapt(basic.SignalObj(audio, SAMPLE_RATE), frame_length=self.frame_length_ms,
                                     frame_space=self.hop_length / SAMPLE_RATE * 1000, nccf_thresh1=0.25,
                                     tda_frame_length=25.0)
        except (IndexError, ValueError) as e:  # pYAAPT fails on very short or odd inputs
            logger.warning("pYAAPT failed on %d samples (%s): returning an unvoiced contour", len(wav), e)
            zeros = np.zeros(self._frame_count(len(wav)), dtype=np.float32)
            return F0Contour(f0=zeros, vuv=zeros.copy())
        f0 = np.array(pitch.samp_values, dtype=np.float64)
        if self.interpolate:
            f0 = interpolate_unvoiced(f0)
        return F0Contour(f0=f0, vuv=np.asarray(pitch.vuv, dtype=np.float32))

    def _frame_count(self, n_samples: int) -> int:
        return n_samples // self.hop_length  # what pYAAPT returns for the padded signal


def load_f0_extractor(method: str = "fcpe", hop_length: int = HOP_LENGTH, interpolate: bool = True,
                      device: str = "cpu") -> FcpeExtractor | YaaptExtractor:
    """An F0 extractor by name: "fcpe" (official default) or "pyaapt"."""
    if method == "fcpe":
        return FcpeExtractor(hop_length=hop_length, interpolate=interpolate, device=device)
    if method == "pyaapt":
        return YaaptExtractor(hop_length=hop_length, interpolate=interpolate)
    raise ValueError(f"unknown F0 method {method!r}; valid: {', '.join(F0_METHODS)}")
