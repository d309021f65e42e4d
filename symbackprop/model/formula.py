"""A user's formula, read safely into SymPy: ``"z / (1 + exp(-z))"`` -> ``z/(1 + exp(-z))``.

The text is parsed by Python's :mod:`ast` and the tree is walked here, node by node,
against a whitelist; the SymPy expression is built from the nodes that pass.  Nothing
is ever handed to ``eval``, ``exec``, ``sympify`` or ``parse_expr`` (which all end in
``eval``), so a formula can name only what :data:`FUNCTIONS` and the caller's variables
name: ``__import__('os')``, ``().__class__``, a lambda or a string is refused with a
:class:`~symbackprop.errors.FormulaError` that quotes the offending part, before
anything runs.

What a formula may hold:

* numbers (``2``, ``0.5``, ``1e-3``), the constants ``pi`` and ``e``/``E``, and the
  caller's variables (``z`` for an activation; ``a`` and ``y`` for a loss);
* ``+ - * / **`` and parentheses;
* the functions of :data:`FUNCTIONS` (``exp``, ``log``, ``erf``, ``sigmoid``, ``abs`` ...);
* conditions, only where a branch is chosen: ``where(z > 0, z, 0.01*z)``,
  ``z if z > 0 else 0``, or SymPy's own ``Piecewise((z, z > 0), (0, True))``, with
  ``< <= > >=``, ``and``/``or``/``not`` (or ``& | ~``);
* for a layer's rule (:mod:`.rule_layer`), the layer's arrays indexed by its indices
  (``W[j, i]``, ``x[j + p]``) and ``sum(expr, i, ...)``.

The SymPy text of an accepted formula (``str(expr)``) reads back through the same parser,
which is how checkpoints store a user's math.
"""
from __future__ import annotations

import ast
from typing import Callable, Mapping

import sympy as sp

from ..errors import FormulaError

#: longest formula accepted (characters), and most tree nodes
MAX_LENGTH = 2000
MAX_NODES = 600
#: deepest nesting of calls and operations
MAX_DEPTH = 40
#: largest numeric exponent, and largest number a power of numbers may make:
#: ``10**10**10`` or ``((9**64)**64)**64`` would make SymPy compute a huge integer
MAX_EXPONENT = 64
MAX_BITS = 1024
#: deepest nesting of branches (where, max, min, if-else): each copies its arguments into
#: a condition, so nested ones double the expression's size at every level
MAX_BRANCH_DEPTH = 6


def _piecewise_max(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Piecewise((a, a >= b), (b, True))


def _piecewise_min(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Piecewise((a, a <= b), (b, True))


#: name -> (number of arguments, builder); ``max``/``min`` become Piecewise, whose
#: derivative SymPy writes branch by branch (``Max``'s would hold Heaviside)
FUNCTIONS: dict[str, tuple[int, Callable[..., sp.Expr]]] = {
    "exp": (1, sp.exp),
    "log": (1, sp.log),
    "log1p": (1, lambda x: sp.log(1 + x)),
    "expm1": (1, lambda x: sp.exp(x) - 1),
    "sqrt": (1, sp.sqrt),
    "tanh": (1, sp.tanh),
    "sinh": (1, sp.sinh),
    "cosh": (1, sp.cosh),
    "sin": (1, sp.sin),
    "cos": (1, sp.cos),
    "atan": (1, sp.atan),
    "erf": (1, sp.erf),
    "erfc": (1, sp.erfc),
    "abs": (1, sp.Abs),
    "Abs": (1, sp.Abs),
    "sign": (1, sp.sign),
    "sigmoid": (1, lambda x: 1 / (1 + sp.exp(-x))),
    "softplus": (1, lambda x: sp.log(1 + sp.exp(x))),
    "max": (2, _piecewise_max),
    "Max": (2, _piecewise_max),
    "min": (2, _piecewise_min),
    "Min": (2, _piecewise_min),
}
CONSTANTS = {"pi": sp.pi, "e": sp.E, "E": sp.E}
_COMPARE = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
            ast.GtE: sp.GreaterThan}
_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
               ast.Div: lambda a, b: a / b}


def quoted(text: str, limit: int = 80) -> str:
    """``text`` in quotes, shortened to ``limit`` characters for a one-line error."""
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


class _Reader:
    """Builds SymPy from one parsed formula; every node kind it meets must be handled here."""

    def __init__(self, text: str, what: str, variables: Mapping[str, sp.Basic],
                 arrays: Mapping[str, tuple[sp.IndexedBase, int]], indices: Mapping[str, sp.Symbol]) -> None:
        self.text, self.what = text, what
        self.variables, self.arrays, self.indices = variables, arrays, indices
        self.branches = 0  # how many branch constructs enclose the node being read

    def branch(self, node: ast.AST, build: Callable[[], sp.Expr]) -> sp.Expr:
        """``build()`` for a where/max/min/if-else node, refusing branches nested too deeply."""
        self.branches += 1
        try:
            if self.branches > MAX_BRANCH_DEPTH:
                raise self.fail(node, f"nests branches (where, max, min, if-else) more than {MAX_BRANCH_DEPTH} deep")
            return build()
        finally:
            self.branches -= 1

    def fail(self, node: ast.AST | None, problem: str) -> FormulaError:
        part = ast.get_source_segment(self.text, node) if node is not None else None
        where = f": {quoted(part)}" if part and part != self.text.strip() else ""
        return FormulaError(f"{self.what}: formula {quoted(self.text)}{where} {problem}")

    # -- values --------------------------------------------------------------------------
    def value(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            if isinstance(node.op, ast.Pow):
                if right.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
                    raise self.fail(node.right, "is not a finite number (a division by zero?)")
                if right.is_Number and abs(right) > MAX_EXPONENT:
                    raise self.fail(node, f"has an exponent larger than {MAX_EXPONENT}")
                if left.is_Number and right.is_Number and abs(left) > 1 and \
                        float(sp.log(abs(left), 2)) * float(abs(right)) > MAX_BITS:
                    raise self.fail(node, f"is a number larger than 2**{MAX_BITS}")
                return left ** right
            if type(node.op) not in _ARITHMETIC:
                raise self.fail(node, f"uses the operator {type(node.op).__name__}; only + - * / ** are allowed")
            return _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = self.value(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.IfExp):
            return self.branch(node, lambda: sp.Piecewise((self.value(node.body), self.condition(node.test)),
                                                          (self.value(node.orelse), True)))
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Subscript):
            return self.element(node)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            raise self.fail(node, "is a condition where a value belongs: choose a value with where(condition, "
                                  "value_if_true, value_if_false)")
        raise self.fail(node, f"is not allowed in a formula ({_describe(node)})")

    def number(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"is not allowed in a formula ({_describe(node)})")
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise self.fail(node, "is not a finite number")
            return sp.Rational(repr(value)) if abs(value) < 1e15 else sp.Float(value)
        if abs(value) > 10 ** 15:
            raise self.fail(node, "is too large a number for a formula")
        return sp.Integer(value)

    def name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.variables:
            return self.variables[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in self.indices:
            return self.indices[node.id]
        if node.id in FUNCTIONS or node.id in ("where", "Piecewise", "sum"):
            raise self.fail(node, f"names the function {node.id} without calling it")
        known = [*self.variables, *self.arrays, *self.indices, *CONSTANTS]
        raise self.fail(node, f"is not a name a formula can use; it may use {', '.join(known)}, numbers, and "
                              f"the functions {', '.join(sorted(set(FUNCTIONS) | {'where', 'Piecewise'}))}")

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node.func, f"is not a function a formula can call ({_describe(node.func)})")
        name = node.func.id
        if node.keywords:
            raise self.fail(node, "passes a keyword argument; give the arguments by position")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "unpacks arguments with *, which a formula cannot do")
        if name == "where":
            if len(node.args) != 3:
                raise self.fail(node, "needs three arguments: where(condition, value_if_true, value_if_false)")
            test, yes, no = node.args
            return self.branch(node, lambda: sp.Piecewise((self.value(yes), self.condition(test)),
                                                          (self.value(no), True)))
        if name == "Piecewise":
            return self.branch(node, lambda: self.piecewise(node))
        if name == "sum" and self.indices:
            return self.summation(node)
        if name not in FUNCTIONS:
            raise self.fail(node.func, f"is not a function a formula can call; choose one of: "
                                       f"{', '.join(sorted(set(FUNCTIONS) | {'where', 'Piecewise'}))}")
        arity, build = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.fail(node, f"calls {name} with {len(node.args)} argument(s); it takes {arity}")
        if name.lower() in ("max", "min"):
            return self.branch(node, lambda: build(*(self.value(a) for a in node.args)))
        return build(*(self.value(a) for a in node.args))

    def piecewise(self, node: ast.Call) -> sp.Expr:
        pieces = []
        for arg in node.args:
            if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                raise self.fail(arg, "must be a (value, condition) pair inside Piecewise")
            pieces.append((self.value(arg.elts[0]), self.condition(arg.elts[1])))
        if not pieces or pieces[-1][1] is not sp.true:
            raise self.fail(node, "needs a last piece (value, True) for the values no other condition covers")
        return sp.Piecewise(*pieces)

    def summation(self, node: ast.Call) -> sp.Expr:
        if len(node.args) < 2:
            raise self.fail(node, "needs the summed expression and the indices it sums over: sum(expr, i)")
        body = self.value(node.args[0])
        limits = []
        for arg in node.args[1:]:
            if not (isinstance(arg, ast.Name) and arg.id in self.indices):
                raise self.fail(arg, f"is not an index to sum over; the indices are {', '.join(self.indices)}")
            limits.append(self.indices[arg.id])
        return sp.Sum(body, *((k, 0, sp.Symbol(f"_extent_{k}") - 1) for k in limits))

    def element(self, node: ast.Subscript) -> sp.Expr:
        if not (isinstance(node.value, ast.Name) and node.value.id in self.arrays):
            raise self.fail(node, "indexes something that is not one of the layer's arrays "
                                  f"({', '.join(self.arrays) or 'there are none'})")
        base, rank = self.arrays[node.value.id]
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(items) != rank:
            raise self.fail(node, f"gives {len(items)} index(es); {node.value.id} takes {rank}")
        for item in items:  # checked on the tree, before SymPy expands anything
            if not self.linear_index(item):
                raise self.fail(item, "must be an index, a whole number >= 0, or a sum of indices times whole "
                                      "numbers (j + p, 2*j)")
        indices = [self.value(item) for item in items]
        if any(index.is_Integer and index < 0 for index in indices):
            raise self.fail(node, "reads at a negative position")
        return base[tuple(indices)]

    def linear_index(self, node: ast.AST) -> bool:
        """Whether ``node`` is whole numbers and indices joined by + and -, and * by a number."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, int) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            return node.id in self.indices
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.linear_index(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            return self.linear_index(node.left) and self.linear_index(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            number = [isinstance(n, ast.Constant) and self.linear_index(n) for n in (node.left, node.right)]
            return any(number) and self.linear_index(node.left) and self.linear_index(node.right)
        return False

    # -- conditions ------------------------------------------------------------------------
    def condition(self, node: ast.AST):
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node, ast.Compare):
            parts, left = [], self.value(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    raise self.fail(node, "compares with == or != or 'is'; use < <= > >=")
                right = self.value(comparator)
                parts.append(_COMPARE[type(op)](left, right))
                left = right
            return sp.And(*parts)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v) for v in node.values]
            return sp.And(*parts) if isinstance(node.op, ast.And) else sp.Or(*parts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            left, right = self.condition(node.left), self.condition(node.right)
            return sp.And(left, right) if isinstance(node.op, ast.BitAnd) else sp.Or(left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert)):
            return sp.Not(self.condition(node.operand))
        raise self.fail(node, "is not a condition (compare values with < <= > >=)")


def _describe(node: ast.AST) -> str:
    names = {ast.Attribute: "attribute access", ast.Lambda: "a lambda", ast.ListComp: "a comprehension",
             ast.GeneratorExp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
             ast.JoinedStr: "a string", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
             ast.Set: "a set", ast.NamedExpr: "an assignment", ast.Await: "await", ast.Starred: "unpacking"}
    if isinstance(node, ast.Constant):
        return f"a {type(node.value).__name__} constant"
    return names.get(type(node), type(node).__name__)


def parse(text: str, what: str, variables: Mapping[str, sp.Basic], arrays: Mapping[str, tuple[sp.IndexedBase, int]]
          | None = None, indices: Mapping[str, sp.Symbol] | None = None) -> sp.Expr:
    """The SymPy expression ``text`` writes, in the caller's ``variables`` (and, for a
    layer rule, its ``arrays`` with their ranks and its ``indices``).

    ``what`` names the formula in errors (``"activation 'swish'"``).  Raises
    :class:`FormulaError` for anything outside the whitelist, quoting it.
    """
    if not isinstance(text, str):
        raise FormulaError(f"{what}: a formula must be text, got {type(text).__name__}")
    if not text.strip():
        raise FormulaError(f"{what}: the formula is empty")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"{what}: the formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"{what}: formula {quoted(text)} is not a formula: {exc.msg}") from None
    except ValueError as exc:  # a null byte
        raise FormulaError(f"{what}: formula {quoted(text)} is not a formula: {exc}") from None
    except (RecursionError, MemoryError):
        raise FormulaError(f"{what}: formula {quoted(text)} is nested too deeply") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise FormulaError(f"{what}: the formula has more than {MAX_NODES} parts")
    if _depth(tree) > MAX_DEPTH:
        raise FormulaError(f"{what}: formula {quoted(text)} is nested too deeply (more than {MAX_DEPTH} levels)")
    reader = _Reader(text.strip(), what, variables, arrays or {}, indices or {})
    try:
        expr = reader.value(tree.body)
    except FormulaError:
        raise
    except RecursionError:
        raise FormulaError(f"{what}: formula {quoted(text)} is nested too deeply") from None
    except (TypeError, ValueError, ArithmeticError, sp.PolynomialError, sp.SympifyError) as exc:
        # SymPy refusing a construct it cannot build (a comparison with a non-real number)
        raise FormulaError(f"{what}: formula {quoted(text)} cannot be built: {exc}") from None
    if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise FormulaError(f"{what}: formula {quoted(text)} is not finite ({expr}): a division by zero?")
    return expr


def _depth(tree: ast.AST) -> int:
    """How deeply the tree nests (without recursion, so no input can exhaust the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest
