"""Layer descriptions: what a layer is, not how it is differentiated or compiled."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ArchitectureError
from .activations import Activation, get_activation


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``z = x @ W + b``, ``a = activation(z)``.

    ``W`` has shape ``(fan_in, fan_out)``: ``W[i, j]`` is the weight from input ``i`` to
    neuron ``j``.  The activation name is checked at construction, so a typo fails at once.
    """

    fan_in: int
    fan_out: int
    activation: str = "identity"

    def __post_init__(self) -> None:
        for field in ("fan_in", "fan_out"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArchitectureError(f"Dense {field} must be a positive integer, got {value!r}")
        act = get_activation(self.activation)  # raises UnknownActivationError
        object.__setattr__(self, "activation", act.name)

    @property
    def act(self) -> Activation:
        return get_activation(self.activation)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of this layer's parameters, weights first."""
        return {"W": (self.fan_in, self.fan_out), "b": (self.fan_out,)}

    def spec(self) -> dict:
        """A JSON-able description, used for cache keys and checkpoints."""
        return {"type": "dense", "fan_in": self.fan_in, "fan_out": self.fan_out, "activation": self.activation}
