"""Export a network's kernels as one standalone Python file that needs only NumPy and Numba.

The kernel cache's module imports a few model-independent kernels (the optimizer updates,
the BLAS call) from symbackprop; the exported file is the same kernel module printed with
their source copied in instead (linkage ``copy``, :mod:`.module`), so it imports nothing
but ``numpy``, ``numba`` and the standard library.  Its entry points check their arguments
(:mod:`.argument_checks`): a wrong array is a named error, not numbers read past an array's
end.  Exporting also puts a docstring in front of it
that says what the file is: the model, the parameters in argument order with their
shapes, every entry point, and the formulas the kernels implement; with trained
parameters, their arrays go to an ``.npz`` file beside it.  The exported file can be
vendored into a project that has neither SymPy nor symbackprop installed.
"""
from __future__ import annotations

import keyword
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..atomic import write_atomically, write_text_atomically
from ..errors import SymbackpropError
from . import abi

if TYPE_CHECKING:
    from ..model.network import Network
    from ..model.parameters import Parameters


class InputScaling(Protocol):
    """What export needs of a fitted input normalisation (``train.Normalizer``): its kind and
    the shift and scale the exported code applies."""

    kind: str
    shift: np.ndarray
    scale: np.ndarray


def export_source(network: "Network", view: str = "index", cache_dir=None,
                  weights_file: str | None = None, normalizer: InputScaling | None = None) -> str:
    """The standalone module's text: a docstring describing it, then the kernel module
    printed with the shared kernels copied in.

    ``cache_dir`` is accepted for symmetry with ``compile``; export derives afresh (it
    needs the kernel IR, which the cache keeps only as printed source).
    """
    from ..version import __version__
    from ..derive import derive_index_level, derive_unrolled
    from .compiled import check_view, kernel_module
    from .module import module_source

    check_view(network, view)
    derivation = derive_index_level(network) if view == "index" else derive_unrolled(network)
    module = kernel_module(derivation, view)
    shapes = network.param_shapes()
    names = list(shapes)
    lines = [
        f"Kernels of {network!r}, exported by symbackprop {__version__}.",
        "",
        "Standalone: this file needs only NumPy and Numba (no SymPy, no symbackprop).  Numba",
        "compiles each function on its first call and caches the machine code beside this file.",
        "All arrays must share one floating dtype (float64 or float32), be C-contiguous and writable,",
        "and have the shapes below (PARAMETER_SHAPES, INPUT_SHAPE, OUTPUTS): each entry point checks",
        "its arguments before any kernel runs and raises a ValueError or TypeError that names the one",
        "that is wrong.",
        "",
        "Parameters, in argument order (a dense layer's W has shape (inputs, neurons): z = x @ W + b;",
        "a convolution's has PyTorch's (out channels, in channels, rows, cols)):",
        *(f"    {name}: {shape}" for name, shape in shapes.items()),
        "",
        f"Entry points (outputs per sample: {network.n_outputs}):",
        *abi.describe(names),
        "",
        f"l1, l2: the L1 and L2 penalty coefficients (this model: {network.l1:g}, {network.l2:g}).",
        f"Loss: {network.loss.long_name}; outputs: {network.layers[-1].activation}.",
    ]
    if weights_file is not None:
        lines += ["", f"Trained parameters are in {weights_file}:", "",
                  "    import numpy as np",
                  f"    weights = np.load({weights_file!r})",
                  f"    params = [weights[name] for name in {names!r}]"]
        if normalizer is not None and normalizer.kind != "none":
            lines += ["    X = ((X_raw - weights['input_shift']) / weights['input_scale']).astype(params[0].dtype)",
                      f"    # (the {normalizer.kind} normalisation fitted in training, in the parameters' precision)"]
        lines += ["    outputs = forward(X, *params)"]
    lines += ["", f"{module.formulas_heading}:", *(f"    {f}" for f in module.formulas)]
    doc = "\n".join(lines).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    checked = replace(module, functions=checked_entry_points(module.functions, CHECK_DECORATOR))
    # the module's comment header (provenance, formulas) is replaced by the docstring above
    body = module_source(checked, linkage="copy").splitlines(keepends=True)
    while body and body[0].startswith("#"):
        body.pop(0)
    constants = ["#: what this module's arrays must be: each entry point checks its arguments against them",
                 f"PARAMETER_SHAPES = {dict(shapes)!r}",
                 f"INPUT_SHAPE = {tuple(network.input_shape)!r}",
                 f"OUTPUTS = {network.n_outputs}"]
    return f'"""{doc}\n"""\n' + "\n".join(constants) + "\n\n" + "".join(body)


#: how an exported entry point is wrapped (:mod:`.argument_checks`, copied into the module)
CHECK_DECORATOR = "@checked_arguments(PARAMETER_SHAPES, INPUT_SHAPE, OUTPUTS)"


def checked_entry_points(functions: tuple, decorator: str) -> tuple:
    """``functions`` with every public entry point (:data:`.abi.ENTRY_POINTS`) behind ``decorator``.

    A plain-Python entry point gets the decorator.  A compiled one (the unrolled view's
    ``forward``, ``loss``, ...) is renamed ``_<name>_unchecked``, with the calls other
    kernels make to it, and a decorated Python function of its name calls it: a Python
    decorator on the compiled function itself would hide it from the kernels that call it.
    """
    from . import ir

    unchecked = {node.name: f"_{node.name}_unchecked" for node in functions  # the compiled entry points
                 if isinstance(node, ir.KernelFunction) and node.name in abi.ENTRY_POINTS and node.decorator}
    out = []
    for node in functions:
        if not isinstance(node, ir.KernelFunction):
            out.append(node)
        elif node.name in unchecked:
            inner = unchecked[node.name]
            out.append(replace(node, name=inner, body=ir.rename_calls(node.body, unchecked)))
            out.append(ir.KernelFunction(node.name, node.arguments, (
                ir.Return((ir.call(inner, *ir.symbols(*node.arguments)),)),), decorator,
                (f"{node.name}, its arguments checked first",)))
        else:
            entry = node.name in abi.ENTRY_POINTS  # (a plain-Python one: a compiled one was renamed above)
            out.append(replace(node, body=ir.rename_calls(node.body, unchecked),
                               decorator=decorator if entry else node.decorator))
    return tuple(out)


def export_module(network: "Network", path: str | os.PathLike, view: str = "index", cache_dir=None,
                  params: "Parameters | None" = None, normalizer: InputScaling | None = None) -> list[Path]:
    """Write the standalone kernel module to ``path`` (and trained ``params`` to ``<stem>_weights.npz``).

    Returns the files written; each is written atomically.
    """
    path = Path(path)
    if path.suffix != ".py":
        raise SymbackpropError(f"the exported module must be a .py file, got {path.name!r}")
    if not path.stem.isidentifier() or keyword.iskeyword(path.stem):
        raise SymbackpropError(f"{path.name!r} cannot be imported as a Python module: use a name like "
                               f"model_kernels.py (letters, digits and underscores)")
    written = []
    weights_file = None
    if params is not None:
        weights_path = path.with_name(f"{path.stem}_weights.npz")
        arrays = {name: params[name] for name in params}
        if normalizer is not None and normalizer.kind != "none":
            arrays["input_shift"], arrays["input_scale"] = normalizer.shift, normalizer.scale
        written.append(write_atomically(weights_path, lambda f: np.savez(f, **arrays)))
        weights_file = weights_path.name
    source = export_source(network, view, cache_dir, weights_file, normalizer)
    written.insert(0, write_text_atomically(path, source))
    return written
