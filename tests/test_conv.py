"""Convolution and pooling: derived gradients against PyTorch and finite differences.

Each drawn network chains a convolution, a pooling layer, a second convolution, a second
pooling layer, Flatten and a dense softmax output, with random image sizes, channels,
kernel sizes (square or not), strides and paddings (``valid``, ``same``, numbers), so one
compile checks the kernel, bias and input gradients of four image layers at once.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import symbackprop
from symbackprop import (ArchitectureError, AvgPool2D, Conv2D, DataError, Dense, Flatten, MaxPool2D, Network,
                         SymbackpropError)
from symbackprop.model.notation import InRange

from .conftest import random_problem
from .reference import finite_difference_grad, torch_loss_and_grad


def draw_network(seed: int) -> Network:
    """A random conv → pool → conv → pool → Flatten → Dense network whose windows fit."""
    rng = np.random.default_rng(seed)
    while True:
        size = tuple(int(v) for v in rng.integers(5, 11, size=2))
        channels = [1 + int(rng.integers(0, 3)) for _ in range(3)]
        layers: list = []
        for conv in range(2):
            kernel = tuple(int(v) for v in rng.integers(1, 4, size=2)) if rng.random() < 0.3 else int(rng.integers(1, 4))
            padding = rng.choice(["valid", "same", "number"])
            k = kernel if isinstance(kernel, int) else min(kernel)
            layers.append(Conv2D(channels[conv], channels[conv + 1], kernel, stride=int(rng.choice([1, 1, 2])),
                                 padding=int(rng.integers(0, k // 2 + 1)) if padding == "number" else str(padding),
                                 activation=str(rng.choice(["tanh", "relu", "sigmoid", "identity"]))))
            window = int(rng.integers(1, 4))
            pool = MaxPool2D if rng.random() < 0.5 else AvgPool2D
            layers.append(pool(window, stride=int(rng.integers(1, 3)), padding=int(rng.integers(0, window // 2 + 1))))
        shape = (channels[0], *size)
        try:
            for k, layer in enumerate(layers, start=1):
                shape = layer.output_shape(shape, f"layer {k}")
        except ArchitectureError:
            continue  # a window that does not fit: draw again
        flat = int(np.prod(shape))
        if flat < 4:
            continue  # too little left to check
        return Network(layers + [Flatten(), Dense(flat, 3, "softmax")], loss="cce", input_shape=(channels[0], *size),
                       l2=float(rng.choice([0.0, 0.05])))


def _relative(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


def check_against_torch(net: Network, batch: int = 4, seed: int = 0) -> None:
    compiled = symbackprop.compile(net, warm_up=False)
    X, Y, params = random_problem(net, batch, seed)
    loss, grads = compiled.loss_and_grad(X, Y, params)
    ref_loss, ref_grads = torch_loss_and_grad(net, X, Y, params)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for name in params:
        assert _relative(grads[name], ref_grads[name]) < 1e-9, f"{name} of {net}"


@pytest.mark.parametrize("seed", [0, 2])
def test_drawn_image_networks_match_pytorch(seed):
    check_against_torch(draw_network(seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, *range(3, 15)])
def test_more_drawn_image_networks_match_pytorch(seed):
    check_against_torch(draw_network(seed))


SMOOTH = Network([Conv2D(2, 3, (3, 2), stride=2, padding="same", activation="tanh"), AvgPool2D(2, stride=1, padding=1),
                  Conv2D(3, 2, 2, padding=1, activation="sigmoid"), MaxPool2D(2), Flatten(),
                  Dense(12, 2, "softmax")], loss="cce", input_shape=(2, 7, 6))


def test_every_gradient_entry_matches_central_differences():
    compiled = symbackprop.compile(SMOOTH, warm_up=False)
    X, Y, params = random_problem(SMOOTH, 3, seed=5)
    _, grads = compiled.loss_and_grad(X, Y, params)
    numeric = finite_difference_grad(lambda: compiled.loss(X, Y, params), params)
    assert _relative(grads.flat, numeric) < 1e-6


def test_images_may_come_flat_or_shaped():
    compiled = symbackprop.compile(SMOOTH, warm_up=False)
    X, Y, params = random_problem(SMOOTH, 3, seed=1)
    flat = compiled.forward(X, params)
    shaped = compiled.forward(X.reshape(3, 2, 7, 6), params)
    assert np.array_equal(flat, shaped)
    with pytest.raises(DataError, match=r"images of shape \(2, 6, 7\) but the network expects \(2, 7, 6\)"):
        compiled.forward(X.reshape(3, 2, 6, 7), params)


# -- the derived formulas have the textbook forms ---------------------------------------------

def _rule(net, layer):
    return symbackprop.derivation(net).layers[layer - 1]


def test_kernel_gradient_is_the_correlation_of_the_input_with_delta():
    net = Network([Conv2D(1, 2, 3, activation="relu"), Flatten(), Dense(2 * 4 * 4, 2, "softmax")], loss="cce",
                  input_shape=(1, 6, 6))
    n, o, c, y, x, p, q = sp.symbols("n o c y x p q", integer=True, nonnegative=True)
    a0, d1 = sp.IndexedBase("a0"), sp.IndexedBase("d1")
    B, rows1, cols1 = (sp.Symbol(s, integer=True, positive=True) for s in ("B", "rows1", "cols1"))
    expected = sp.Sum(a0[n, c, y + p, x + q] * d1[n, o, y, x], (n, 0, B - 1), (y, 0, rows1 - 1), (x, 0, cols1 - 1))
    assert _rule(net, 1).grad_W.expr == expected
    assert _rule(net, 1).grad_b.expr == sp.Sum(d1[n, o, y, x], (n, 0, B - 1), (y, 0, rows1 - 1), (x, 0, cols1 - 1))


def test_input_gradient_is_the_full_convolution_of_delta_with_the_flipped_kernel():
    net = Network([Conv2D(1, 2, 3, activation="tanh"), Conv2D(2, 2, 3, activation="tanh"), Flatten(),
                   Dense(2 * 2 * 2, 2, "softmax")], loss="cce", input_shape=(1, 6, 6))
    n, o, c, y, x, u, v = sp.symbols("n o c y x u v", integer=True, nonnegative=True)
    W2, d2 = sp.IndexedBase("W2", real=True), sp.IndexedBase("d2")
    C2, rows2, cols2 = (sp.Symbol(s, integer=True, positive=True) for s in ("C2", "rows2", "cols2"))
    # g1[n, c, u, v] = Σ_o Σ_y Σ_x d2[n, o, y, x] · W2[o, c, u - y, v - x], the kernel index inside the kernel:
    # as y runs up, the kernel runs down -- a convolution with the flipped kernel, zero outside (full)
    expected = sp.Sum(InRange(u - y, 0, 2) * InRange(v - x, 0, 2) * W2[o, c, u - y, v - x] * d2[n, o, y, x],
                      (o, 0, C2 - 1), (y, 0, rows2 - 1), (x, 0, cols2 - 1))
    assert _rule(net, 2).grad_input.expr == expected


def test_max_pooling_routes_the_error_to_each_window_winner():
    net = Network([MaxPool2D(2), Flatten(), Dense(4, 2, "softmax")], loss="cce", input_shape=(1, 4, 4))
    text = str(symbackprop.derivation(net))
    assert "am1[n, c, y, x] = argmax_(p, q) a0[n, c, p + 2*y, q + 2*x]" in text
    assert "KroneckerDelta(2*p + q, am1[n, c, y, x])*a0[n, c, p + 2*y, q + 2*x]" in text


def test_image_derivation_does_not_grow_with_channels():
    def rules(channels):
        net = Network([Conv2D(1, channels, 3, padding="same", activation="relu"), MaxPool2D(2), Flatten(),
                       Dense(channels * 16, 10, "softmax")], loss="cce", input_shape=(1, 8, 8))
        return [str(s) for s in symbackprop.derivation(net).statements()]
    assert rules(2) == rules(64)


# -- building image networks: errors that name the problem ---------------------------------------

@pytest.mark.parametrize("build,message", [
    (lambda: Network([Conv2D(1, 4, 3), Dense(10, 2)], input_shape=(1, 8, 8)), "put a Flatten"),
    (lambda: Network([Conv2D(2, 4, 3), Flatten(), Dense(144, 2)], input_shape=(1, 8, 8)),
     "expects 2 input channels but gets 1"),
    (lambda: Network([Conv2D(1, 4, 3), Flatten(), Dense(144, 2)]), r"needs input_shape=\(channels, rows, cols\)"),
    (lambda: Network([Conv2D(1, 4, 9), Flatten(), Dense(4, 2)], input_shape=(1, 8, 8)),
     "a 9-wide window does not fit the 8 rows"),
    (lambda: Network([Conv2D(1, 4, 3)], input_shape=(1, 8, 8)), "output layer must be Dense"),
    (lambda: Conv2D(1, 2, 3, activation="softmax"), "must act on each value alone"),
    (lambda: Conv2D(1, 2, 3, padding="full"), "padding must be 'valid', 'same' or a number"),
    (lambda: MaxPool2D(2, padding=2), "at most half the window"),
    (lambda: Network([Conv2D(1, 4, 3), Flatten(), Dense(143, 2)], input_shape=(1, 8, 8)),
     "layer 2 outputs 144 values but layer 3 expects 143 inputs"),
])
def test_bad_image_networks_are_refused_with_a_reason(build, message):
    with pytest.raises(ArchitectureError, match=message):
        build()


def test_image_network_round_trips_through_its_spec():
    again = Network.from_spec(SMOOTH.spec())
    assert again.spec() == SMOOTH.spec() and repr(again) == repr(SMOOTH)
    assert again.param_shapes() == {"W1": (3, 2, 3, 2), "b1": (3,), "W3": (2, 3, 2, 2), "b3": (2,), "W6": (12, 2),
                                    "b6": (2,)}


def test_unrolled_view_refuses_image_networks():
    with pytest.raises(ArchitectureError, match="image layers compile from the index-level rules"):
        symbackprop.compile(SMOOTH, view="unrolled")


# -- the command line ------------------------------------------------------------------------------

def test_architecture_text_builds_the_network_it_names():
    from symbackprop.model.architecture import build_network
    net = build_network("cnn", (1, 8, 8), 10)
    assert repr(net) == ("Network([Conv2D(1, 16, 3, padding='same', activation='relu'), MaxPool2D(2), "
                         "Conv2D(16, 32, 3, padding='same', activation='relu'), MaxPool2D(2), Flatten(), "
                         "Dense(128, 10, 'softmax')], loss='cce', input_shape=(1, 8, 8))")
    net = build_network("conv:4:5:s2:valid:tanh,avgpool:2:s1:p1,dense:8", (3, 12, 12), 2, loss="bce")
    assert [repr(l) for l in net.layers] == ["Conv2D(3, 4, 5, stride=2, activation='tanh')",
                                             "AvgPool2D(2, stride=1, padding=1)", "Flatten()",
                                             "Dense(100, 8, 'relu')", "Dense(8, 2, 'sigmoid')"]


@pytest.mark.parametrize("text,message", [
    ("conv", "give the number of channels"),
    ("conv:x", "the number of channels must be a whole number"),
    ("conv:4:3:s2:shiny", "unknown activation 'shiny'"),
    ("maxpool:2:relu", "unknown setting 'relu'"),
    ("pool:2", "unknown layer 'pool:2'"),
    ("dense:4,conv:2", "convolutions come before dense layers"),
    ("conv:4,,maxpool:2", "empty item"),
])
def test_architecture_text_errors_name_the_item(text, message):
    from symbackprop.model.architecture import build_network
    with pytest.raises(SymbackpropError, match=message):  # an unknown activation has its own error class
        build_network(text, (1, 8, 8), 10)


def test_explain_on_a_tiny_conv_net_prints_the_kernel_gradient_formula(capsys):
    from symbackprop.cli import main
    assert main(["explain", "--arch", "conv:2:3,conv:2:3,maxpool:2", "--image-shape", "1,4,4", "--loss", "cce"]) == 0
    out = capsys.readouterr().out
    assert ("gW1[o, c, p, q] = Sum([0 <= p + y - 1 <= rows0 - 1]*[0 <= q + x - 1 <= cols0 - 1]*"
            "a0[n, c, p + y - 1, q + x - 1]*d1[n, o, y, x], (n, 0, B - 1), (y, 0, rows1 - 1), (x, 0, cols1 - 1))") in out
    assert "(kernel gradient: the correlation of the layer's input with δ)" in out
    assert "(each window's error goes to its winner, none to the others)" in out
    assert ("g1[n, c, u, v] = Sum([0 <= u - y + 1 <= 2]*[0 <= v - x + 1 <= 2]*W2[o, c, u - y + 1, v - x + 1]*"
            "d2[n, o, y, x], (o, 0, C2 - 1), (y, 0, rows2 - 1), (x, 0, cols2 - 1))") in out
    assert "(input gradient: the full convolution of δ with the flipped kernel" in out
    # the corner of a 'same' 3×3 kernel on a 4×4 image meets the image at 3×3 output positions
    assert "Kernel gradient at W1[0, 0, 0, 0]" in out and "(9 terms:" in out
    assert "a0[0, 0, 0, 0]*d1[0, 0, 1, 1]" in out


def test_explain_names_a_kernel_entry_that_does_not_exist(capsys):
    from symbackprop.cli import main
    assert main(["explain", "--arch", "conv:2:3", "--param", "W1[0,0,5,1]"]) == 2
    assert "there is no kernel entry 'W1[0,0,5,1]'; the kernels are (shape) W1[2, 1, 3, 3]" in capsys.readouterr().err


def test_augment_needs_images(capsys):
    from symbackprop.cli import main
    assert main(["train", "--dataset", "breast_cancer", "--augment", "--no-progress"]) == 2
    assert "--augment moves images, but the rows of breast_cancer are not images" in capsys.readouterr().err


def test_shifted_copies_move_each_image_by_one_pixel():
    from symbackprop.train.data import shifted_copies
    X = np.arange(2 * 9, dtype=float).reshape(2, 9) + 1
    Xa, ya = shifted_copies(X, np.array([3, 4]), (1, 3, 3))
    assert Xa.shape == (10, 9) and list(ya) == [3, 4] * 5
    down = Xa[2].reshape(3, 3)  # the first image moved one row down: a zero row comes in at the top
    assert np.array_equal(down, np.array([[0, 0, 0], [1, 2, 3], [4, 5, 6]]))
    left = Xa[8].reshape(3, 3)  # moved one column left
    assert np.array_equal(left, np.array([[2, 3, 0], [5, 6, 0], [8, 9, 0]]))
