"""Explain: backpropagation shown step by step, with every number tied to its formula.

Beside the pipeline rather than in it: it reads the derivation (stage 2) and evaluates it
for one sample, and renders what it finds as Unicode text, Markdown, LaTeX, HTML, pictures (matplotlib)
and a self-contained interactive page.
"""
from .draw import draw_network
from .explanation import Explanation
from .image_rules import explain_image_network
from .param_names import parse_param
from .walkthrough import explain, teaching_params

__all__ = ["Explanation", "draw_network", "explain", "explain_image_network", "parse_param", "teaching_params"]
