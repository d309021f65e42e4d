"""Vanishing and exploding gradients, measured: deep sigmoid vs ReLU + He, with and without clipping.

Each run trains the same deep network shape on scikit-learn's digits while recording
``‖∂L/∂W_l‖`` for every layer (:mod:`symbackprop.train.monitor`):

* **sigmoid + Xavier** -- sigmoid's slope is at most 1/4, so each layer down multiplies
  the gradient by a factor well below one: the first layer's gradient is orders of
  magnitude smaller than the last one's, and the first layers barely learn;
* **ReLU + He** -- ReLU passes gradients through unchanged where it is active, and He's
  variance 2/fan_in keeps the signal's scale from layer to layer: the norms stay level;
* **ReLU + 2×He** -- weights twice too large grow the signal by ~2 per layer: gradients
  explode and plain SGD diverges; **clipping** the gradient's global norm tames it.

Clipping is shown on every run, to make the point that it fixes explosion, not vanishing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from ..errors import SymbackpropError, TrainingDiverged


@dataclass(frozen=True)
class FlowSetup:
    """One run of the contrast."""

    label: str
    #: the initialisation family the run belongs to (runs differing only in clipping share it)
    family: str
    activation: str
    init: str
    init_scale: float = 1.0
    clip_norm: float | None = None


@dataclass
class FlowRun:
    """What one run recorded."""

    setup: FlowSetup
    #: per-layer gradient norms, one row per epoch, the initial row first
    grad_norms: np.ndarray
    train_loss: list[float]
    val_accuracy: float | None
    diverged_at: int | None = None

    @property
    def initial_ratio(self) -> float:
        """‖∂L/∂W_1‖ / ‖∂L/∂W_L‖ before training: ≪ 1 is vanishing."""
        return float(self.grad_norms[0, 0] / self.grad_norms[0, -1])

    @property
    def initial_spread(self) -> float:
        """Largest over smallest layer norm before training (1 is perfectly level)."""
        g = self.grad_norms[0]
        return float(g.max() / g.min())


@dataclass
class GradientFlow:
    """The contrast's runs and the network shape they share."""

    sizes: list[int]
    epochs: int
    lr: float
    runs: list[FlowRun] = field(default_factory=list)

    def table(self) -> str:
        depth = len(self.sizes) - 1
        head = f"{'run':<24} " + " ".join(f"{f'‖∂L/∂W{l}‖':>9}" for l in range(1, depth + 1))
        head += f" {'W1/W' + str(depth):>9} {'final loss':>10} {'val acc':>7}  outcome"
        lines = [f"Per-layer gradient norms before training, {'-'.join(map(str, self.sizes))} on digits "
                 f"({self.epochs} epochs of SGD, lr {self.lr:g}, batch 32):", head, "-" * len(head)]
        for r in self.runs:
            norms = " ".join(f"{v:>9.2e}" for v in r.grad_norms[0])
            loss = f"{r.train_loss[-1]:>10.4f}" if r.train_loss else f"{'—':>10}"
            acc = f"{r.val_accuracy:>7.3f}" if r.val_accuracy is not None else f"{'—':>7}"
            outcome = self.outcome(r)
            lines.append(f"{r.setup.label:<24} {norms} {r.initial_ratio:>9.2e} {loss} {acc}  {outcome}")
        return "\n".join(lines)

    def outcome(self, run: FlowRun) -> str:
        """What became of a run, in words: diverged, stayed at chance, or learned.  "At chance":
        validation accuracy below 1.5× that of guessing one of the classes (0.15 for ten)."""
        if run.diverged_at:
            return f"diverged in epoch {run.diverged_at}"
        chance = 1 / self.sizes[-1]
        if run.val_accuracy is None:
            return "trained (no validation accuracy)"
        if run.val_accuracy < 1.5 * chance:
            return f"stayed at chance ({chance:.2f}): did not learn"
        return "learned"

    def run(self, label: str) -> FlowRun:
        return next(r for r in self.runs if r.setup.label == label)


def default_setups(clip_norm: float = 1.0) -> list[FlowSetup]:
    """The six runs of the contrast: three initialisations, each without and with clipping."""
    base = [FlowSetup("sigmoid + Xavier", "sigmoid + Xavier", "sigmoid", "xavier_uniform"),
            FlowSetup("ReLU + He", "ReLU + He", "relu", "he_normal"),
            FlowSetup("ReLU + 2×He (exploding)", "ReLU + 2×He", "relu", "he_normal", init_scale=2.0)]
    return [run for s in base
            for run in (s, replace(s, label=f"{s.family}, clip {clip_norm:g}", clip_norm=clip_norm))]


def gradient_flow(depth: int = 8, width: int = 32, epochs: int = 20, lr: float = 0.1, seed: int = 0,
                  setups: Sequence[FlowSetup] | None = None,
                  on_run: Callable[[FlowRun], None] | None = None) -> GradientFlow:
    """Train each setup on digits with a ``depth``-layer network and record its gradient norms."""
    from ..codegen.compiled import compile_network
    from ..model.network import Network
    from ..train.data import load_digits
    from ..train.loop import check_settings, fit
    from ..train.monitor import layer_gradient_norms, monitor_sample

    if depth < 2:
        raise SymbackpropError(f"the contrast needs at least 2 layers, got depth {depth}")
    setups = list(setups or default_setups())
    check_settings(epochs, lr, 32, clip_norm=next((s.clip_norm for s in setups if s.clip_norm is not None), None))
    data = load_digits(seed=seed)
    sizes = [data.n_features] + [width] * (depth - 1) + [data.n_classes]
    result = GradientFlow(sizes, epochs, lr)
    for setup in setups:
        net = Network.mlp(sizes, setup.activation, loss="cce")
        compiled = compile_network(net)
        params = net.init_params(seed, setup.init)
        for l in range(1, depth + 1):
            params[f"W{l}"][...] *= setup.init_scale
        start = params.copy()
        records = []
        diverged = None
        try:
            history = fit(compiled, params, data.X_train, data.y_train, epochs=epochs, lr=lr, batch_size=32,
                          clip_norm=setup.clip_norm, seed=seed, X_val=data.X_val, y_val=data.y_val,
                          monitor_gradients=True, on_epoch=records.append)
            norms = history.grad_norms
        except TrainingDiverged:  # the history is lost with the error: measure the start again
            diverged = len(records) + 1
            initial = layer_gradient_norms(compiled, start, *monitor_sample(data.X_train, data.y_train))
            norms = np.array([initial] + [r.grad_norms for r in records])
        run = FlowRun(setup, norms, [r.train_loss for r in records],
                      records[-1].val_accuracy if records and not diverged else None, diverged)
        result.runs.append(run)
        if on_run is not None:
            on_run(run)
    return result


def gradient_flow_plot(flow: GradientFlow) -> "Plot":  # noqa: F821 (symbackprop.plotting's)
    """Three panels: norms per layer before training, first/last ratio per epoch, training loss per epoch.
    One colour per initialisation in every panel; solid without clipping, dashed with it."""
    from ..plotting import Plot, new_figure
    fig = new_figure(figsize=(15, 4.5))
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator
    left, middle, right = fig.subplots(1, 3)
    colors = {}
    for r in flow.runs:
        color = colors.setdefault(r.setup.family, f"C{len(colors)}")
        style = "--" if r.setup.clip_norm else "-"
        layers = np.arange(1, r.grad_norms.shape[1] + 1)
        if not r.setup.clip_norm:  # clipping acts on updates, not on the initial gradients
            left.plot(layers, r.grad_norms[0], "o-", color=color, label=r.setup.family)
        ratio = r.grad_norms[:, 0] / r.grad_norms[:, -1]
        middle.plot(np.arange(len(ratio)), ratio, style, color=color, label=r.setup.label)
        if r.train_loss:
            right.plot(np.arange(1, len(r.train_loss) + 1), r.train_loss, style, color=color, label=r.setup.label)
        if r.diverged_at:
            right.axvline(r.diverged_at, color=color, linestyle=":", label=f"{r.setup.label}: diverged here")
    left.set(yscale="log", xlabel="layer (1 = input side)", ylabel="‖∂L/∂W‖ before training (log)",
             title="gradient norm per layer")
    middle.set(yscale="log", xlabel="epoch (0 = before training)", ylabel="‖∂L/∂W₁‖ / ‖∂L/∂W_L‖ (log)",
               title="first layer vs last layer")
    middle.axhspan(0.1, 10, color="0.9", zorder=0)
    right.set(yscale="log", xlabel="epoch", ylabel="training loss (log)", title="training")
    for ax in (left, middle, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        handles, labels = ax.get_legend_handles_labels()
        if ax is middle:  # the grey band is explained where it is drawn
            handles.append(Patch(color="0.9", label="within 10× (neither vanishing nor exploding)"))
        ax.legend(handles=handles, fontsize=7)
    fig.suptitle(f"Vanishing and exploding gradients: {'-'.join(map(str, flow.sizes))} on digits "
                 "(solid: no clipping; dashed: gradient clipping)", fontsize=10)
    fig.tight_layout()
    return Plot(fig)


def plot_gradient_flow(flow: GradientFlow, path: str | os.PathLike) -> None:
    """:func:`gradient_flow_plot`, written to ``path``."""
    gradient_flow_plot(flow).save(path)
