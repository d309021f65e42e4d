"""The flat vectors the kernels update every step start on a cache line (see model/parameters.py)."""
import numpy as np

from symbackprop import Network
from symbackprop.model.parameters import ALIGNMENT, aligned_copy, aligned_zeros
from symbackprop.train import Optimizer
from symbackprop.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def _aligned(a: np.ndarray) -> bool:
    return a.ctypes.data % ALIGNMENT == 0 and a.flags.c_contiguous and a.flags.writeable


def test_aligned_arrays_for_every_size_and_dtype():
    for dtype in (np.float64, np.float32):
        for size in (1, 7, 1210):
            a = aligned_zeros(size, dtype)
            assert _aligned(a) and a.shape == (size,) and a.dtype == dtype and not a.any()
        assert aligned_zeros(0, dtype).shape == (0,)  # an empty array has no data to align
    values = np.arange(12.0).reshape(3, 4)[:, ::2]
    copy = aligned_copy(values, np.float32)
    assert _aligned(copy) and copy.shape == (3, 2) and copy.dtype == np.float32
    assert np.array_equal(copy, values)


def test_parameters_gradients_optimizer_state_and_loaded_checkpoints_are_aligned(tmp_path):
    net = Network.mlp([5, 3, 2], "tanh", "softmax", "cce")
    params = net.init_params(0)
    assert _aligned(params.flat) and _aligned(params.zeros_like().flat) and _aligned(params.copy().flat)
    opt = Optimizer("adam")
    _, s1, s2, *_ = opt.kernel_args(params.flat)
    assert _aligned(s1) and _aligned(s2)
    path = save_checkpoint(tmp_path / "c.npz", Checkpoint(net, params, optimizer=opt))
    loaded = load_checkpoint(path)
    assert _aligned(loaded.params.flat) and np.array_equal(loaded.params.flat, params.flat)
    assert all(_aligned(state) for state in loaded.optimizer.state.values())
