"""llama.cpp settings that need no llama.cpp build."""

import pytest


def test_extra_buffers_default_follows_the_cpu_and_the_environment(monkeypatch):
    from spiritlm.errors import InvalidInput
    from spiritlm.lm import llamacpp

    monkeypatch.delenv(llamacpp.EXTRA_BUFFERS_ENV, raising=False)
    monkeypatch.setattr(llamacpp, "cpu_flags", lambda: {"avx512f", "amx_tile", "amx_int8"})
    assert llamacpp.default_extra_buffers() is False  # llama.cpp 0.3.36 crashed in its AMX kernel
    monkeypatch.setattr(llamacpp, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert llamacpp.default_extra_buffers() is True
    monkeypatch.setenv(llamacpp.EXTRA_BUFFERS_ENV, "0")
    assert llamacpp.default_extra_buffers() is False
    monkeypatch.setenv(llamacpp.EXTRA_BUFFERS_ENV, "maybe")
    with pytest.raises(InvalidInput, match="SPIRITLM_LLAMACPP_EXTRA_BUFFERS='maybe'; valid: 1, 0"):
        llamacpp.default_extra_buffers()
