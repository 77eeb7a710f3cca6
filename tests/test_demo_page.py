"""The demo page end to end in a real headless browser: upload a clip, read the scores off the page.

Needs `requirements-demo.txt` (gradio, selenium) and Debian's `chromium` and `chromium-driver`; `.ci/run` installs
them and sets REQUIRE_BROWSER_TEST=1, under which a missing piece fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time

import pytest

import predict

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _require_browser() -> None:
    missing = []
    for module in ("gradio", "selenium"):
        try:
            __import__(module)
        except ImportError:
            missing.append(f"{module} (pip install -r requirements-demo.txt)")
    if not CHROMIUM or not CHROMEDRIVER:
        missing.append("chromium and chromedriver (apt-get install chromium chromium-driver)")
    if missing:
        message = "the browser test needs " + ", ".join(missing)
        if os.environ.get("REQUIRE_BROWSER_TEST"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_page_shows_the_scores_predict_gives(distilled_student, corpus_dir, tmp_path, capsys):
    _require_browser()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    import app

    clip = sorted(corpus_dir.glob("1003_*ANG*.wav"))[0]
    assert predict.main([str(distilled_student[0]), str(clip), "--json"]) == 0
    expected = __import__("json").loads(capsys.readouterr().out.splitlines()[0])

    port = _free_port()
    page = app.Demo(str(distilled_student[0])).page()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 60)
        upload = wait.until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#audio input[type=file]"))
        )
        upload.send_keys(str(clip))
        wait.until(
            expected_conditions.presence_of_element_located(
                (By.CSS_SELECTOR, "#audio audio, #audio .waveform-container, #audio button")
            )
        )
        time.sleep(1)  # the upload finishes before the click is handled
        browser.find_element(By.CSS_SELECTOR, "#classify").click()
        wait.until(lambda driver: "anger:" in driver.find_element(By.CSS_SELECTOR, "#scores").text)
        text = browser.find_element(By.CSS_SELECTOR, "#scores").text
        label_text = browser.find_element(By.CSS_SELECTOR, "#label").text
        if os.environ.get("DEMO_SCREENSHOT"):
            browser.save_screenshot(os.environ["DEMO_SCREENSHOT"])
    finally:
        browser.quit()
        page.close()

    shown = {name: float(value) for name, value in re.findall(r"(\w+): ([0-9.]+)", text)}
    assert set(shown) == set(expected["scores"])
    for emotion, probability in expected["scores"].items():
        assert shown[emotion] == pytest.approx(probability, abs=1e-3)
    assert expected["label"] in label_text  # the top class is on the Label component too


def test_demo_timeline_of_a_long_clip(distilled_student, corpus_dir, tmp_path):
    pytest.importorskip("gradio")
    import numpy as np
    import soundfile as sf

    import app
    from data.audio import SAMPLING_RATE, load_audio

    clips = sorted(corpus_dir.glob("1004_*.wav"))[:3]
    long = tmp_path / "long.wav"
    sf.write(long, np.concatenate([load_audio(clip) for clip in clips]), SAMPLING_RATE)
    demo = app.Demo(str(distilled_student[0]))
    scores, bars, timeline, summary = demo.analyse(str(long))
    frame = timeline["value"]
    assert timeline["visible"] and set(frame["emotion"]) == set(scores)
    times = sorted(set(frame["time_s"]))
    assert times[0] == pytest.approx(0.5) and np.allclose(np.diff(times)[:-1], 0.5)  # one point per hop of 0.5 s
    assert frame.groupby("time_s")["probability"].sum().round(4).eq(1).all()
    assert list(bars["probability"]) == pytest.approx(list(scores.values()))
    short = tmp_path / "short.wav"
    sf.write(short, load_audio(long)[: int(1.5 * SAMPLING_RATE)], SAMPLING_RATE)
    assert not demo.analyse(str(short))[2]["visible"]  # shorter than two windows: no timeline
