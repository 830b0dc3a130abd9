"""The breakpoint condition language: a small, safe expression language over a slot payload.

A condition is parsed with :func:`ast.parse` (``mode="eval"``) and checked against an allow-list of
node types when the breakpoint is *set* (so a bad condition is a 400 with the reason, not a
surprise at run time). The checked tree is then turned into a tree of Python closures; evaluating a
condition calls those closures. User text never reaches ``eval``, ``exec`` or ``compile``.

What a condition may use:

* literals (numbers, strings, ``True``/``False``/``None``) and tuple/list/dict/set displays;
* names: each payload key, ``data`` (the whole payload) and ``shared`` (the job's shared data);
* subscripts and slices, comparisons (``== != < <= > >= in not in is is not``), ``and``/``or``/
  ``not``, arithmetic (``+ - * / // % **``, unary ``- +``) and ``x if c else y``;
* calls to ``len abs min max any all int float str bool round``;
* the methods ``get keys values items`` on mappings and ``startswith endswith lower upper strip
  lstrip rstrip isdigit`` on strings.

Bounds (why: a condition runs on the job's worker thread for every matching activation, so it must
not be able to stall or exhaust the process): text length and node count at creation; at
evaluation a step budget, a wall-clock budget, integer results of at most ``MAX_INT_BITS`` bits,
exponents checked *before* computing, and sequence/string results of at most ``MAX_SEQ_LEN``.
"""

from __future__ import annotations

import ast
import operator
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from routilux.errors import ConditionError

__all__ = [
    "Condition",
    "ConditionEvalError",
    "MAX_CONDITION_LENGTH",
    "MAX_INT_BITS",
    "MAX_NODES",
    "MAX_SEQ_LEN",
    "MAX_STEPS",
    "compile_condition",
]

MAX_CONDITION_LENGTH = 1000
MAX_NODES = 200
MAX_DEPTH = 40
MAX_STEPS = 10_000
MAX_SECONDS = 0.05
MAX_INT_BITS = 4096
MAX_SEQ_LEN = 10_000

_BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len, "abs": abs, "min": min, "max": max, "any": any, "all": all,
    "int": int, "float": float, "str": str, "bool": bool, "round": round,
}
_MAPPING_METHODS = frozenset({"get", "keys", "values", "items"})
_STR_METHODS = frozenset(
    {"startswith", "endswith", "lower", "upper", "strip", "lstrip", "rstrip", "isdigit"}
)
_METHODS = _MAPPING_METHODS | _STR_METHODS
# Values that str()/int()/float() may convert: never arbitrary objects, whose __str__ or
# __int__ could be anything.
_SCALARS = (str, int, float, bool, type(None))

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Subscript, ast.Slice, ast.Compare,
    ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple, ast.List,
    ast.Dict, ast.Set, ast.Call, ast.Attribute, *_BINOPS, *_UNARY, *_CMPOPS,
)


class ConditionEvalError(Exception):
    """A condition failed while being evaluated (bad key, wrong type, a bound was hit)."""


class _Env:
    """Evaluation state: the names in scope, and the budget left."""

    __slots__ = ("data", "shared", "steps", "deadline")

    def __init__(self, data: Mapping[str, Any], shared: Mapping[str, Any]) -> None:
        self.data = data
        self.shared = shared
        self.steps = 0
        self.deadline = time.perf_counter() + MAX_SECONDS


_Fn = Callable[[_Env], Any]


def _tick(env: _Env) -> None:
    env.steps += 1
    if env.steps > MAX_STEPS:
        raise ConditionEvalError(f"condition exceeded its budget of {MAX_STEPS} steps")
    if not env.steps & 63 and time.perf_counter() > env.deadline:
        raise ConditionEvalError(f"condition exceeded its time budget of {MAX_SECONDS}s")


@dataclass(frozen=True)
class Condition:
    """A checked condition, ready to evaluate many times."""

    source: str
    _fn: _Fn

    def evaluate(self, data: Mapping[str, Any] | None, shared: Mapping[str, Any] | None = None) -> bool:
        """The truth of the condition for ``data`` (the payload) and ``shared``.

        Raises :class:`ConditionEvalError` when evaluation fails; callers treat that as "no match".
        """
        env = _Env(data if data is not None else {}, shared if shared is not None else {})
        try:
            return bool(self._fn(env))
        except ConditionEvalError:
            raise
        except RecursionError as exc:  # pathological data (deeply nested comparisons)
            raise ConditionEvalError("condition recursed too deeply") from exc
        except Exception as exc:  # KeyError, TypeError, ZeroDivisionError, OverflowError...
            raise ConditionEvalError(f"{type(exc).__name__}: {exc}") from exc


def compile_condition(source: str) -> Condition:
    """Check ``source`` against the allow-list and build its evaluator.

    Raises :class:`~routilux.errors.ConditionError` with the reason when it is not allowed; its
    ``detail`` is ``{"field": "condition", "condition": <text>, "reason": <short reason>}``
    (the 400 body's ``detail`` through the API).
    """
    try:
        return _compile(source)
    except ConditionError as exc:
        if exc.detail is None:
            text = source if isinstance(source, str) else repr(source)
            if len(text) > MAX_CONDITION_LENGTH:
                text = text[:MAX_CONDITION_LENGTH] + "..."
            # The reason is the message's first clause; the rest says what to use instead.
            exc.detail = {"field": "condition", "condition": text,
                          "reason": exc.message.split("; ", 1)[0]}
        raise


def _compile(source: str) -> Condition:
    if not isinstance(source, str):
        raise ConditionError("a breakpoint condition must be a string expression, e.g. \"value > 10\"")
    text = source.strip()
    if not text:
        raise ConditionError("the breakpoint condition is empty; give an expression or omit it")
    if len(text) > MAX_CONDITION_LENGTH:
        raise ConditionError(
            f"the condition is {len(text)} characters long; keep it under {MAX_CONDITION_LENGTH}"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or str(exc) or type(exc).__name__
        raise ConditionError(f"the condition is not a valid expression: {msg}") from None
    _check(tree)
    return Condition(text, _build(tree.body))


def _check(tree: ast.Expression) -> None:
    """Reject anything outside the language, with a reason that names the construct."""
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConditionError(f"the condition is too complex (more than {MAX_NODES} parts)")
        if depth > MAX_DEPTH:
            raise ConditionError(f"the condition nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, _ALLOWED_NODES):
            raise ConditionError(
                f"{type(node).__name__} is not allowed in a condition; use literals, payload "
                "names, comparisons, and/or/not, arithmetic and len/abs/min/max/any/all/int/"
                "float/str/bool/round"
            )
        _check_node(node)
        stack.extend((child, depth + 1) for child in _children(node))


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes to check; a called method's name is checked by its Call, not as an attribute."""
    if isinstance(node, ast.Call):
        func = node.func
        head = [func.value] if isinstance(func, ast.Attribute) else []
        return head + list(node.args)
    return list(ast.iter_child_nodes(node))


def _check_node(node: ast.AST) -> None:
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, (str, int, float, bool, type(None))):
            raise ConditionError(f"the literal {type(node.value).__name__} is not allowed")
        if isinstance(node.value, str) and len(node.value) > MAX_SEQ_LEN:
            raise ConditionError("string literal too long")
    elif isinstance(node, ast.Name):
        if not isinstance(node.ctx, ast.Load):
            raise ConditionError("conditions cannot assign")
        if node.id.startswith("_"):
            raise ConditionError(f"the name {node.id!r} is not allowed (names may not start with '_')")
    elif isinstance(node, ast.Attribute):
        raise ConditionError(
            f"attribute access (.{node.attr}) is not allowed; only the methods "
            f"{', '.join(sorted(_METHODS))} may be called, e.g. data.get('key', 0)"
        )
    elif isinstance(node, ast.Call):
        if node.keywords:
            raise ConditionError("keyword arguments are not allowed in a condition")
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in _BUILTINS:
                raise ConditionError(
                    f"{func.id}() is not allowed; callable builtins are {', '.join(sorted(_BUILTINS))}"
                )
        elif isinstance(func, ast.Attribute):
            if func.attr not in _METHODS:
                raise ConditionError(
                    f".{func.attr}() is not allowed; allowed methods are {', '.join(sorted(_METHODS))}"
                )
            if len(node.args) > 2:
                raise ConditionError(f".{func.attr}() takes at most two arguments in a condition")
        else:
            raise ConditionError("only builtins and allowed methods may be called")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ConditionError("*args is not allowed in a condition")
    elif isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ConditionError("**mapping unpacking is not allowed in a condition")


# ---- building the evaluator ------------------------------------------------------------------

def _build(node: ast.AST) -> _Fn:
    builder = _BUILDERS.get(type(node))
    if builder is None:  # _check ran first; this is a defensive second gate
        raise ConditionError(f"{type(node).__name__} is not allowed in a condition")
    return builder(node)


def _build_constant(node: ast.Constant) -> _Fn:
    value = node.value
    return lambda env: value


def _build_name(node: ast.Name) -> _Fn:
    name = node.id
    if name == "data":
        return lambda env: env.data
    if name == "shared":
        return lambda env: env.shared

    def lookup(env: _Env) -> Any:
        try:
            return env.data[name]
        except KeyError:
            raise ConditionEvalError(f"the payload has no key {name!r}") from None

    return lookup


def _build_subscript(node: ast.Subscript) -> _Fn:
    value = _build(node.value)
    index = _build(node.slice)

    def subscript(env: _Env) -> Any:
        _tick(env)
        return _bounded(value(env)[index(env)])

    return subscript


def _build_slice(node: ast.Slice) -> _Fn:
    parts = [_build(p) if p is not None else None for p in (node.lower, node.upper, node.step)]

    def make(env: _Env) -> slice:
        lo, hi, st = (p(env) if p is not None else None for p in parts)
        for v in (lo, hi, st):
            if v is not None and not isinstance(v, int):
                raise ConditionEvalError("slice bounds must be integers")
        return slice(lo, hi, st)

    return make


def _build_compare(node: ast.Compare) -> _Fn:
    left = _build(node.left)
    ops = [_CMPOPS[type(op)] for op in node.ops]
    rights = [_build(c) for c in node.comparators]

    def compare(env: _Env) -> bool:
        _tick(env)
        a = left(env)
        for op, right in zip(ops, rights):
            b = right(env)
            if not op(a, b):
                return False
            a = b
        return True

    return compare


def _build_boolop(node: ast.BoolOp) -> _Fn:
    values = [_build(v) for v in node.values]
    is_and = isinstance(node.op, ast.And)

    def boolop(env: _Env) -> Any:
        _tick(env)
        result: Any = None
        for v in values:
            result = v(env)
            if bool(result) != is_and:
                return result
        return result

    return boolop


def _build_unary(node: ast.UnaryOp) -> _Fn:
    if not isinstance(node.op, tuple(_UNARY)):
        raise ConditionError(f"the operator {type(node.op).__name__} is not allowed")
    op = _UNARY[type(node.op)]
    operand = _build(node.operand)
    return lambda env: (_tick(env), op(operand(env)))[1]


def _build_binop(node: ast.BinOp) -> _Fn:
    if type(node.op) not in _BINOPS:
        raise ConditionError(f"the operator {type(node.op).__name__} is not allowed")
    kind = type(node.op)
    op = _BINOPS[kind]
    left, right = _build(node.left), _build(node.right)

    def binop(env: _Env) -> Any:
        _tick(env)
        a, b = left(env), right(env)
        _precheck(kind, a, b)
        return _bounded(op(a, b))

    return binop


def _precheck(kind: type, a: Any, b: Any) -> None:
    """Refuse operations whose *result* would be too big, before computing them."""
    if kind is ast.Pow:
        if isinstance(b, (int, float)) and abs(b) > MAX_INT_BITS:
            raise ConditionEvalError(f"exponent {b!r} is too large (limit {MAX_INT_BITS})")
        if isinstance(a, int) and isinstance(b, int) and b > 0:
            if max(a.bit_length(), 1) * b > MAX_INT_BITS:
                raise ConditionEvalError(f"the power would exceed {MAX_INT_BITS} bits")
    elif kind is ast.Mult:
        for seq, n in ((a, b), (b, a)):
            if isinstance(seq, (str, bytes, list, tuple)) and isinstance(n, int):
                if len(seq) * n > MAX_SEQ_LEN:
                    raise ConditionEvalError(f"the repeated sequence would exceed {MAX_SEQ_LEN} items")
        if isinstance(a, int) and isinstance(b, int):
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise ConditionEvalError(f"the product would exceed {MAX_INT_BITS} bits")
    elif kind is ast.Add:
        if isinstance(a, (str, bytes, list, tuple)) and isinstance(b, (str, bytes, list, tuple)):
            if len(a) + len(b) > MAX_SEQ_LEN:
                raise ConditionEvalError(f"the concatenation would exceed {MAX_SEQ_LEN} items")
    elif kind is ast.Mod and isinstance(a, (str, bytes)):
        # printf-style formatting can pad to any width ("%*d"); it has no place in a condition
        raise ConditionEvalError("string formatting with % is not allowed in a condition")


def _bounded(value: Any) -> Any:
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise ConditionEvalError(f"an integer exceeded {MAX_INT_BITS} bits")
    return value


def _build_ifexp(node: ast.IfExp) -> _Fn:
    test, body, orelse = _build(node.test), _build(node.body), _build(node.orelse)
    return lambda env: body(env) if (_tick(env), test(env))[1] else orelse(env)


def _build_seq(node: ast.Tuple | ast.List | ast.Set) -> _Fn:
    items = [_build(e) for e in node.elts]
    if any(isinstance(e, ast.Starred) for e in node.elts):
        raise ConditionError("*unpacking is not allowed in a condition")
    maker: Callable[[Any], Any] = {ast.Tuple: tuple, ast.List: list, ast.Set: set}[type(node)]
    return lambda env: (_tick(env), maker(i(env) for i in items))[1]


def _build_dict(node: ast.Dict) -> _Fn:
    keys = [_build(k) for k in node.keys if k is not None]
    values = [_build(v) for v in node.values]
    return lambda env: (_tick(env), {k(env): v(env) for k, v in zip(keys, values)})[1]


def _build_call(node: ast.Call) -> _Fn:
    args = [_build(a) for a in node.args]
    func = node.func
    if isinstance(func, ast.Name):
        name = func.id
        fn = _BUILTINS[name]

        def call_builtin(env: _Env) -> Any:
            _tick(env)
            values = [a(env) for a in args]
            if name in ("str", "int", "float") and values and not isinstance(values[0], _SCALARS):
                raise ConditionEvalError(f"{name}() accepts only str, int, float, bool or None here")
            if name == "round" and len(values) > 1 and isinstance(values[1], int) and abs(values[1]) > 100:
                raise ConditionEvalError("round() digits must be within +-100")
            return _bounded(fn(*values))

        return call_builtin
    assert isinstance(func, ast.Attribute)
    method = func.attr
    receiver = _build(func.value)

    def call_method(env: _Env) -> Any:
        _tick(env)
        obj = receiver(env)
        if method in _MAPPING_METHODS:
            if not isinstance(obj, Mapping):
                raise ConditionEvalError(f".{method}() needs a mapping, got {type(obj).__name__}")
        elif not isinstance(obj, str):
            raise ConditionEvalError(f".{method}() needs a string, got {type(obj).__name__}")
        values = [a(env) for a in args]
        return getattr(obj, method)(*values)

    return call_method


_BUILDERS: dict[type, Callable[[Any], _Fn]] = {
    ast.Constant: _build_constant, ast.Name: _build_name, ast.Subscript: _build_subscript,
    ast.Slice: _build_slice, ast.Compare: _build_compare, ast.BoolOp: _build_boolop,
    ast.UnaryOp: _build_unary, ast.BinOp: _build_binop, ast.IfExp: _build_ifexp,
    ast.Tuple: _build_seq, ast.List: _build_seq, ast.Set: _build_seq, ast.Dict: _build_dict,
    ast.Call: _build_call,
}

