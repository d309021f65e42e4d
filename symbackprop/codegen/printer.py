"""The kernel printer: SymPy's Python printer, taught what a Numba kernel needs.

It prints both halves of a generated kernel: scalar expressions (below) and the kernel
IR's statements (:mod:`.ir`: loops, assignments, BLAS calls, entry points), one
``_print_<Node>`` method each, as SymPy's own printers do for its ``codegen.ast``.

Subclassing the printer (rather than pasting ``str(expr)``) gets precedence, numeric
literals and special functions right.  Scalar functions print through ``math`` (Numba
compiles ``math.log`` on floats to the same code as C), except ``exp``, which prints as
the module's arithmetic-only ``_exp`` (:mod:`.vector_exp`); the stable :class:`softplus`
prints as the module helper ``_softplus``; ``Piecewise``, ``KroneckerDelta`` and the
index bracket ``InRange`` print as conditional expressions; ``floor`` and ``ceiling`` of
an integer ratio (loop bounds) print as integer floor division.  ``Sum`` and ``ArgMax``
must have been lowered to loops before printing.
"""
from __future__ import annotations

import keyword
import re
import textwrap

import sympy as sp
from sympy.printing.pycode import PythonCodePrinter

from . import ir

INDENT = "    "

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CodegenError(Exception):
    """Internal: an expression the kernel printer cannot print."""


#: an argument type code of a kernel called by address (:mod:`.kernel_table`)
_TYPE_CODE = re.compile(r"^(?:[fi][1-9][0-9]*|d|n|v)$")


def safe_identifier(name: str) -> str:
    """Return ``name`` if it is a plain Python identifier that is not a keyword, else raise.

    Every name in generated code comes from the model (``W1``, ``z2``) or the generator
    (``_x3``); this check makes sure nothing else, such as a quote or newline, ever can.
    """
    if not _IDENTIFIER.match(name) or keyword.iskeyword(name):
        raise CodegenError(f"refusing to print {name!r}: not a plain Python identifier")
    return name


class KernelPrinter(PythonCodePrinter):
    """Prints scalar SymPy expressions as Numba-compilable Python."""

    def __init__(self, settings: dict | None = None) -> None:
        super().__init__({"fully_qualified_modules": True, "standard": "python3", **(settings or {})})

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return safe_identifier(expr.name)

    _print_Dummy = _print_Symbol

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return safe_identifier(str(expr.label))

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        return f"{self._print(expr.base)}[{', '.join(self._print(i) for i in expr.indices)}]"

    def _print_exp(self, expr: sp.Function) -> str:
        return f"_exp({self._print(expr.args[0])})"

    def _print_softplus(self, expr: sp.Function) -> str:
        return f"_softplus({self._print(expr.args[0])})"

    def _print_Where(self, expr: sp.Function) -> str:
        condition, yes, no = (self._print(a) for a in expr.args)
        return f"(({yes}) if {condition} else ({no}))"

    def _print_sign(self, expr: sp.Function) -> str:
        return f"np.sign({self._print(expr.args[0])})"

    def _print_Sum(self, expr: sp.Sum) -> str:
        raise CodegenError("Sum reached the printer: it should have been lowered to a loop")

    def _print_ArgMax(self, expr: sp.Expr) -> str:
        raise CodegenError("ArgMax reached the printer: it should have been lowered to a loop")

    def _print_InRange(self, expr: sp.Function) -> str:
        e, lo, hi = (self._print(a) for a in expr.args)
        return f"(1 if {lo} <= {e} <= {hi} else 0)"

    def _integer_ratio(self, arg: sp.Expr) -> tuple[str, int] | None:
        numerator, denominator = sp.fraction(sp.together(arg))
        if denominator.is_Integer and denominator > 0 and numerator.is_integer:
            return self._print(numerator), int(denominator)
        return None

    def _print_floor(self, expr: sp.Function) -> str:
        ratio = self._integer_ratio(expr.args[0])
        return f"(({ratio[0]}) // {ratio[1]})" if ratio else super()._print_floor(expr)

    def _print_ceiling(self, expr: sp.Function) -> str:
        ratio = self._integer_ratio(expr.args[0])
        return f"(-((-({ratio[0]})) // {ratio[1]}))" if ratio else super()._print_ceiling(expr)

    def _print_Rational(self, expr: sp.Rational) -> str:
        return f"({expr.p}/{expr.q})" if expr.q != 1 else str(expr.p)

    def _print_Integer(self, expr: sp.Integer) -> str:
        return str(int(expr))

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exp = expr.as_base_exp()
        if exp == -1:
            return f"1.0/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}"
        return super()._print_Pow(expr, rational=rational)

    def _print_NegativeInfinity(self, expr) -> str:
        return "-math.inf"

    def _print_Infinity(self, expr) -> str:
        return "math.inf"

    # -- the IR's expression leaves ---------------------------------------------------------------
    def _print_Dim(self, expr: ir.Dim) -> str:
        array, axis = expr.args
        return f"{self._print(array)}.shape[{self._print(axis)}]"

    def _print_Length(self, expr: ir.Length) -> str:
        return f"{self._print(expr.args[0])}.size"

    def _print_Whole(self, expr: ir.Whole) -> str:
        return f"{self._print(expr.args[0])}[...]"

    def _print_Transposed(self, expr: ir.Transposed) -> str:
        return f"{self._print(expr.args[0])}.T"

    def _print_Part(self, expr: ir.Part) -> str:
        array, index = expr.args
        return f"{self._print(array)}[{self._print(index)}]"

    def _print_Rows(self, expr: ir.Rows) -> str:
        array, lo, hi = (self._print(a) for a in expr.args)
        return f"{array}[{lo}:{hi}]"

    def _print_Reshaped(self, expr: ir.Reshaped) -> str:
        array, rows, cols = (self._print(a) for a in expr.args)
        return f"{array}.reshape(({rows}, {cols}))"

    def _print_FloorDiv(self, expr: ir.FloorDiv) -> str:
        a, b = (self.parenthesize(arg, sp.printing.precedence.PRECEDENCE["Mul"]) for arg in expr.args)
        return f"{a} // {b}"

    def _print_Call(self, expr: ir.Call) -> str:
        name, *args = expr.args
        return f"{self._print(name)}({', '.join(self._print(a) for a in args)})"

    def _print_IsFinite(self, expr: ir.IsFinite) -> str:
        return f"math.isfinite({self._print(expr.args[0])})"

    # -- the IR's statements ----------------------------------------------------------------------
    def statements(self, nodes) -> list[str]:
        """Source lines of a sequence of IR statements."""
        return [line for node in nodes for line in self.statement(node).split("\n")]

    def statement(self, node: ir.Node) -> str:
        """The source of one IR statement (``doprint`` is for expressions: it sympifies)."""
        method = getattr(self, f"_print_{type(node).__name__}", None)
        if method is None:
            raise CodegenError(f"no way to print a {type(node).__name__} statement")
        return method(node)

    def _expr(self, expr) -> str:
        """One expression of a statement, through ``doprint`` (which refuses what it cannot print)."""
        return self.doprint(expr)

    def _block(self, nodes) -> str:
        lines = self.statements(nodes) or ["pass"]
        return "\n".join(INDENT + line if line else line for line in lines)

    def _condition(self, expr: sp.Basic) -> str:
        if isinstance(expr, sp.core.relational.Relational):  # no parentheses around a lone comparison
            return f"{self._expr(expr.lhs)} {expr.rel_op} {self._expr(expr.rhs)}"
        return self._expr(expr)

    def _print_Assign(self, node: ir.Assign) -> str:
        return f"{self._expr(node.target)} {node.op}= {self._expr(node.value)}"

    def _print_Loop(self, node: ir.Loop) -> str:
        bounds = self._expr(node.stop) if node.start is None else f"{self._expr(node.start)}, {self._expr(node.stop)}"
        loop = "prange" if node.parallel else "range"
        return f"for {self._expr(node.index)} in {loop}({bounds}):\n" + self._block(node.body)

    def _print_Branch(self, node: ir.Branch) -> str:
        text = f"if {self._condition(node.condition)}:\n" + self._block(node.body)
        return text + ("\nelse:\n" + self._block(node.orelse) if node.orelse else "")

    def _print_Allocate(self, node: ir.Allocate) -> str:
        shape = ", ".join(self._expr(e) for e in node.shape)
        dtype = f"np.{node.dtype}" if node.dtype in ("int64", "float64") else f"{safe_identifier(node.dtype)}.dtype"
        make = "np.zeros" if node.zeros else "np.empty"
        return f"{self._expr(node.name)} = {make}(({shape}{',' if len(node.shape) == 1 else ''}), dtype={dtype})"

    def _print_FlatView(self, node: ir.FlatView) -> str:
        array = self._expr(node.array)
        shape = f"({array}.shape[0], -1)" if node.per_sample else "-1"
        return f"{self._expr(node.name)} = {array}.reshape({shape})"

    def _print_MatMul(self, node: ir.MatMul) -> str:
        left, right, out = (self._expr(a) for a in (node.left, node.right, node.out))
        return f"_matmul({left}, {right}, {out})" if node.into_existing else f"{out} = np.dot({left}, {right})"

    def _print_Evaluate(self, node: ir.Evaluate) -> str:
        return self._expr(node.call)

    def _print_Return(self, node: ir.Return) -> str:
        return "return " + ", ".join(self._expr(v) for v in node.values)

    def _print_Skip(self, node: ir.Skip) -> str:
        return "continue"

    def _print_Comment(self, node: ir.Comment) -> str:
        return "\n".join(f"# {line}".rstrip() for line in node.text.replace("\r", " ").split("\n"))

    def _print_KernelTableDeclaration(self, node: ir.KernelTableDeclaration) -> str:
        rows = []
        for kernel, returns, codes in node.kernels:
            if not all(_TYPE_CODE.match(code) for code in (returns, *codes)):
                raise CodegenError(f"{kernel}: {returns}, {codes} are not type codes")
            rows.append(f"{INDENT}({safe_identifier(kernel)!r}, {returns!r}, {tuple(codes)!r}),")
        uses = [f"{INDENT}{safe_identifier(function)!r}: {tuple(safe_identifier(k) for k in kernels)!r},"
                for function, kernels in node.uses]
        return (f"{safe_identifier(node.name)} = KernelTable(globals(), (\n" + "\n".join(rows) + "\n), {\n"
                + "\n".join(uses) + "\n})")

    def _print_KernelFunction(self, node: ir.KernelFunction) -> str:
        head = [node.decorator] if node.decorator else []
        opening = f"def {safe_identifier(node.name)}("
        arguments = textwrap.wrap(", ".join(safe_identifier(a) for a in node.arguments) + "):", 116 - len(opening),
                                  break_long_words=False, break_on_hyphens=False)
        head.append(opening + f"\n{' ' * len(opening)}".join(arguments))
        doc = [INDENT + f"# {line}".rstrip() for line in node.doc]
        return "\n".join(head + doc) + "\n" + self._block(node.body)
