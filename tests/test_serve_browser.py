"""The web page driven in headless Chromium (Debian's `chromium` + `chromium-driver`, through Selenium):
type a prompt and get text; upload a wav and get streamed audio that plays; see an API error's message."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from spiritlm.generation.pipeline import SpiritLM

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver "
                                 "(make system-deps installs them)"), pytest.mark.usefixtures("one_thread")]


def chrome(width: int = 1200, height: int = 1100):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--autoplay-policy=no-user-gesture-required", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)


def wait_for(driver, script: str, timeout: float = 60):
    end = time.time() + timeout
    while time.time() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}; error box: {driver.execute_script(ERROR)!r}")


ERROR = "return document.getElementById('error').hidden ? '' : document.getElementById('error').textContent"


def fill(driver, **values) -> None:
    for key, value in values.items():
        driver.execute_script("const e = document.getElementById(arguments[0]); e.value = arguments[1];", key, value)


@pytest.fixture(scope="module")
def page(tiny_small_dir):
    from conftest import FakeEncoder, FakeVocoder
    from spiritlm.serve import create_app
    from spiritlm.serve.run import BackgroundServer

    lm = SpiritLM.from_pretrained(tiny_small_dir, speech_encoder=FakeEncoder(), vocoder=FakeVocoder())
    with BackgroundServer(create_app(lm, "tiny-expressive")) as url:
        driver = chrome()
        try:
            driver.get(url + "/")
            yield driver
        finally:
            driver.quit()


def test_type_a_prompt_get_text(page):
    wait_for(page, "return document.getElementById('model').textContent.includes('tiny-expressive')")
    fill(page, text="the cat", modality="text", max_new_tokens="12")
    page.find_element("id", "go").click()
    status = wait_for(page, "const s = document.getElementById('status').textContent; "
                            "return s.includes('stopped') && s")
    answer = page.find_element("id", "answer").text
    assert answer.strip() and "new tokens" in status and page.execute_script(ERROR) == ""
    assert page.execute_script("return window.spirit.prompt.length") >= 3  # the prompt's timeline


def test_upload_a_wav_get_streamed_audio_that_plays(page, tmp_path):
    wav = tmp_path / "prompt.wav"
    sf.write(wav, (np.sin(np.arange(8000) / 5.0) * 0.3).astype(np.float32), 16000)
    page.execute_script("document.getElementById('file').hidden = false;")
    page.find_element("id", "file").send_keys(str(wav))
    wait_for(page, "return document.getElementById('speech-info').textContent.includes('prompt.wav')")
    fill(page, text="", modality="speech", max_new_tokens="60", seed="1")
    page.find_element("id", "go").click()
    wait_for(page, "return document.getElementById('status').textContent.includes('stopped')")
    chunks = page.execute_script("return window.spirit.chunks.length")
    assert chunks >= 1 and page.execute_script(ERROR) == ""
    # seconds of audio the AudioContext finished playing: more than the first chunk (5 [Hu] = 0.2 s), so
    # the later chunks were queued behind it and played too (the answer holds >= 10 units, 0.4 s)
    played = wait_for(page, "return window.spirit.played > 0.3 && window.spirit.played", timeout=30)
    assert played > 0.3
    assert page.find_element("id", "download").get_attribute("href").startswith("blob:")
    units = page.execute_script("return window.spirit.events.filter(e => e.stream === 'Hu').length")
    assert units >= 10


def test_an_error_shows_its_message(page):
    fill(page, text="the cat", modality="text", max_new_tokens="0")
    page.execute_script("document.getElementById('clear-speech').click()")
    page.find_element("id", "go").click()
    message = wait_for(page, ERROR)
    assert message == "400: 'max_new_tokens' must be between 1 and 4096, got 0"
