"""A compiled network: the kernel module plus checked, named entry points.

``compile_network`` is the one place where the stages meet: derive (stage 2), simplify
and count (stage 3), generate and cache (stage 4).  On a cache hit none of them runs;
the kernels and the derivation's report come from disk.
"""
from __future__ import annotations

import functools
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ArchitectureError
from ..model.network import Network
from ..model.parameters import Parameters, check_dtype
from ..simplify.report import OpCountReport
from . import abi
from .update_rules import RULE_SGD

if TYPE_CHECKING:
    from .module import KernelModule

VIEWS = ("index", "unrolled")
#: the unrolled view prints one line per scalar: refuse networks whose kernels would not compile in reasonable time
UNROLLED_PARAM_LIMIT = 2000
#: the entry points a training run calls (``warm_up=True`` compiles these)
TRAINING_ENTRY_POINTS = ("evaluate", "train_epoch")
#: every entry point (``warm_up="all"``)
ALL_ENTRY_POINTS = ("forward", "loss", "evaluate", "loss_and_grad", "train_epoch")


#: the smallest image (values per sample) whose batches are split among threads: measured on the
#: README CNN at batch 32 and 2 threads, 16×16 took 2.4 ms per step against 3.4 ms on one thread,
#: 8×8 1.1 ms against 0.6 ms (the threads' start and the parts' sum cost more than half a step)
SPLIT_MIN_VALUES = 256


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, made once (1.3 ms each time otherwise)."""
    import scipy.linalg.cython_blas  # noqa: F401  (Numba's BLAS: loaded first, so the controller sees it)
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController()


def warm_up_entry_points(warm_up: bool | str) -> tuple[str, ...]:
    """What a ``warm_up`` setting compiles: True or ``"training"`` the training entry points,
    ``"all"`` every one, False none; anything else is refused."""
    if warm_up not in (True, False, "training", "all"):
        raise ValueError(f"warm_up must be True (the training entry points), 'all' or False, got {warm_up!r}")
    return ALL_ENTRY_POINTS if warm_up == "all" else TRAINING_ENTRY_POINTS if warm_up else ()


@dataclass
class CompiledNetwork:
    """Numba kernels for one network.  Arrays are checked before any kernel runs.

    Numba compiles each entry point on its first call in each precision (or loads it
    from its on-disk cache): :attr:`warm` records which have run in this process, and
    the ``repr`` says which are still cold, so a first call's pause is never a surprise.
    """

    network: Network
    view: str
    module: types.ModuleType
    meta: dict
    #: the generated kernels came from the on-disk cache (nothing was derived or generated for them)
    from_cache: bool
    folder: Path
    timings: dict[str, float] = field(default_factory=dict)
    #: the op-count report came from the cache too (it is kept per model, the kernels per structure);
    #: None until the report is first read (:attr:`report`)
    report_from_cache: bool | None = None
    #: builds or loads the op-count report on first use: ``() -> (report dict, came from cache)``
    _report_source: object = field(default=None, repr=False, compare=False)

    @property
    def warm(self) -> set[tuple[str, str]]:
        """``(entry point, dtype name)`` pairs called in this process: compiled or loaded by Numba.
        Kept on the kernel module, which every CompiledNetwork of the same structure shares."""
        return self.module.__dict__.setdefault("_symbackprop_warm", set())

    def _ran(self, entry: str, params: Parameters) -> None:
        self.warm.add((entry, params.flat.dtype.name))

    def cold(self, dtype: str | np.dtype = "float64") -> list[str]:
        """The entry points that have not run in precision ``dtype``: their first call compiles
        them (or loads them from Numba's cache), a second or so each."""
        name = np.dtype(dtype).name
        return [e for e in ALL_ENTRY_POINTS if (e, name) not in self.warm]

    def __repr__(self) -> str:
        origin = "loaded from cache" if self.from_cache else "built"
        warm = sorted({f"{e} ({d})" for e, d in self.warm})
        cold = self.cold()
        return (f"CompiledNetwork({self.network!r}, {self.view} kernels {origin} at {self.folder}; "
                f"warm: {', '.join(warm) or 'none'}; cold (compiled on first call): {', '.join(cold) or 'none'})")

    @property
    def report(self) -> OpCountReport:
        """The op-count report of this network (kept per model in the cache; counted on first use,
        which derives the network once, so loading cached kernels never waits for it)."""
        if "report" not in self.meta:
            self.meta["report"], self.report_from_cache = self._report_source()
        return OpCountReport.from_dict(self.meta["report"])

    @property
    def source_path(self) -> Path:
        return self.folder / "kernels.py"

    @property
    def kernel_paths(self) -> list[Path]:
        """The files of the kernels the module loads (shared by every network that has them)."""
        from .kernel_files import kernel_path
        return [kernel_path(self.source_path, stem) for stem in self.meta.get("kernel_files", {})]

    def source(self) -> str:
        """The generated code: the module, then each kernel file it loads."""
        return "".join([self.source_path.read_text(), *(f"\n# ==== the cache's {path.parent.name}/{path.name} ====\n"
                                                        f"{path.read_text()}" for path in self.kernel_paths)])

    def check_params(self, params: Parameters) -> tuple[np.ndarray, ...]:
        """``params``' arrays in kernel order, after checking they fit this network."""
        self.network.check_params(params)
        check_dtype(params.flat.dtype)
        return params.arrays()

    def data(self, params: Parameters, X, Y=None) -> tuple[np.ndarray, np.ndarray | None]:
        """``X`` (and ``Y``) checked, and in the parameters' precision: the kernels run in one dtype.

        An image network's kernels take ``(N, channels, rows, cols)``: ``X`` is reshaped (a view).
        Both are C-contiguous and writable (copied if they were not).
        """
        X, Y = self.network.check_inputs(X, Y)
        dtype = params.flat.dtype
        # C order and writable: kernels called by address are compiled for such arrays (kernel_table.py)
        X = np.require(X, dtype, ("C", "W")).reshape((X.shape[0], *self.network.input_shape))
        return X, None if Y is None else np.require(Y, dtype, ("C", "W"))

    def forward(self, X, params: Parameters) -> np.ndarray:
        """Network outputs for every row of ``X``."""
        self.check_params(params)
        X, _ = self.data(params, X)
        out = self.module.forward(*self._arguments("forward", params, X))
        self._ran("forward", params)
        return out

    def _values(self, **values) -> dict:
        """Named kernel arguments, with the network's penalty coefficients."""
        return {"l1": self.network.l1, "l2": self.network.l2, **values}

    def _arguments(self, entry: str, params: Parameters, X, Y=None, grads: Parameters | None = None) -> list:
        """The arguments of ``forward``, ``loss``, ``evaluate`` or ``loss_and_grad``, in the
        kernel's order, for data already through :meth:`data`."""
        return abi.arguments(entry, self._values(a0=X, Y=Y), params.arrays(), () if grads is None else grads.arrays())

    def loss(self, X, Y, params: Parameters) -> float:
        """Mean loss over the rows of ``X``."""
        self.check_params(params)
        X, Y = self.data(params, X, Y)
        value = float(self.module.loss(*self._arguments("loss", params, X, Y)))
        self._ran("loss", params)
        return value

    def evaluate(self, X, Y, params: Parameters) -> tuple[float, np.ndarray]:
        """Mean loss and the network outputs, from one forward pass (validation each epoch)."""
        self.check_params(params)
        X, Y = self.data(params, X, Y)
        loss, outputs = self.module.evaluate(*self._arguments("evaluate", params, X, Y))
        self._ran("evaluate", params)
        return float(loss), outputs

    def loss_and_grad(self, X, Y, params: Parameters, grads: Parameters | None = None) -> tuple[float, Parameters]:
        """Mean loss and its gradient with respect to every parameter."""
        self.check_params(params)
        X, Y = self.data(params, X, Y)
        grads = grads if grads is not None else params.zeros_like()
        value = self.module.loss_and_grad(*self._arguments("loss_and_grad", params, X, Y, grads))
        self._ran("loss_and_grad", params)
        return float(value), grads

    def train_epoch(self, X: np.ndarray, Y: np.ndarray, order: np.ndarray, batch_size: int, params: Parameters,
                    grads: Parameters, update: abi.UpdateArguments, lr: float, steps_before: int = 0,
                    clip_value: float | None = None, clip_norm: float | None = None,
                    threads: int = 1) -> tuple[float, int, float]:
        """One epoch of training in one kernel call, for data already passed through :meth:`data`.

        ``threads`` above 1 on an image network: each batch is split among Numba's threads
        (``parallel_epoch``; set their number with ``numba.set_num_threads``, as
        ``symbackprop.using_threads`` does); BLAS should then run one thread per call.

        ``order`` lists the rows in batch order; ``update`` is the optimizer as kernel arguments
        (:meth:`Optimizer.kernel_args <symbackprop.train.optimizers.Optimizer.kernel_args>`).
        Returns the sum of batch losses times batch sizes, the index of the first batch whose
        loss or gradient was not finite (-1 if none), and that batch's loss.
        """
        arguments = self._epoch_arguments(X, Y, order, batch_size, params, grads, update, lr, steps_before,
                                          clip_value, clip_norm)
        if threads > 1 and self.splits_batches:
            with _blas_controller().limit(limits=1, user_api="blas"):  # each thread's products on its own core
                total, bad_batch, bad_loss = self.module.parallel_epoch(*arguments, threads)
            self._ran("parallel_epoch", params)
        else:
            total, bad_batch, bad_loss = self.module.train_epoch(*arguments)
            self._ran("train_epoch", params)
        return float(total), int(bad_batch), float(bad_loss)

    @property
    def splits_batches(self) -> bool:
        """Whether training on several threads splits each batch among them (image networks'
        index kernels of at least :data:`SPLIT_MIN_VALUES` input values per sample) rather than
        leaving the threads to BLAS (dense networks, small images)."""
        return (len(self.network.input_shape) == 3 and hasattr(self.module, "parallel_epoch")
                and int(np.prod(self.network.input_shape)) >= SPLIT_MIN_VALUES)

    def predict(self, X, params: Parameters) -> np.ndarray:
        """Class labels for every row of ``X`` (see :meth:`classes`)."""
        return self.classes(self.forward(X, params))

    @staticmethod
    def classes(outputs: np.ndarray) -> np.ndarray:
        """Class labels from network outputs: argmax for several outputs, threshold 0.5 for one."""
        if outputs.shape[1] == 1:
            return (outputs[:, 0] > 0.5).astype(np.int64)
        return np.argmax(outputs, axis=1)

    def _epoch_arguments(self, X, Y, order, batch_size: int, params: Parameters, grads: Parameters,
                         update: abi.UpdateArguments, lr: float, steps_before: int = 0,
                         clip_value: float | None = None, clip_norm: float | None = None) -> tuple:
        """``train_epoch``'s arguments, in the kernel's order."""
        values = self._values(X=X, T=Y, order=order, batch_size=batch_size, flat=params.flat, gflat=grads.flat,
                              lr=lr, steps_before=float(steps_before), clip_value=clip_value or 0.0,
                              clip_norm=clip_norm or 0.0, **abi.UpdateArguments(*update)._asdict())
        return tuple(abi.arguments("train_epoch", values, params.arrays(), grads.arrays()))

    def _compile_jobs(self, calls: dict[str, tuple], names) -> list:
        """One job per function the entry points ``names`` need compiled, for the arguments
        ``calls`` gives each (:mod:`.split_compile`): the compiled entry point, and each kernel
        it calls (once).  A plain Python entry point (an image network's) is only its kernels."""
        from numba import typeof
        from .split_compile import job
        table = getattr(self.module, "_kernels", None)
        jobs, kernels = [], {}
        for name in names:
            arguments = calls[name]
            compiled = getattr(self.module, f"_{name}", None)
            python = compiled is None and not hasattr(getattr(self.module, name), "py_func")
            if compiled is None and not python:  # a plain @njit entry point: it calls nothing by address
                compiled = getattr(self.module, name)
            else:
                for kernel in table.names(compiled or getattr(self.module, name)):
                    kernels.setdefault(kernel, table.kernel(kernel, arguments[0]))
                if python:
                    continue
                arguments = (table(compiled, arguments[0]), *arguments)
            types = tuple(typeof(a) for a in arguments)
            jobs.append(job(name, compiled, lambda compiled=compiled, types=types: compiled.compile(types)))
        jobs += [job(kernel, getattr(self.module, kernel), made.compile) for kernel, made in kernels.items()
                 if not made.compiled()]  # (one another network shares, compiled in this process: nothing to do)
        return jobs

    def warm_up(self, dtype: str | np.dtype = "float64", entry_points: str | tuple[str, ...] = "training",
                split: bool = False) -> float:
        """Compile (or load from Numba's cache) entry points now, in precision ``dtype``.

        ``"training"``: ``train_epoch`` and ``evaluate``, all a training run calls;
        ``"all"``: every entry point (add ``forward``, ``loss`` and ``loss_and_grad``, a
        second or so each when Numba compiles them); or a tuple of names.  The seconds are
        added to ``timings["compile_or_load"]``; :meth:`cold` lists what is left.  ``split``: a
        cold compile, whose functions may be compiled half in a child process
        (:mod:`.split_compile`) before the calls load them.
        """
        names = {"training": TRAINING_ENTRY_POINTS, "all": ALL_ENTRY_POINTS}.get(entry_points, entry_points)
        unknown = [e for e in names if e not in ALL_ENTRY_POINTS + ("parallel_epoch",)]
        if isinstance(names, str) or unknown:
            raise ValueError(f"unknown entry points {entry_points!r}; give 'training', 'all' or names from: "
                             f"{', '.join(ALL_ENTRY_POINTS)}")
        start = time.perf_counter()
        params = self.network.init_params(0, dtype=dtype)
        grads = params.zeros_like()
        Y = np.zeros((2, self.network.n_outputs))
        Y[:, 0] = 1.0
        X, Y = self.data(params, np.zeros((2, self.network.n_inputs)), Y)
        calls = {"forward": lambda: self.forward(X, params), "loss": lambda: self.loss(X, Y, params),
                 "evaluate": lambda: self.evaluate(X, Y, params),
                 "loss_and_grad": lambda: self.loss_and_grad(X, Y, params, grads)}
        empty = np.zeros(0, dtype=params.flat.dtype)
        sgd = abi.UpdateArguments(RULE_SGD, empty, empty, 0.0, 0.0, 0.0)
        calls["train_epoch"] = lambda: self.train_epoch(X, Y, np.arange(2), 2, params, grads, sgd, 0.0)
        # the batch-parallel epoch (needs splits_batches, and Numba's threads set to 2 or more)
        calls["parallel_epoch"] = lambda: self.train_epoch(X, Y, np.arange(2), 2, params, grads, sgd, 0.0, threads=2)
        if split:  # a cold compile: half of the functions in a child process, into Numba's cache
            from .split_compile import REPORT_COST, Job, compile_split
            arguments = {"forward": self._arguments("forward", params, X),
                         "loss": self._arguments("loss", params, X, Y),
                         "evaluate": self._arguments("evaluate", params, X, Y),
                         "loss_and_grad": self._arguments("loss_and_grad", params, X, Y, grads),
                         "train_epoch": self._epoch_arguments(X, Y, np.arange(2), 2, params, grads, sgd, 0.0)}
            jobs = self._compile_jobs(arguments, [n for n in names if n in arguments])
            if "report" not in self.meta and self._report_source is not None:
                # the op-count report (0.15 s of the README CNN's) is written to the cache atomically;
                # counted in the child, it is read here afterwards, else counted here on first use
                jobs.append(Job("op-count report", REPORT_COST, self._report_source))
            compile_split(jobs)
        for name in names:
            calls[name]()
        seconds = time.perf_counter() - start
        self.timings["compile_or_load"] = self.timings.get("compile_or_load", 0.0) + seconds
        return seconds


def check_view(network: Network, view: str) -> None:
    """Refuse, before any work, a kernel view that cannot serve ``network``."""
    if view not in VIEWS:
        raise ValueError(f"unknown kernel view {view!r}; choose one of: {', '.join(VIEWS)}")
    if view == "unrolled" and not network.unrollable:
        raise ArchitectureError("the unrolled view writes one line per weight of a dense network; "
                                "image layers compile from the index-level rules: use view='index' (--view index)")
    if view == "unrolled" and network.n_params > UNROLLED_PARAM_LIMIT:
        raise ArchitectureError(
            f"the unrolled view writes one line per weight; {network.n_params:,} parameters is more than "
            f"{UNROLLED_PARAM_LIMIT:,} and would take minutes to compile: use view='index' (--view index)")


def kernel_module(derivation, view: str = "index") -> "KernelModule":
    """Stage 4's value before it is printed: the kernel module (IR) of a derivation."""
    from ..version import __version__
    if view == "index":
        from .index_kernels import index_module
        return index_module(derivation, __version__)
    from .unrolled_kernels import unrolled_module
    return unrolled_module(derivation, __version__)


def definitions(network: Network) -> list[str]:
    """The text of every definition the kernels are derived from: each layer's forward rule,
    its activation and the loss, in the index notation (sizes as symbols).

    Names are not enough for a cache key once users register their own kinds: redefining
    ``swish``, or editing a layer's ``forward_rule`` in one's own file, must not meet the
    kernels of the old definition.  Building these expressions differentiates nothing.
    """
    import sympy as sp

    from ..model.notation import Y, j, n, width

    out = []
    for l, layer in enumerate(network.layers, start=1):
        rule = network.forward_rule(l)
        out.append(" ; ".join(str(e) for e in (rule.z_target, rule.z_expr, *(e for _, e, _ in rule.before))))
        out.append(str(layer.act.expression(sp.IndexedBase("z"), n, j, width(l))))
    out.append(str(network.loss.expression(sp.IndexedBase("a"), Y, n, width(len(network.layers)))))
    return out


def kernel_structure(network: Network) -> dict:
    """What index-level kernels depend on: the key they are cached under.

    A network whose every layer reads its width from its parameters (dense layers:
    ``W.shape[1]``) compiles to kernels that serve any widths: the kinds, activations,
    loss, which penalties are on and the definitions' text (:func:`definitions`, written
    in size symbols) are enough.  Other layers' loops are compiled for their exact
    geometry (kernel, stride, padding, image size): their key adds the spec.
    """
    key = {"definitions": definitions(network), "l1": network.l1 > 0, "l2": network.l2 > 0}
    if not network.any_width:
        return {**key, "spec": network.spec()}
    return {**key, "layers": [layer.kind for layer in network.layers],
            "activations": [l.activation for l in network.layers], "loss": network.loss.name}


def compile_network(network: Network, view: str = "index", cache_dir=None, warm_up: bool | str = True,
                    dtype: str | np.dtype = "float64") -> CompiledNetwork:
    """Derive, simplify, generate and compile kernels for ``network`` (or load them from cache).

    Index-level kernels read every width from the arrays they get, so they are cached by
    the network's *structure* (activation per layer and loss): a network that differs
    only in widths reuses compiled code.  The op-count report depends on the widths and
    is cached per model.  Unrolled kernels are cached per model.

    ``warm_up``: True compiles the entry points training calls, ``"all"`` every one
    (see :meth:`CompiledNetwork.warm_up`), False none (each compiles on its first call).
    """
    from .cache import cache_root, entry_key, kernel_salt, load_or_build, load_or_build_json

    check_view(network, view)
    entry_points = warm_up_entry_points(warm_up)
    timings: dict[str, float] = {}

    @functools.cache
    def derivation():  # only on a cache miss, and at most once
        from ..derive import derive_index_level, derive_unrolled
        start = time.perf_counter()
        value = derive_index_level(network) if view == "index" else derive_unrolled(network)
        timings["derive"] = time.perf_counter() - start
        return value

    def build() -> tuple[str, dict, dict[str, str]]:
        deriv = derivation()
        start = time.perf_counter()
        from .module import module_files
        module = kernel_module(deriv, view)
        source, files = module_files(module, salt=kernel_salt())
        formulas = list(module.formulas)
        timings["generate"] = time.perf_counter() - start
        return source, {"structure": structure, "view": view, "formulas": formulas}, files

    def report() -> dict:
        from ..simplify.report import count_index, count_unrolled_program
        count = count_index if view == "index" else count_unrolled_program
        return count(derivation()).to_dict()

    structure = kernel_structure(network) if view == "index" else {"spec": network.spec(),
                                                                    "definitions": definitions(network)}
    start = time.perf_counter()
    module, meta, kernels_cached, folder = load_or_build(structure, view, build, cache_dir)
    # the definitions' text too: a redefined activation of the same name counts differently
    report_key = entry_key({"spec": network.spec(), "definitions": definitions(network)}, view)
    report_path = cache_root(cache_dir) / "reports" / f"{view}-{report_key[:24]}.json"
    meta = {k: v for k, v in meta.items() if k != "report"}  # this network's, below, not the entry's
    timings["load_or_build"] = time.perf_counter() - start
    compiled = CompiledNetwork(network, view, module, meta, kernels_cached, folder, timings,
                               _report_source=lambda: load_or_build_json(report_path, report))
    if entry_points:  # (a cold compile may count the report in its child process)
        compiled.warm_up(dtype, entry_points, split=not kernels_cached)
    if not kernels_cached:  # derived anyway: count now, while the derivation is at hand
        compiled.report
    return compiled
