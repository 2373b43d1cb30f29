"""Write docs/serve-page.png: the page after a T->S request on the mini Expressive model, in headless Chromium.

    .venv/bin/python docs/serve_screenshot.py
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from spiritlm.generation.pipeline import SpiritLM
from spiritlm.serve import create_app
from spiritlm.serve.run import BackgroundServer


def main() -> None:
    import torch

    torch.set_num_threads(1)  # a shared machine: two spin-waiting threads are slower than one
    lm = SpiritLM.from_pretrained("spirit-lm-mini-expressive")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1150",
                 "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(flag)
    with BackgroundServer(create_app(lm, "spirit-lm-mini-expressive")) as url:
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
        try:  # a first request loads the speech side (vocoder), so the picture shows a warm server
            import httpx

            httpx.post(url + "/v1/generate", timeout=300, json={"inputs": [{"type": "text", "text": "Hello"}],
                                                               "output_modality": "speech", "max_new_tokens": 30})
            driver.get(url + "/")
            for key, value in {"text": "The cat sat on the", "modality": "speech", "max_new_tokens": "120",
                               "seed": "0"}.items():
                driver.execute_script("document.getElementById(arguments[0]).value = arguments[1]", key, value)
            driver.find_element("id", "go").click()
            for _ in range(600):
                if "stopped" in driver.find_element("id", "status").text:
                    break
                time.sleep(0.1)
            time.sleep(0.5)
            out = Path(__file__).with_name("serve-page.png")
            driver.save_screenshot(str(out))
            print(f"wrote {out}: {driver.find_element('id', 'status').text}")
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
