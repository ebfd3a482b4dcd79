"""The explorer page as a student uses it, in a real headless Chromium: it opens on the forward
pass, buttons and arrow keys move through the frames, the last frame shows tg.grad's numbers,
the quiz marks a right and a wrong answer, two players share a page (as in a notebook), the
console stays clean and nothing is fetched from the network.

Uses Debian's chromium and chromium-driver (CI installs them). Nothing is skipped: when they
are missing these tests fail and say what to install. Selenium Manager never downloads
anything (the driver's path is given, and SE_OFFLINE is set).
"""
import os
import re
import shutil
import tempfile

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp import functional as F
from helpers import seed003

CHROMIUM = os.environ.get("TG_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TG_CHROMEDRIVER", "/usr/bin/chromedriver")
NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")


def _found(path, name):
    return path if os.path.exists(path) else shutil.which(name)


@pytest.fixture(scope="module")
def browser():
    chromium, driver_path = _found(CHROMIUM, "chromium"), _found(CHROMEDRIVER, "chromedriver")
    if not chromium or not driver_path:
        pytest.fail("the explorer's browser tests need Chromium and its driver: apt-get install "
                    f"chromium chromium-driver (looked for {CHROMIUM} and {CHROMEDRIVER}; set "
                    "TG_CHROMIUM / TG_CHROMEDRIVER to use others)", pytrace=False)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the explorer's browser tests need selenium: pip install -e '.[test]'",
                    pytrace=False)
    saved = os.environ.get("SE_OFFLINE")
    os.environ["SE_OFFLINE"] = "true"            # Selenium Manager must not download a thing
    profile = tempfile.mkdtemp(prefix="tg-chromium-")
    options = Options()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", f"--user-data-dir={profile}", "--window-size=1280,1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        if saved is None:
            os.environ.pop("SE_OFFLINE", None)
        else:
            os.environ["SE_OFFLINE"] = saved


def open_page(driver, path):
    driver.get_log("browser")                      # start from a clean console
    driver.get("file://" + str(path))
    assert driver.execute_script("return document.readyState") == "complete"


def clean(driver):
    """No console errors or warnings, and not a single resource fetched."""
    log = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert log == [], log
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function(e){return e.name;})")
    assert fetched == [], fetched


def frame(driver, player="div.tgx"):
    return int(driver.find_element("css selector", player).get_attribute("data-frame"))


def node_lines(driver, node, player="div.tgx"):
    """The lines of text a value node shows in the frame on screen."""
    return driver.execute_script(
        "var g=arguments[0].querySelector('.tgx-frame g.node[id=\"'+arguments[1]+'\"]');"
        "return g?Array.from(g.querySelectorAll('text')).map(function(t){return t.textContent;}):null;",
        driver.find_element("css selector", player), node)


def shown_grads(driver, names, player="div.tgx"):
    """name -> the gradient its node shows (numbers after 'grad', or the total after '=')."""
    out = {}
    for k in range(40):
        lines = node_lines(driver, f"v{k}", player)
        if lines is None:
            continue
        name = lines[0].split("  ")[0].replace("\u00a0", " ").split(" (")[0].strip()
        if name not in names:
            continue
        text = " ".join(lines[lines.index(next(s for s in lines if s.startswith("grad"))):])
        if text.startswith("grad ?"):
            out[name] = None
            continue
        text = text.rsplit("=", 1)[1] if "=" in text else text[4:]
        out[name] = np.array([float(v) for v in NUMBER.findall(text)])
    return out


def press(driver, key, target=None):
    from selenium.webdriver.common.action_chains import ActionChains
    if target is not None:
        target.send_keys(key)
    else:
        ActionChains(driver).send_keys(key).perform()


# ---------------------------------------------------------------- stepping through
def test_player_opens_on_the_forward_pass_and_steps_with_buttons_and_keys(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys
    *_, f = seed003()
    open_page(browser, viz.explore(f).save(tmp_path / "xyz.html"))
    d = browser
    assert frame(d) == 0
    status = d.find_element("css selector", ".tgx-status")
    assert status.text.startswith("Forward pass")
    assert shown_grads(d, {"x", "y", "z", "q", "f"}) == dict.fromkeys("xyzqf")   # no gradients
    assert "Forward pass" in d.find_element("css selector", ".tgx-frame svg").text
    press(d, Keys.ARROW_RIGHT)                      # the page has the focus when it opens
    assert frame(d) == 1 and "q × z" in status.text
    press(d, Keys.ARROW_RIGHT)
    assert frame(d) == 2
    press(d, Keys.ARROW_RIGHT)                      # stays on the last frame
    assert frame(d) == 2
    press(d, Keys.ARROW_LEFT)
    assert frame(d) == 1
    d.find_element("css selector", "[data-act=prev]").click()
    assert frame(d) == 0
    d.find_element("css selector", "[data-act=next]").click()
    assert frame(d) == 1
    d.find_element("css selector", "[data-act=last]").click()
    assert frame(d) == 2
    press(d, Keys.HOME)
    assert frame(d) == 0
    d.execute_script("var s=arguments[0]; s.value=2; s.dispatchEvent(new Event('input'));",
                     d.find_element("css selector", "input[type=range]"))
    assert frame(d) == 2
    clean(d)


def test_play_runs_to_the_end(browser, tmp_path):
    from selenium.webdriver.support.ui import WebDriverWait
    *_, f = seed003()
    open_page(browser, viz.explore(f, seconds_per_frame=0.05).save(tmp_path / "play.html"))
    browser.find_element("css selector", "[data-act=play]").click()
    WebDriverWait(browser, 5).until(lambda d: frame(d) == 2)
    assert "play" in browser.find_element("css selector", "[data-act=play]").text
    clean(browser)


def test_last_frame_shows_the_gradients_tg_grad_gives(browser, tmp_path):
    x, y, z, q, f = seed003()
    open_page(browser, viz.explore(f).save(tmp_path / "xyz.html"))
    browser.find_element("css selector", "[data-act=last]").click()
    shown = shown_grads(browser, {"x", "y", "z", "q", "f"})
    true = tg.grad(f, [x, y, z, q, f], retain_graph=True)
    for name, g in zip("xyzqf", true):
        np.testing.assert_allclose(shown[name], g.numpy().ravel(), rtol=1e-3)
    assert {k: float(v[0]) for k, v in shown.items()} == {"x": -4, "y": -4, "z": 3, "q": -4, "f": 1}
    clean(browser)


def test_mlp_last_frame_matches_tg_grad(browser, tmp_path):
    model = nn.MLP([2, 3, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    loss = F.binary_cross_entropy(model(tg.Tensor([[0.3, -0.8]], label="x")), np.array([[1.0]]))
    loss.label = "L"
    open_page(browser, viz.explore(loss).save(tmp_path / "mlp.html"))
    browser.find_element("css selector", "[data-act=last]").click()
    names = dict(model.named_parameters())
    shown = shown_grads(browser, set(names))
    assert set(shown) == set(names)
    for name, p in names.items():
        (g,) = tg.grad(loss, [p], retain_graph=True)
        np.testing.assert_allclose(shown[name], g.numpy().ravel(), rtol=1e-3, atol=1e-12)
    clean(browser)


# ---------------------------------------------------------------- the quiz
def test_quiz_marks_a_right_and_a_wrong_answer(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys
    *_, f = seed003()
    open_page(browser, viz.explore(f, quiz=True).save(tmp_path / "quiz.html"))
    d = browser
    d.find_element("css selector", "[data-act=last]").click()
    assert shown_grads(d, {"x", "y", "z", "q", "f"}) == dict.fromkeys("xyzqf")   # hidden
    boxes = {b.get_attribute("aria-label"): b for b in d.find_elements("css selector", ".tgx-quiz input")}
    assert list(boxes) == ["∂f/∂f", "∂f/∂q", "∂f/∂z", "∂f/∂x", "∂f/∂y"]
    boxes["∂f/∂x"].send_keys("-4.001" + Keys.ENTER)        # right to a relative error of 2.5e-4
    boxes["∂f/∂z"].send_keys("-3" + Keys.ENTER)            # wrong sign
    boxes["∂f/∂y"].send_keys("-4.01" + Keys.ENTER)         # 2.5e-3 off: wrong
    assert "right" in boxes["∂f/∂x"].get_attribute("class")
    assert "wrong" in boxes["∂f/∂z"].get_attribute("class")
    assert "wrong" in boxes["∂f/∂y"].get_attribute("class")
    marks = [m.text for m in d.find_elements("css selector", ".tgx-quiz .tgx-mark")]
    assert marks == ["", "", "✗ wrong", "✓ right", "✗ wrong"]
    assert d.find_element("css selector", ".tgx-score").text == "1 of 5 right, 2 wrong"
    fills = d.execute_script(
        "var out={};document.querySelectorAll('.tgx-frame g.node').forEach(function(g){"
        "var p=g.querySelector('polygon');out[g.id]=p&&p.getAttribute('fill');});return out;")
    ids = {name: k for k in fills for name in "xz" if (node_lines(d, k) or [""])[0] == name}
    assert fills[ids["x"]] == "#86efac" and fills[ids["z"]] == "#fca5a5"   # green, red
    press(d, Keys.ARROW_LEFT, boxes["∂f/∂x"])      # typing in a box does not move the frames
    assert frame(d) == 2
    clean(d)


# ---------------------------------------------------------------- as in a notebook
def test_two_players_on_one_page_work_independently(browser, tmp_path):
    """Jupyter shows `_repr_html_` fragments side by side: each player keeps to itself, and
    arrow keys move the player that has the focus."""
    from selenium.webdriver.common.keys import Keys
    *_, f = seed003()
    a = tg.Tensor(3.0, requires_grad=True, label="a")
    b = a * a
    b.label = "b"
    page = tmp_path / "notebook.html"
    page.write_text("<!doctype html><meta charset='utf-8'><body>"
                    + viz.explore(f)._repr_html_() + viz.explore(b, quiz=True)._repr_html_()
                    + "</body>", encoding="utf-8")
    open_page(browser, page)
    first, second = browser.find_elements("css selector", "div.tgx")
    assert first.get_attribute("id") != second.get_attribute("id")
    second.click()
    press(browser, Keys.ARROW_RIGHT)
    assert (first.get_attribute("data-frame"), second.get_attribute("data-frame")) == ("0", "1")
    first.find_element("css selector", "[data-act=last]").click()
    assert (first.get_attribute("data-frame"), second.get_attribute("data-frame")) == ("2", "1")
    box = second.find_element("css selector", ".tgx-quiz input[aria-label='∂b/∂a']")
    box.send_keys("6" + Keys.ENTER)
    assert "right" in box.get_attribute("class")
    clean(browser)
