"""Layer kinds: one module each, every one registered in :data:`LAYERS`.

A layer describes what it is -- parameters, shapes, its forward rule in the index
notation -- not how it is differentiated or compiled; see :mod:`.base` for what a kind
declares and :func:`register_layer` to add one.
"""
from .base import LAYERS, Buffer, ForwardRule, Layer, RuleContext, Shape, layer_from_spec, register_layer
# imported in the order the kinds are listed to users (errors, --help)
from .dense import Dense
from .conv import Conv2D
from .pooling import AvgPool2D, MaxPool2D, Pool2D
from .flatten import Flatten
from .residual import Residual, ResidualAdd, expand_blocks, regroup
from .rule_layer import RuleLayer, rule_layer, rule_layer_from_record
from .windows import window_output

__all__ = ["AvgPool2D", "Buffer", "Conv2D", "Dense", "Flatten", "ForwardRule", "LAYERS", "Layer", "MaxPool2D",
           "Pool2D", "Residual", "ResidualAdd", "RuleContext", "RuleLayer", "Shape", "layer_from_spec", "expand_blocks", "regroup", "register_layer", "rule_layer", "rule_layer_from_record",
           "window_output"]
