"""Stage 1 -- the model: layers, activations and losses as SymPy definitions, and their checks.

Nothing here knows the later stages: each of them takes a :class:`Network` as its input.
"""
from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .layers import LAYERS, AvgPool2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, Residual, RuleLayer, register_layer, \
    rule_layer
from .losses import LOSSES, Loss, get_loss, register_loss
from .network import Network
from .parameters import Parameters

__all__ = ["ACTIVATIONS", "Activation", "AvgPool2D", "Conv2D", "Dense", "Flatten", "LAYERS", "LOSSES", "Layer", "Loss",
           "MaxPool2D", "Network", "Parameters", "Residual", "RuleLayer", "get_activation", "get_loss",
           "register_activation", "register_layer", "register_loss", "rule_layer"]
