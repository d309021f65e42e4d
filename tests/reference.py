"""Independent references for gradients: PyTorch autograd and central finite differences.

Neither shares code with symbackprop's derivation: the torch model is written here from
the layer description with torch's own functions.
"""
from __future__ import annotations

import numpy as np


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' rule, written from its documentation: ceil(size / stride) outputs."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(torch, a, layer, W, b):
    F = torch.nn.functional
    if layer.padding == "same":
        (top, bottom), (left, right) = (_same_padding(size, k, s) for size, k, s in
                                        zip(a.shape[2:], layer.kernel_size, layer.stride))
        return F.conv2d(F.pad(a, (left, right, top, bottom)), W, b, stride=layer.stride)
    padding = 0 if layer.padding == "valid" else layer.padding
    return F.conv2d(a, W, b, stride=layer.stride, padding=padding)


def torch_loss_and_grad(net, X, Y, params, layers=None, activations=None, losses=None):
    """Loss and gradients of ``net`` computed by PyTorch autograd in float64.

    Image layers use ``torch.nn.functional``'s ``conv2d``, ``max_pool2d`` and ``avg_pool2d``.
    A test of a layer kind, activation or loss of its own passes their torch forms:
    ``layers={kind: f(a, {name: tensor}) -> z}`` (the layer's parameters without layer
    numbers), ``activations={name: f(z) -> a}``, ``losses={name: f(a, y) -> mean loss}``.
    A residual block's closing layer adds the values ``block`` layers back to its input.
    """
    import torch

    F = torch.nn.functional
    tensors = {name: torch.tensor(params[name], dtype=torch.float64, requires_grad=True) for name in params}
    a = torch.tensor(X, dtype=torch.float64).reshape(len(X), *net.input_shape)
    y = torch.tensor(Y, dtype=torch.float64)
    logits = None
    outputs = [a]  # every boundary's values, for skip connections
    for l, layer in enumerate(net.layers, start=1):
        kind = type(layer).__name__
        if l > 1:
            outputs.append(a)
        if layers and layer.kind in layers:
            own = {name: tensors[f"{name}{l}"] for name in layer.param_shapes()}
            z = logits = layers[layer.kind](a, own)
            a = _activation(torch, layer.activation, activations)(z)
            continue
        if kind == "ResidualAdd":  # the block's output plus the block's input
            a = _activation(torch, layer.activation, activations)(a + outputs[l - 1 - layer.block])
            continue
        if kind == "Flatten":
            a = a.flatten(1)
            continue
        if kind in ("MaxPool2D", "AvgPool2D"):
            pool = F.max_pool2d if kind == "MaxPool2D" else F.avg_pool2d
            a = pool(a, layer.size, layer.stride, layer.padding)
            continue
        if kind == "Conv2D":
            z = _conv(torch, a, layer, tensors[f"W{l}"], tensors[f"b{l}"])
        else:
            z = a @ tensors[f"W{l}"] + tensors[f"b{l}"]
        logits = z
        a = _activation(torch, layer.activation, activations)(z)
    if losses and net.loss.name in losses:
        loss = losses[net.loss.name](a, y)
    elif net.loss.name == "mse":
        loss = torch.nn.functional.mse_loss(a, y)
    elif net.loss.name == "bce":
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    else:
        loss = -(y * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    weights = [t for name, t in tensors.items() if name.startswith("W")]
    if net.l1:
        loss = loss + net.l1 * sum(w.abs().sum() for w in weights)
    if net.l2:
        loss = loss + net.l2 / 2 * sum((w * w).sum() for w in weights)
    loss.backward()
    return float(loss.detach()), {name: t.grad.numpy() for name, t in tensors.items()}


def _activation(torch, name, extra):
    if extra and name in extra:
        return extra[name]
    return {
        "identity": lambda t: t,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
        "softmax": lambda t: torch.softmax(t, dim=1),
    }[name]


def finite_difference_grad(loss_fn, params, h: float = 1e-6) -> np.ndarray:
    """Central differences of ``loss_fn()`` with respect to every entry of ``params.flat``."""
    grad = np.empty_like(params.flat)
    for k in range(params.flat.size):
        old = params.flat[k]
        params.flat[k] = old + h
        up = loss_fn()
        params.flat[k] = old - h
        down = loss_fn()
        params.flat[k] = old
        grad[k] = (up - down) / (2 * h)
    return grad
