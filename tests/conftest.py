"""Shared test fixtures: every test compiles into one temporary kernel cache."""
from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def kernel_cache(tmp_path_factory):
    """Keep generated kernels out of the user's cache; reused by every test in the session."""
    folder = tmp_path_factory.mktemp("kernel-cache")
    old = os.environ.get("SYMBACKPROP_CACHE_DIR")
    os.environ["SYMBACKPROP_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SYMBACKPROP_CACHE_DIR", None)
    else:
        os.environ["SYMBACKPROP_CACHE_DIR"] = old


def random_problem(net, batch: int, seed: int = 0):
    """Random inputs, fitting targets and non-trivial parameters for ``net``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(batch, net.n_inputs))
    if net.loss.name == "cce":
        Y = np.eye(net.n_outputs)[rng.integers(0, net.n_outputs, size=batch)]
    elif net.loss.name == "bce":
        Y = rng.uniform(0, 1, size=(batch, net.n_outputs))
    else:
        Y = rng.normal(size=(batch, net.n_outputs))
    params = net.init_params(seed)
    for name in params:
        if name.startswith("b"):
            params[name][...] = rng.normal(scale=0.5, size=params[name].shape)
    return X, Y, params


@pytest.fixture
def registries_restored():
    """Remove every activation, loss and layer kind a test defines (the command line's
    ``NAME=FORMULA`` registers one), so the rest of the suite sees the built-in kinds."""
    from symbackprop.model import ACTIVATIONS, LAYERS, LOSSES
    before = {registry: set(registry.names()) for registry in (ACTIVATIONS, LOSSES, LAYERS)}
    yield
    for registry, names in before.items():
        for name in set(registry.names()) - names:
            registry.unregister(name)
