"""Stage 1 -- the model: layers, activations and losses as SymPy definitions."""
from .activations import ACTIVATIONS, Activation, get_activation
from .layers import Dense
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .parameters import Parameters

__all__ = ["ACTIVATIONS", "Activation", "Dense", "LOSSES", "Loss", "Network", "Parameters",
           "get_activation", "get_loss"]
