"""The argument checks of an exported module's entry points.

Inside symbackprop, a compiled network's arrays are made by symbackprop (the parameters
by the network, the inputs reshaped and converted by :class:`~.compiled.CompiledNetwork`),
so the kernels can trust their shapes.  An exported module (:mod:`.export`) is called by
someone else's code, and its kernels reach one another by address, where an exception
cannot travel: a wrong shape would not raise, it would read past an array's end and return
numbers.  So each entry point of an exported module is wrapped by
:func:`checked_arguments`, which checks every array against the network the module was
exported from, before any kernel runs, and raises one ``ValueError`` (or ``TypeError``) that
names the entry point, the argument and what it should be: its shape, the one precision
every array shares, C order and writability, and for ``train_epoch`` the rows of ``order``,
the batch size, the optimizer rule and its state, and the parameters as views laid out in
``flat`` as their gradients are in ``gflat``.  The checks cost microseconds
against a kernel's milliseconds.

This file's kernels are copied into the exported module as text (:mod:`.copied_source`),
so they use only the standard library and NumPy.
"""
import numpy as np

# the optimizer's rule numbers, defined before this file's copy in an exported module
from .update_rules import RULE_ADAM, RULE_MOMENTUM, RULE_NESTEROV, RULE_RMSPROP, RULE_SGD

# -- kernels (copied into generated modules from here on) --


def checked_arguments(params, input_shape, outputs):
    """A decorator for the entry points of a module exported from one network: ``params`` is
    ``{name: shape}`` in argument order, ``input_shape`` one sample's shape and ``outputs``
    the outputs per sample.  The wrapped function checks its arrays, then calls the kernel."""
    import functools
    import inspect

    network = _Network(dict(params), tuple(input_shape), int(outputs))

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def checked(*args, **kwargs):
            values = signature.bind(*args, **kwargs).arguments
            network.check(function.__name__, values)
            return function(*args, **kwargs)
        return checked
    return decorate


class _Network:
    """What an exported module's arrays must be: the parameters' shapes, a sample's shape, the outputs."""

    #: the optimizer rules of ``update`` that use one state vector (Adam uses two, SGD none)
    ONE_STATE = (RULE_MOMENTUM, RULE_NESTEROV, RULE_RMSPROP)

    def __init__(self, params, input_shape, outputs):
        self.params, self.input_shape, self.outputs = params, input_shape, outputs
        self.size = sum(int(np.prod(shape)) for shape in params.values())

    def check(self, entry, values):
        inputs = "X" if "X" in values else "a0"
        first = values[inputs]
        if not isinstance(first, np.ndarray) or first.dtype not in (np.float64, np.float32):
            raise TypeError(f"{entry}: {inputs} must be a float64 or float32 NumPy array, got "
                            f"{getattr(first, 'dtype', type(first).__name__)}")
        dtype, samples = first.dtype, first.shape[0] if first.ndim else 0
        self._array(entry, inputs, first, dtype, (samples, *self.input_shape), "(samples, "
                    + ", ".join(map(str, self.input_shape)) + ")")
        targets = "T" if "T" in values else "Y"
        if targets in values:
            self._array(entry, targets, values[targets], dtype, (samples, self.outputs),
                        f"({samples}, {self.outputs}): a row of targets per row of {inputs}")
        for name, shape in self.params.items():
            self._array(entry, name, values[name], dtype, shape, str(shape))
            gradient = "g" + name
            if gradient in values:
                self._array(entry, gradient, values[gradient], dtype, shape, str(shape))
        if entry == "train_epoch":
            self._epoch(entry, values, dtype, samples)

    def _epoch(self, entry, values, dtype, samples):
        order = values["order"]
        if not (isinstance(order, np.ndarray) and np.issubdtype(order.dtype, np.integer) and order.ndim == 1
                and order.size):
            raise TypeError(f"{entry}: order must be a non-empty 1-D integer array of row numbers")
        if order.min() < 0 or order.max() >= samples:
            raise ValueError(f"{entry}: order holds row {int(order.min() if order.min() < 0 else order.max())}; "
                             f"the rows of X are numbered 0 to {samples - 1}")
        batch, rule = (self._integer(entry, name, values[name]) for name in ("batch_size", "rule"))
        if batch < 1:
            raise ValueError(f"{entry}: batch_size must be at least 1, got {batch}")
        if not RULE_SGD <= rule <= RULE_ADAM:
            raise ValueError(f"{entry}: rule {rule} is not one of RULE_SGD ... RULE_ADAM "
                             f"({RULE_SGD} to {RULE_ADAM})")
        for flat in ("flat", "gflat"):
            self._array(entry, flat, values[flat], dtype, (self.size,), f"({self.size},)")
        self._layout(entry, values, dtype.itemsize)
        used = 2 if rule == RULE_ADAM else 1 if rule in self.ONE_STATE else 0
        for state in ("state_1", "state_2")[:used]:
            self._array(entry, state, values[state], dtype, (self.size,), f"({self.size},): this rule keeps it")

    def _layout(self, entry, values, itemsize):
        """Each parameter a view into ``flat``, its gradient at the same place in ``gflat``, no two
        overlapping: the kernel updates ``flat`` from ``gflat`` and reads the parameters' views."""
        def offset(name, flat):
            array, whole = values[name], values[flat]
            start = (array.__array_interface__["data"][0] - whole.__array_interface__["data"][0]) // itemsize
            if not 0 <= start <= whole.size - array.size:
                raise ValueError(f"{entry}: {name} must be a view into {flat} (the kernel updates {flat})")
            return start
        spans = []
        for name in self.params:
            start = offset(name, "flat")
            if offset("g" + name, "gflat") != start:
                raise ValueError(f"{entry}: g{name} must lie in gflat where {name} lies in flat (at {start})")
            spans.append((start, start + values[name].size, name))
        spans.sort()
        for (_, end, before), (start, _, after) in zip(spans, spans[1:]):
            if start < end:
                raise ValueError(f"{entry}: {before} and {after} overlap in flat")

    @staticmethod
    def _integer(entry, name, value):
        import operator
        try:
            return operator.index(value)
        except TypeError:
            raise TypeError(f"{entry}: {name} must be an integer, got {value!r}") from None

    @staticmethod
    def _array(entry, name, array, dtype, shape, expected):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{entry}: {name} must be a NumPy array, got {type(array).__name__}")
        if array.shape != tuple(shape):
            raise ValueError(f"{entry}: {name} has shape {array.shape}; this network's {name} is {expected}")
        if array.dtype != dtype:
            raise TypeError(f"{entry}: {name} is {array.dtype}, the inputs are {dtype}: every array must "
                            "share one precision")
        if not array.flags.c_contiguous:
            raise ValueError(f"{entry}: {name} must be C-contiguous (np.ascontiguousarray makes a copy that is)")
        if not array.flags.writeable:  # the kernels are typed for writable arrays
            raise ValueError(f"{entry}: {name} is read-only; the kernels take writable arrays (np.array copies it)")
