"""The argument checks of an exported module's entry points.

Inside symbackprop, a compiled network's arrays are made by symbackprop (the parameters
by the network, the inputs reshaped and converted by :class:`~.compiled.CompiledNetwork`),
so the kernels can trust their shapes.  An exported module (:mod:`.export`) is called by
someone else's code, and its kernels reach one another by address, where an exception
cannot travel: a wrong shape would not raise, it would read past an array's end and return
numbers.  So each entry point of an exported module is wrapped by
:func:`checked_arguments`, which checks every array against the network the module was
exported from, before any kernel runs, and raises one ``ValueError`` (or ``TypeError``) that
names the entry point, the argument and what it should be.  The checks cost microseconds
against a kernel's milliseconds.

This file's kernels are copied into the exported module as text (:mod:`.copied_source`),
so they use only the standard library and NumPy.
"""
import numpy as np

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

    #: the optimizer rules of ``update`` that use one state vector, and the one that uses two
    ONE_STATE, TWO_STATES = (1, 2, 3), 4

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
        if samples == 0:
            raise ValueError(f"{entry}: {inputs} holds no samples")
        targets = "T" if "T" in values else "Y"
        if targets in values:
            self._array(entry, targets, values[targets], dtype, (samples, self.outputs),
                        f"({samples}, {self.outputs}): a row of targets per row of {inputs}")
        for name, shape in self.params.items():
            self._array(entry, name, values[name], dtype, shape, str(shape))
            gradient = "g" + name
            if gradient in values:
                self._array(entry, gradient, values[gradient], dtype, shape, str(shape), written=True)
        if entry == "train_epoch":
            self._epoch(entry, values, dtype, samples)

    def _epoch(self, entry, values, dtype, samples):
        order, batch = values["order"], values["batch_size"]
        if not (isinstance(order, np.ndarray) and order.dtype == np.int64 and order.ndim == 1 and order.size):
            raise TypeError(f"{entry}: order must be a non-empty 1-D int64 array of row numbers")
        if order.min() < 0 or order.max() >= samples:
            raise ValueError(f"{entry}: order holds row {int(order.min() if order.min() < 0 else order.max())}; "
                             f"the rows of X are numbered 0 to {samples - 1}")
        if not 1 <= int(batch) <= order.size:
            raise ValueError(f"{entry}: batch_size {batch} must lie between 1 and len(order) = {order.size}")
        for flat, parts in (("flat", self.params), ("gflat", ["g" + p for p in self.params])):
            self._array(entry, flat, values[flat], dtype, (self.size,), f"({self.size},)", written=True)
            for part in parts:
                if not np.may_share_memory(values[part], values[flat]):
                    raise ValueError(f"{entry}: {part} must be a view into {flat} (the kernel updates {flat})")
        rule = int(values["rule"])
        if not 0 <= rule <= self.TWO_STATES:
            raise ValueError(f"{entry}: rule {rule} is not one of RULE_SGD ... RULE_ADAM (0 to 4)")
        used = 2 if rule == self.TWO_STATES else 1 if rule in self.ONE_STATE else 0
        for k, state in enumerate(("state_1", "state_2")):
            if k < used:
                self._array(entry, state, values[state], dtype, (self.size,), f"({self.size},): this rule "
                            "keeps it", written=True)

    @staticmethod
    def _array(entry, name, array, dtype, shape, expected, written=False):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{entry}: {name} must be a NumPy array, got {type(array).__name__}")
        if array.shape != tuple(shape):
            raise ValueError(f"{entry}: {name} has shape {array.shape}; this network's {name} is {expected}")
        if array.dtype != dtype:
            raise TypeError(f"{entry}: {name} is {array.dtype}, the inputs are {dtype}: every array must "
                            "share one precision")
        if not array.flags.c_contiguous:
            raise ValueError(f"{entry}: {name} must be C-contiguous (np.ascontiguousarray makes a copy that is)")
        if written and not array.flags.writeable:
            raise ValueError(f"{entry}: {name} is written to, but it is read-only")
