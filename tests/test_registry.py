"""The registries: names are never taken over silently, a kind's definition (not only its
name) keys the kernel cache, and a checkpoint naming an unregistered kind says so."""
from __future__ import annotations

import pytest
import sympy as sp

import symbackprop
from symbackprop import Activation, ArchitectureError, CheckpointError, Dense, Network, register_activation
from symbackprop.model import ACTIVATIONS
from symbackprop.train import Checkpoint, load_checkpoint, save_checkpoint


@pytest.fixture
def cleanup():
    names = []
    yield names
    for name in names:
        ACTIVATIONS.unregister(name)


def test_a_name_or_alias_in_use_is_refused_unless_replaced(cleanup):
    cleanup.append("swish_like")
    with pytest.raises(ArchitectureError, match="already an activation called 'relu'"):
        register_activation(Activation("swish_like", scalar=lambda u: u / (1 + sp.exp(-u))), aliases=("relu",))
    assert ACTIVATIONS.get("relu").name == "relu" and "swish_like" not in ACTIVATIONS
    with pytest.raises(ArchitectureError, match="already an activation called 'tanh'"):
        register_activation(Activation("tanh", scalar=sp.tanh))


def test_redefining_a_kind_does_not_meet_its_old_kernels(tmp_path, cleanup):
    cleanup.append("mine")
    register_activation(Activation("mine", scalar=sp.tanh))
    net = Network([Dense(2, 3, "mine"), Dense(3, 2, "softmax")], loss="cce")
    first = symbackprop.compile(net, cache_dir=tmp_path, warm_up=False)
    register_activation(Activation("mine", scalar=lambda u: u ** 3), replace=True)
    second = symbackprop.compile(Network([Dense(2, 3, "mine"), Dense(3, 2, "softmax")], loss="cce"),
                                 cache_dir=tmp_path, warm_up=False)
    assert not second.from_cache and second.folder != first.folder
    assert "math.tanh" in first.source() and "math.tanh" not in second.source()


def test_a_checkpoint_of_an_unregistered_kind_says_what_to_register(tmp_path, cleanup):
    cleanup.append("mine")
    # asinh is no function a formula may name, so the checkpoint cannot store it as text
    register_activation(Activation("mine", scalar=sp.asinh))
    net = Network([Dense(2, 3, "mine"), Dense(3, 2, "softmax")], loss="cce")
    assert "definitions" not in net.spec()
    path = save_checkpoint(tmp_path / "m.npz", Checkpoint(net, net.init_params(0)))
    ACTIVATIONS.unregister("mine")
    cleanup.clear()
    with pytest.raises(CheckpointError, match="unknown activation 'mine'.*registered again before loading"):
        load_checkpoint(path)


def test_parameter_names_that_would_collide_with_work_arrays_are_refused():
    from symbackprop.model.layers import Layer

    class Bad(Layer):
        kind = "bad"

        def param_shapes(self):
            return {"d": (2,)}

        def output_shape(self, shape, where):
            return shape

    with pytest.raises(ArchitectureError, match="'d' already names the work arrays"):
        Network([Bad(), Dense(2, 2, "softmax")], loss="cce", input_shape=(2,))
