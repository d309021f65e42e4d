"""The interactive page in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

The page is written by the command a user runs (``symbackprop explain --html``), opened
from disk with every network request refused and recorded, and used as a reader would:
click a weight, read the product shown, step through the walk.  What it shows is checked
against the compiled kernel's gradient, and a screenshot is kept as an artefact
(``$SYMBACKPROP_TEST_ARTIFACTS``, default ``test-artifacts/`` in the checkout).

Without a browser the tests skip and say how to install one; ``.ci/run`` installs it and
sets ``SYMBACKPROP_REQUIRE_BROWSER=1``, so there they fail instead of skipping.
"""
from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import symbackprop
from symbackprop import Dense, Network
from symbackprop.cli import main
from symbackprop.explain import explain, teaching_params
from symbackprop.explain.notation import parse_number

pytest.importorskip("matplotlib")

#: the flags a root user's headless Chromium needs on a machine with no network (no sandbox as
#: root; no background connections, which a closed network refuses by the dozen)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP * ~NOTFOUND"]


def _missing(what: str) -> None:
    if os.environ.get("SYMBACKPROP_REQUIRE_BROWSER"):
        pytest.fail(f"{what} (SYMBACKPROP_REQUIRE_BROWSER is set)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed: pip install -e '.[test]'")
    executable = os.environ.get("SYMBACKPROP_CHROMIUM") or next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None)
    if executable is None:
        _missing("headless Chromium is not installed: sudo apt-get install chromium (as .ci/run does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_file(tmp_path_factory) -> Path:
    """The page of the README's 2-3-1 example, written by the command line."""
    path = tmp_path_factory.mktemp("page") / "backprop.html"
    assert main(["explain", "--sizes", "2,3,1", "--html", str(path)]) == 0
    return path


def artefact_dir() -> Path:
    folder = Path(os.environ.get("SYMBACKPROP_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, page_file):
    """The page opened offline: every request but the file itself is refused and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requests, problems = [], []

    def refuse(route):
        if route.request.url != page_file.as_uri():
            requests.append(route.request.url)
            return route.abort()
        return route.continue_()
    context.route("**/*", refuse)
    tab = context.new_page()
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
           else None)
    tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    tab.goto(page_file.as_uri())
    tab.wait_for_selector("#chain-value")
    yield tab
    assert requests == [], f"the page asked the network for {requests}"
    assert problems == [], problems
    context.close()


NET = Network([Dense(2, 3, "sigmoid"), Dense(3, 1, "sigmoid")], loss="mse")
X, Y = [1.0, 0.5], [1.0]  # the command line's default sample for this network


def kernel_gradients():
    params = teaching_params(NET, 0)
    _, grads = symbackprop.compile(NET, warm_up=False).loss_and_grad(np.array([X]), np.array([Y]), params)
    return grads


def factor_values(page) -> list[list[float]]:
    """Each path table of the chain-rule panel: the printed value of every factor, then the product."""
    tables = page.locator("#chain table").all()
    return [[parse_number(t) for t in table.locator("tbody tr td:last-child").all_inner_texts()] for table in tables]


def test_clicking_w1_01_shows_its_chain_rule_product_equal_to_the_kernels_gradient(page):
    page.click("button[data-param='W1_0_1']")
    assert page.get_attribute("#chain", "data-param") == "W1_0_1"
    shown = parse_number(page.inner_text("#chain-value"))
    kernel = kernel_gradients()["W1"][0, 1]
    assert round(shown, 4) == round(kernel, 4)
    # the product is written out: one path of five factors, which as printed multiply to the result
    # (to the rounding of four printed decimals: relative 1e-3 here)
    (path,) = factor_values(page)
    *factors, product = path
    assert len(factors) == 5  # ∂L/∂a² · ∂a²/∂z² · ∂z²/∂a¹ · ∂a¹/∂z¹ · ∂z¹/∂W¹
    assert math.prod(factors) == pytest.approx(kernel, rel=1e-3)
    assert round(product, 4) == round(kernel, 4)
    # lit: the path x₀ → a¹₁ → a²₀ → L and its three edges, written out here by hand; W¹₀,₁ marked
    lit = set(page.eval_on_selector_all("#svg-box .lit", "els => els.map(e => e.id)"))
    assert lit == {"path-W1_0_1", "path-W2_1_0", "path-loss0", "node-x0", "node-n1_1", "node-n2_0", "node-L"}
    assert page.eval_on_selector("#path-W1_0_1", "e => e.classList.contains('chosen')")
    # MathML is laid out by the browser as fractions (not shown as raw text)
    height = page.eval_on_selector("#chain math mfrac", "m => m.getBoundingClientRect().height")
    assert height > 15
    assert "piecewise" not in page.inner_text("#chain")
    shot = artefact_dir() / "page-W1_0_1.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_a_weight_on_the_second_input_multiplies_its_own_factors(page):
    """x₁ = 0.5, so ∂z¹₁/∂W¹₁,₁ is not 1: a wrong last factor would show."""
    page.click("button[data-param='W1_1_1']")
    (path,) = factor_values(page)
    assert path[4] == 0.5
    assert math.prod(path[:5]) == pytest.approx(kernel_gradients()["W1"][1, 1], rel=1e-3)


def test_every_weight_answers_a_click_on_its_edge_label_or_focus(page):
    grads = kernel_gradients()
    for name, (l, i, j) in {"W2_1_0": (2, 1, 0), "W1_1_2": (1, 1, 2)}.items():
        page.click(f"#label-{name}")
        assert page.get_attribute("#chain", "data-param") == name
        assert round(parse_number(page.inner_text("#chain-value")), 4) == round(grads[f"W{l}"][i, j], 4)
    page.focus("button[data-param='b1_2']")  # keyboard users: focusing a weight's button shows it
    assert page.get_attribute("#chain", "data-param") == "b1_2"
    assert round(parse_number(page.inner_text("#chain-value")), 4) == round(grads["b1"][2], 4)


def test_the_step_control_walks_forward_loss_deltas_and_update(page):
    titles = [page.inner_text("#step-title")]
    assert page.is_disabled("#prev")
    for _ in range(8):
        if not page.is_disabled("#next"):
            page.click("#next")
        titles.append(page.inner_text("#step-title"))
    assert titles[:6] == ["Forward pass: layer 1 (sigmoid)", "Forward pass: layer 2 (sigmoid)", "The loss",
                          "Backward pass: δ of layer 2", "Backward pass: δ of layer 1",
                          "Update: w ← w − η·∂L/∂w, η = 0.1000"]
    assert titles[6:] == [titles[5]] * 3  # the last step stays
    assert page.inner_text("#step-count") == "6 / 6" and page.is_disabled("#next")
    page.click("#prev")
    page.click("#prev")
    assert page.inner_text("#step-title") == "Backward pass: δ of layer 2"
    lit = set(page.eval_on_selector_all("#svg-box .lit", "els => els.map(e => e.id)"))
    assert lit == {"node-n2_0", "path-loss0"}  # δ² comes from the loss; δ¹ from δ² through W²
    page.click("#next")
    lit = set(page.eval_on_selector_all("#svg-box .lit", "els => els.map(e => e.id)"))
    assert lit == {"node-n1_0", "node-n1_1", "node-n1_2", "path-W2_0_0", "path-W2_1_0", "path-W2_2_0"}
    page.click("#prev")
    assert page.is_disabled("#prev") is False and page.get_attribute("#steps", "class") == "active"
    grads = kernel_gradients()
    assert f"{grads['b2'][0]:.4f}".replace("-", "−") in page.inner_text("#step-body")  # δ² = ∂L/∂b²


def test_a_relu_softmax_page_with_l2_writes_every_path_and_the_penalty(browser, tmp_path):
    """Two paths (the softmax couples both outputs), ReLU's derivative as an Iverson bracket, and
    the L2 penalty's own term in the sum: the page's sum must equal the kernel's gradient."""
    path = tmp_path / "relu.html"
    argv = ["explain", "--sizes", "2,3,2", "--activation", "relu", "--loss", "cce", "--l2", "0.01",
            "--param", "W2[1,0]", "--html", str(path)]
    assert main(argv) == 0
    net = Network([Dense(2, 3, "relu"), Dense(3, 2, "softmax")], loss="cce", l2=0.01)
    params = teaching_params(net, 0)
    _, grads = symbackprop.compile(net, warm_up=False).loss_and_grad(np.array([[1.0, 0.5]]), np.array([[1.0, 0.0]]),
                                                                      params)
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if route.request.url == path.as_uri() else route.abort())
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(path.as_uri())
    tab.click("button[data-param='W2_1_0']")
    text = tab.inner_text("#chain")
    assert "piecewise" not in text and "True" not in text
    products = [p[-1] for p in factor_values(tab)]
    assert len(products) == 2
    penalty = 0.01 * params["W2"][1, 0]
    assert sum(products) + penalty == pytest.approx(grads["W2"][1, 0], abs=2e-4)
    assert round(parse_number(tab.inner_text("#chain-value")), 4) == round(grads["W2"][1, 0], 4)
    assert "regularisation penalty" in text
    assert errors == []
    context.close()
