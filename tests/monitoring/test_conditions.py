"""The breakpoint condition language: what it computes, and that hostile text cannot escape it."""

from __future__ import annotations

import ast
import builtins
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routilux.errors import ConditionError, ValidationError
from routilux.monitoring.conditions import ConditionEvalError, compile_condition

PAYLOAD: dict[str, Any] = {
    "value": 150, "name": "sensor-7", "items": [1, 2, 3], "nested": {"a": {"b": 1}},
    "flag": True, "ratio": 0.5, "text": "x" * 50,
}
SHARED: dict[str, Any] = {"threshold": 100, "seen": ["a", "b"]}


# ---- meaning ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("data.get('value', 0) > 100", True),
    ("data.get('missing', 0) > 100", False),
    ("value > 100", True),
    ("value > shared['threshold'] * 2", False),
    ("value >= shared.get('threshold') and flag", True),
    ("name.startswith('sensor') and len(items) == 3", True),
    ("name.upper() == 'SENSOR-7'", True),
    ("nested['a']['b'] == 1", True),
    ("items[-1] == 3 and items[0:2] == [1, 2]", True),
    ("2 in items and 5 not in items", True),
    ("max(items) + min(items) == 4 and abs(-3) == 3", True),
    ("any([flag, False]) and not all([flag, False])", True),
    ("int('42') == 42 and float('1.5') == 1.5 and str(7) == '7'", True),
    ("round(ratio * 10) == 5 and bool(items)", True),
    ("'a' if value > 1 else 'b'", True),
    ("(value // 7, value % 7) == (21, 3)", True),
    ("value ** 2 == 22500 and -value < 0", True),
    ("{'k': 1}.get('k') == 1 and len({1, 2, 2}) == 2", True),
    ("len(data.keys()) == 7 and 1 in data['items']", True),
    ("value is not None and data.get('nothing') is None", True),
    ("len(shared['seen']) > 5", False),
])
def test_conditions_compute_what_they_say(text: str, expected: bool) -> None:
    assert compile_condition(text).evaluate(PAYLOAD, SHARED) is expected


@pytest.mark.parametrize("text", [
    "missing_key > 1",       # NameError-like: the payload has no such key
    "value > 'a'",           # TypeError
    "value / 0 > 1",         # ZeroDivisionError
    "items[10] == 1",        # IndexError
    "nested['zz']",          # KeyError
    "name.get('x')",         # .get on a string
    "value.startswith('1')",  # string method on an int
])
def test_runtime_errors_are_condition_eval_errors(text: str) -> None:
    cond = compile_condition(text)
    with pytest.raises(ConditionEvalError):
        cond.evaluate(PAYLOAD, SHARED)


def test_condition_error_is_a_validation_error_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="attribute access"):
        compile_condition("().__class__")
    with pytest.raises(ConditionError, match="not allowed"):
        compile_condition("__import__('os')")
    with pytest.raises(ConditionError, match="not a valid expression"):
        compile_condition("value >")
    with pytest.raises(ConditionError, match="empty"):
        compile_condition("   ")


@pytest.mark.parametrize("text, reason", [
    ("().__class__", "attribute access (.__class__) is not allowed"),
    ("__import__('os')", "__import__() is not allowed"),
    ("_secret > 1", "the name '_secret' is not allowed (names may not start with '_')"),
    ("value >", "the condition is not a valid expression: invalid syntax"),
    ("open('x')", "open() is not allowed"),
    ("", "the breakpoint condition is empty"),
])
def test_a_rejected_condition_says_which_field_what_text_and_why(text: str, reason: str) -> None:
    # The API returns this detail with its 400, like every other bad field.
    with pytest.raises(ConditionError) as rejected:
        compile_condition(text)
    assert rejected.value.detail == {"field": "condition", "condition": text, "reason": reason}
    assert rejected.value.message.startswith(reason)


def test_a_huge_rejected_condition_is_not_echoed_whole() -> None:
    with pytest.raises(ConditionError) as rejected:
        compile_condition("x" * 100_000)
    assert len(rejected.value.detail["condition"]) < 1100


def test_self_referencing_payload_is_evaluated_safely() -> None:
    a: list[Any] = []
    a.append(a)
    b: list[Any] = []
    b.append(b)
    cond = compile_condition("a == b")  # two distinct self-referencing lists: unbounded recursion
    with pytest.raises(ConditionEvalError):
        cond.evaluate({"a": a, "b": b}, {})


# ---- hostile corpus -----------------------------------------------------------------------------

MARKER = Path("/tmp/routilux-condition-escape-marker")

HOSTILE_CORE = [
    # dunder walks
    "().__class__", "().__class__.__bases__[0].__subclasses__()", "''.__class__.__mro__[1]",
    "[].__class__.__base__.__subclasses__()", "data.__class__", "value.__dict__",
    "shared.__init__.__globals__", "data.get.__self__", "data.keys.__func__",
    "data.get('x').__class__", "value.real.__class__", "name.__len__()",
    "items.__getitem__(0)", "data.__getitem__('value')", "nested.__repr__()",
    "(1).__class__.__subclasses__()", "True.__class__.__base__", "None.__class__",
    "value.__class__.__base__.__subclasses__()[-1]", "data.items().__iter__()",
    "name.__class__.__mro__[-1].__subclasses__()", "data.__class__.__init__",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    # names that reach builtins / globals
    "__import__('os')", "__import__('os').system('touch " + str(MARKER) + "')",
    "__builtins__", "__builtins__['eval']('1')", "globals()", "locals()", "vars()", "dir()",
    "open('/etc/passwd').read()", "exec('import os')", "eval('1+1')",
    "compile('1', 'x', 'eval')", "getattr(data, '__class__')", "setattr(data, 'x', 1)",
    "type(data)", "type(data).__subclasses__()", "breakpoint()", "input()", "help()", "exit()",
    "quit()", "print(1)", "sum([1, 2])", "sorted(items)", "id(data)", "hash(name)",
    "iter(items)", "next(iter(items))", "object()", "super()", "memoryview(b'x')",
    "bytearray(10**9)", "range(10**9)", "list(range(10**9))", "map(str, items)",
    "filter(None, items)", "zip(items, items)", "enumerate(items)", "reversed(items)",
    "isinstance(value, int)", "callable(data)", "classmethod(len)", "staticmethod(len)",
    "property(len)", "issubclass(int, object)", "chr(65)", "ord('a')", "repr(data)",
    "ascii(data)", "format(data, '')", "hex(value)", "bin(value)", "divmod(1, 2)",
    "pow(9, 9, 9)", "_('x')", "__name__", "__file__", "__loader__", "__spec__",
    # lambdas and comprehensions
    "lambda: 1", "(lambda x: x)(1)", "(lambda: __import__('os'))()",
    "[x for x in range(10**9)]", "{x for x in items}", "{x: x for x in items}",
    "(x for x in items)", "any(x for x in range(10**10))", "all(x > 0 for x in items)",
    "[y for x in items for y in items]", "max(x for x in items)",
    # arithmetic bombs
    "9**9**9", "2**10**10", "10**100000", "(10**1000)**1000", "-(9**9**9)", "9**-9**9",
    "'a'*10**10", "[0]*10**9", "(1,)*10**9", "'x'*99999999", "items*10**9",
    "name*10**8", "(((1,)*100)*100)*100", "1<<10**9", "~0 << 999999", "2.0**10**5",
    "10.0**400 > 1", "int('1'*100000)", "len(str(9**4096))", "abs(-9**9**9)",
    "max([1]*10**8)", "round(1.5, 10**9)", "value**value**value", "(value*10**100)**50",
    "text*10**6", "text+text*10**5", "[items]*10**7",
    # format-string tricks
    "'{0.__class__}'.format(data)", "'{.__globals__}'.format(len)", "f'{data.__class__}'",
    "f'{value:>{10**9}}'", "'%s' % data", "'%*d' % (10**9, 1)", "'%(value)s' % data",
    "'{}'.format", "str.format('{}', data)", "name.format(data)", "f'{value!r}'",
    "'%c' % 1114111", "'%0999999999d' % 1", "'{:>9999999999}'.format(1)",
    # statements and other syntax
    "(x := 1)", "data['a'] = 1", "del data", "import os", "yield 1", "await data",
    "[*items]", "{**data}", "len(*items)", "max(items, key=len)", "int(x=1)",
    "print(*items)", "value if value else (yield)", "assert False", "raise ValueError",
    "pass", "global x", "from os import system",
    # attribute chains via allowed-looking methods
    "data.copy()", "data.pop('value')", "data.clear()", "data.update({})",
    "data.setdefault('a', 1)", "shared.clear()", "data.__setitem__('a', 1)",
    "name.join(items)", "name.zfill(10**9)", "name.center(10**9)", "name.ljust(10**9)",
    "name.replace('', 'x'*9999)", "name.encode()", "name.split().__class__",
    "data.get('f')()", "data['f']()", "items[0]()", "(data.get)('value').__class__",
    "name.strip().__class__", "data.get(data.get)", "data.values().mapping",
    # pathological size / nesting
    "(" * 200 + "1" + ")" * 200, "not " * 500 + "True", "[" * 100 + "]" * 100,
    "+".join(["value"] * 600), " < ".join(["1"] * 400), "-" * 300 + "1",
    "value" + " or value" * 300, "9" * 5000, "1\x00", "'" + "a" * 20000 + "'",
    # mutation and type-object tricks
    "object.__subclasses__()", "int.__subclasses__()", "str.mro()", "dict.fromkeys(range(10**9))",
    "data.fromkeys(items)", "shared.popitem()", "items.append(1)", "items.extend(items)",
    "items.sort()", "items.clear()", "name.translate({})", "name.maketrans('a', 'b')",
    "value.to_bytes(10**9, 'big')", "value.bit_length().__class__", "nested['a'].__class__",
    "data['__class__'].__init__", "[value][0].__class__", "(value,).__class__", "{1}.__class__",
    "{'a': 1}.__class__", "b'x'", "b'x' * 10", "...", "1j", "0x10**0x10**0x10",
    "max(range(10**9))", "min(iter(int, 1))", "len(range(10**18))", "globals().update",
    "__builtins__.__dict__", "__loader__.load_module('os')", "data.__reduce__()",
    "data.__reduce_ex__(2)", "value.__format__('>9999999999')", "format(value, '>9999999999')",
    "name.__mod__(data)",
    # unicode lookalikes (identifiers are NFKC-normalised by the parser)
    "\uff45\uff56\uff41\uff4c('1')", "__\uff49mport__('os')", "\u0430bs(1)",
]

CONTEXTS = ["{e}", "value > 1 and ({e})", "({e}) == 1", "not ({e})", "len([{e}]) > 0"]


def _corpus() -> list[str]:
    out = []
    for e in HOSTILE_CORE:
        for ctx in CONTEXTS:
            out.append(ctx.format(e=e))
    return out


CORPUS = _corpus()


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE_CORE) >= 200
    assert len(CORPUS) >= 1000


@pytest.fixture
def no_code_execution(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Fail loudly if anything calls eval/exec, compiles code to run, or reaches the OS."""
    calls: list[str] = []
    real_compile = builtins.compile

    def guarded_compile(source: Any, filename: Any, mode: Any, flags: int = 0, *a: Any, **k: Any) -> Any:
        if not flags & ast.PyCF_ONLY_AST:  # ast.parse is allowed: it builds a tree, runs nothing
            calls.append(f"compile({source!r})")
            raise AssertionError("compile() to code was called")
        return real_compile(source, filename, mode, flags, *a, **k)

    def forbidden(name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} was called")
        return fail

    monkeypatch.setattr(builtins, "compile", guarded_compile)
    monkeypatch.setattr(builtins, "eval", forbidden("eval"))
    monkeypatch.setattr(builtins, "exec", forbidden("exec"))
    monkeypatch.setattr(os, "system", forbidden("os.system"))
    MARKER.unlink(missing_ok=True)
    yield calls
    assert not MARKER.exists()


def _check_safe(text: str) -> str:
    """'rejected' at creation, or 'evaluated' (result or ConditionEvalError) quickly."""
    try:
        cond = compile_condition(text)
    except ConditionError:
        return "rejected"
    t0 = time.perf_counter()
    try:
        result = cond.evaluate(dict(PAYLOAD), dict(SHARED))
        assert isinstance(result, bool)
    except ConditionEvalError:
        pass
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"{text!r} took {elapsed:.2f}s"
    return "evaluated"


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # e.g. "'is' with a literal" from ast.parse
def test_every_hostile_expression_is_rejected_or_evaluated_safely(no_code_execution: list[str]) -> None:
    outcomes = {text: _check_safe(text) for text in CORPUS}
    assert no_code_execution == []
    # The overwhelming majority are refused outright; the rest (e.g. '9**9**9', "'a'*10**10")
    # parse but are stopped by the evaluator's bounds.
    rejected = sum(1 for v in outcomes.values() if v == "rejected")
    assert rejected > len(CORPUS) * 0.7
    # Spot-check the categories the issue names.
    for text in ["().__class__", "__import__('os')", "lambda: 1", "[x for x in range(10**9)]",
                 "data.get.__self__", "'{0.__class__}'.format(data)", "f'{value:>{10**9}}'"]:
        assert outcomes[text] == "rejected", text
    for text in ["9**9**9", "'a'*10**10", "(10**1000)**1000", "'%*d' % (10**9, 1)"]:
        assert outcomes[text] == "evaluated", text  # parses, but the evaluator refuses the work
        with pytest.raises(ConditionEvalError):
            compile_condition(text).evaluate(PAYLOAD, SHARED)


def test_payload_keys_that_look_dangerous_are_just_keys() -> None:
    cond = compile_condition("data.get('__class__') == 'x' and shared.get('__builtins__') is None")
    assert cond.evaluate({"__class__": "x"}, {}) is True
    assert cond.evaluate({}, {}) is False


# ---- property-based ------------------------------------------------------------------------------

_ATOMS = st.sampled_from([
    "1", "0", "-1", "9", "10**9", "1.5", "'s'", "''", "True", "None", "value", "name", "items",
    "data", "shared", "nested", "missing", "__class__", "__import__", "_x", "len", "eval", "open",
    "[1, 2]", "(1,)", "{'a': 1}", "{1}", "text",
])
_BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<<", ">>", "&", "|", "^", "@", " and ", " or ",
           " == ", " < ", " in ", " is ", " not in "]
_ATTRS = ["get", "keys", "upper", "__class__", "__dict__", "__globals__", "format", "mro",
          "__subclasses__", "__init__", "strip", "join", "real"]
_FUNCS = ["len", "abs", "max", "int", "str", "round", "eval", "exec", "getattr", "__import__",
          "type", "vars", "print", "sum", "range"]


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(_BINOPS), children).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        st.tuples(children, st.sampled_from(_ATTRS)).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(children, st.sampled_from(_ATTRS), children).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
        st.tuples(st.sampled_from(_FUNCS), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(children, children).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children).map(lambda t: f"[{t[0]} for x in {t[1]}]"),
        children.map(lambda c: f"(lambda: {c})()"),
        children.map(lambda c: f"f'{{{c}}}'"),
        children.map(lambda c: f"not {c}"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    )


EXPRESSIONS = st.recursive(_ATOMS, _combine, max_leaves=12)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_random_expressions_are_rejected_or_evaluated_safely(text: str) -> None:
    _check_safe(text)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_condition_error(text: str) -> None:
    try:
        cond = compile_condition(text)
    except ConditionError:
        return
    try:
        cond.evaluate(PAYLOAD, SHARED)
    except ConditionEvalError:
        pass
