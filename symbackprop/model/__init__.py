"""Stage 1 -- the model: layers, activations and losses as SymPy definitions."""
from .activations import ACTIVATIONS, Activation, get_activation
from .layers import AvgPool2D, Conv2D, Dense, Flatten, MaxPool2D
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .parameters import Parameters

__all__ = ["ACTIVATIONS", "Activation", "AvgPool2D", "Conv2D", "Dense", "Flatten", "LOSSES", "Loss", "MaxPool2D",
           "Network", "Parameters", "get_activation", "get_loss"]
