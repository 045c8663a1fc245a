"""Expressions: static ones are computed in Python, ones touching traced arrays build IR.

Contract: `eval(node)` returns a static Python value or a `Traced`. Python operators on traced
operands follow NumPy (arith.binary with `python_op=True`); `and`/`or`/`not` on traced scalars
are logical ops; `is`/`in` are static. Container displays and comprehensions over static
iterables are built in Python (`for row in x` over an array iterates its rows). A
`FrontendError` raised below is re-raised as a TraceError naming this node.
"""
from __future__ import annotations

import ast
import builtins
import functools
import operator
import types
from dataclasses import replace

import numpy as np

from ..errors import AdcompilerError
from . import analysis, arith, linalg, masked, numpy_api, outside, shapes, text
from .indexing import Flat, getitem
from .problems import Fallback, FrontendError, api_misuse_located
from .pybuiltins import RuntimeRange
from .randomness import outer_scope
from .shapes import each_row
from .source import with_locals
from .values import Traced, contains_traced

BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
          ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.MatMult: "matmul",
          ast.BitAnd: "logical_and", ast.BitOr: "logical_or", ast.BitXor: "ne"}
PYOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
         ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
         ast.Mod: operator.mod, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
         ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
         ast.RShift: operator.rshift}
INPLACE = {ast.Add: operator.iadd, ast.Sub: operator.isub, ast.Mult: operator.imul,
           ast.Div: operator.itruediv, ast.Pow: operator.ipow, ast.FloorDiv: operator.ifloordiv,
           ast.Mod: operator.imod, ast.MatMult: operator.imatmul, ast.BitAnd: operator.iand,
           ast.BitOr: operator.ior, ast.BitXor: operator.ixor, ast.LShift: operator.ilshift,
           ast.RShift: operator.irshift}
CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
PYCMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
         ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Is: operator.is_,
         ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
         ast.NotIn: lambda a, b: a not in b}


def _library(module_name: str) -> bool:
    from .calls import library          # (calls imports this module)
    return library(module_name)


_NOWHERE = (None, None)


def _class_entry(obj, name):
    """(the class, the entry) that defines `name` for `obj` (a class: in its own MRO), or
    (None, None)."""
    for cls in obj.__mro__ if isinstance(obj, type) else type(obj).__mro__:
        if name in cls.__dict__:
            return cls, cls.__dict__[name]
    return _NOWHERE


def _stored(obj, name, value, default=()) -> bool:
    """Whether `value` is what `obj` stores for `name` (its own `__dict__`, a `__slots__`
    slot, or a class's `__dict__`, a method bound to `obj` included) or the default of a missing
    attribute, not an object made on each access (a property's result)."""
    try:
        own = getattr(obj, "__dict__", None)
        if isinstance(own, dict) and name in own:
            return own[name] is value
        cls, stored = _class_entry(obj, name)
        if cls is not None:
            return stored is value or isinstance(stored, types.MemberDescriptorType) or (
                isinstance(value, types.MethodType) and value.__func__ is stored)
        return bool(default) and value is default[0]
    except Exception:           # an object whose __dict__ or __mro__ raises: not watched
        return False


def _user_property(obj, name) -> bool:
    """Whether `obj.name` is a property a user class defines (its getter is user code)."""
    try:
        cls, entry = _class_entry(type(obj), name)
    except Exception:           # an object whose __mro__ raises: not watched
        return False
    return isinstance(entry, property) and not _library(cls.__module__)


def _user_getter(obj, name):
    """(function, arguments) of the user's code that computes `obj.name` on access, other than
    a property's: a `functools.cached_property` not computed yet (computed each time here), or
    the class's `__getattr__` for a name the object and its class do not hold; else None."""
    try:
        cls, entry = _class_entry(type(obj), name)
        own = getattr(obj, "__dict__", None)
        if isinstance(own, dict) and name in own:
            return None
        if isinstance(entry, functools.cached_property) and not _library(cls.__module__):
            return entry.func, [obj]
        fallback = _class_entry(type(obj), "__getattr__")
        if cls is None and fallback[0] is not None and not _library(fallback[0].__module__):
            return fallback[1], [obj, name]
    except Exception:           # an object whose __dict__ or __mro__ raises: not traced
        pass
    return None


_END = object()
MAX_ITEMS = 100_000     # items of one static iteration (as loops.MAX_STATIC_ITERATIONS)


def run_static(fn, *args, **kwargs):
    """Call Python code on static values; its exceptions become FrontendErrors."""
    try:
        with api_misuse_located():
            return fn(*args, **kwargs)
    except (FrontendError, AdcompilerError):
        raise
    except Exception as e:      # the user's static code failed: report it at their line
        # (Python code run on a run-time array sees the frontend's stand-in for it)
        text = str(e).replace("'Traced' object", "run-time array").replace("'Traced'",
                                                                            "'run-time array'")
        raise FrontendError(f"{type(e).__name__}: {text}") from None


def is_arrayish(x) -> bool:
    return isinstance(x, Traced)


class ExpressionsMixin:
    def eval(self, node):
        method = getattr(self, "expr_" + type(node).__name__, None)
        # an expression on a later line of its statement gives its ops that line: a run-time
        # error (a NaN, an index out of bounds) then names the line of the operation
        loc = self.builder.loc
        moved = loc is not None and getattr(node, "lineno", loc[1]) != loc[1] \
            and loc[0] == self.filename
        if moved:
            self.builder.loc = self.loc_at(node.lineno)
        try:
            if method is None:
                raise FrontendError(f"'{type(node).__name__}' expressions are not supported")
            return method(node)
        except FrontendError as e:
            raise self.located(e, node) from None
        finally:
            if moved:
                self.builder.loc = loc

    # -- atoms -----------------------------------------------------------------------------
    def expr_Constant(self, node):
        return node.value

    def expr_Name(self, node):
        return self.lookup(node.id)

    def expr_Attribute(self, node):
        return self.attribute(self.eval(node.value), node.attr)

    def attribute(self, obj, name, *default):
        """`getattr(obj, name[, default])`; a value stored as itself outside the traced code
        is watched (outside.py)."""
        if isinstance(obj, Traced):
            if default and not hasattr(np.ndarray, name):
                return default[0]
            return numpy_api.attribute(self, obj, name)
        if _user_property(obj, name) and contains_traced(obj):
            # a model object's property computes from its arrays: traced like a method
            return self.call(_class_entry(type(obj), name)[1].fget, [obj], {})
        getter = _user_getter(obj, name) if contains_traced(obj) else None
        if getter is not None:      # (its cached_property and __getattr__ too)
            try:
                return self.call(getter[0], getter[1], {})
            except AttributeError:  # (the getter's own, raised as a TraceError that is one)
                if not default:
                    raise
                return default[0]
        value = run_static(getattr, obj, name, *default)
        if _stored(obj, name, value, default) \
                and not (isinstance(obj, types.ModuleType) and _library(obj.__name__)) \
                or _user_property(obj, name) and outside.by_value(value):
            self.session.reads.add("attr", obj, name)
        return value

    def expr_Subscript(self, node):
        obj = self.eval(node.value)
        key = self.eval_index(node.slice)
        return self.subscript(obj, key)

    def subscript(self, obj, key):
        if isinstance(obj, Traced):
            return getitem(self, obj, key)
        if isinstance(obj, Flat):
            return obj.get(self, key)
        if isinstance(obj, RuntimeRange):
            if key == slice(None, None, -1):
                return obj.reversed(self)
            raise FrontendError("a range with a run-time bound can be reversed ([::-1]) but "
                                "not indexed or sliced otherwise: change the range's bounds, "
                                "or index with the loop variable")
        if isinstance(key, Traced) and isinstance(obj, np.ndarray):
            return getitem(self, self.tensor(obj), key)
        if isinstance(obj, np.ndarray) and _has_traced(key):
            return getitem(self, self.tensor(obj), key)
        if (obj is np.r_ or obj is np.c_) and _has_traced(key):
            return shapes.index_concatenate(self, obj, key)
        stale = self.session.stale_chosen.get(id(obj))
        if stale is not None and stale[0] is obj:
            raise FrontendError(stale[1])
        if isinstance(obj, dict) and contains_traced(key):     # (Python's KeyError: <traced>)
            raise FrontendError("a dict key needs a compile-time value, but this is a run-time "
                                "value: stack the dict's arrays into one (np.stack) and index it")
        value = run_static(operator.getitem, obj, key)
        if isinstance(key, slice):
            self.watch_whole(obj)
        else:
            self.watch_item(obj, key)
        return value

    def built_here(self, obj) -> bool:
        """Whether `obj` is a dict or list the traced code built (`note_built`)."""
        return self.session.made.get(id(obj)) is obj

    def watch_item(self, obj, key):
        """Note an entry of a dict or list read (present or not), unless it holds traced
        values (then it was built by the traced code)."""
        if not isinstance(obj, (dict, list)):
            return
        try:
            value = dict.get(obj, key) if isinstance(obj, dict) else list.__getitem__(obj, key)
        except Exception:           # an unhashable key, an index out of range: Python says so
            return
        if not contains_traced(value):
            self.session.reads.add("item", obj, key)

    def watch_member(self, key, obj):
        """Note `key in obj` on a dict (that entry's presence) or list or set (all of it)."""
        if isinstance(obj, dict):
            self.session.reads.add("has", obj, key)
        else:
            self.watch_whole(obj)

    def watch_whole(self, obj):
        """Note a dict, list or set the traced code uses as a whole (outside.py)."""
        if isinstance(obj, (dict, list, set, frozenset)) and not contains_traced(obj):
            self.session.reads.add("whole", obj)

    def eval_index(self, node):
        if isinstance(node, ast.Slice):
            parts = [self.eval(p) if p is not None else None
                     for p in (node.lower, node.upper, node.step)]
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self.eval_index(e) for e in node.elts)
        return self.eval(node)

    # -- operators -------------------------------------------------------------------------
    def binop(self, op_type, a, b):
        if isinstance(a, Traced) or isinstance(b, Traced):
            name = BINOPS.get(op_type)
            if name is None:
                raise FrontendError(f"operator {op_type.__name__} is not supported on arrays")
            a, b = self.operand(a), self.operand(b)
            if name == "matmul":
                return linalg.matmul(self, a, b)
            if op_type in (ast.BitAnd, ast.BitOr, ast.BitXor):
                for x in (a, b):
                    dt = x.dtype if isinstance(x, Traced) else np.asarray(x).dtype
                    if str(dt) not in ("bool", "b"):
                        raise FrontendError("bitwise operators are only supported on booleans "
                                            "(use np.logical_and / np.logical_or)")
            if name == "pow" and type(b) is int and b < 0 and isinstance(a, Traced) and a.weak \
                    and a.dtype == "i64":
                # (a run-time Python int to a negative int: Python's power is a float)
                a = self.wrap(self.cast(a.value, "f64"), weak=True)
            if name == "pow" and type(b) is int and b == 2 and isinstance(a, Traced) \
                    and a.dtype == "bool" and a.ndim:
                # (an array to the Python int 2 is NumPy's np.square, not np.power; a NumPy
                # bool scalar's is its power, int64)
                raise FrontendError("NumPy makes ** 2 of bools int8 (it computes np.square), "
                                    "a dtype adcompiler does not compute with; convert first "
                                    "(x.astype(np.int64) ** 2)")
            return arith.binary(self, name, a, b, python_op=True)
        return run_static(PYOPS[op_type], a, b)

    def operand(self, x):
        """An array operand: lists holding traced values become arrays (np.array rules)."""
        if isinstance(x, (list, tuple)) and _has_traced(x):
            return numpy_api.FUNCTIONS[np.array](self, x)
        return x

    def expr_BinOp(self, node):
        if isinstance(node.op, ast.MatMult):    # (x[m] @ y[m]: a sum over a run-time mask)
            pair = ast.copy_location(ast.Tuple(elts=[node.left, node.right], ctx=ast.Load()),
                                     node)
            (left, right), reads = masked.evaluate(self, pair)
            if reads.mask is not None:
                return masked.dot(self, left, right, reads)
            return self.binop(ast.MatMult, left, right)
        left, right = self.eval(node.left), self.eval(node.right)
        if isinstance(left, str) and isinstance(node.op, ast.Mod) and text.dynamic(right):
            return run_static(text.percent, left, right)        # for print
        return self.binop(type(node.op), left, right)

    def expr_UnaryOp(self, node):
        return self.unaryop(type(node.op), self.eval(node.operand))

    def unaryop(self, op, x):
        if op is ast.Not:
            if isinstance(x, Traced):
                return arith.unary(self, "logical_not", arith.truth(self, x), python_op=True)
            return run_static(operator.not_, x)
        if not isinstance(x, Traced):
            return run_static({ast.USub: operator.neg, ast.UAdd: operator.pos,
                               ast.Invert: operator.invert}[op], x)
        if op is ast.USub:
            return arith.unary(self, "neg", x, python_op=True)
        if op is ast.UAdd:
            return self.wrap(x.value, weak=x.weak, nonneg=x.nonneg)
        if x.dtype in ("i64", "i32"):   # two's complement: ~x is -x - 1
            return arith.binary(self, "sub", arith.unary(self, "neg", x, python_op=True), 1,
                                python_op=True)
        if x.dtype != "bool":
            raise FrontendError("~ is only supported on boolean and integer arrays")
        return arith.unary(self, "logical_not", x, python_op=True)

    def expr_BoolOp(self, node):
        is_and = isinstance(node.op, ast.And)
        acc = self.eval(node.values[0])
        for k, sub in enumerate(node.values[1:], 1):
            if not isinstance(acc, Traced):
                truthy = run_static(bool, acc)
                if truthy != is_and:          # short-circuit, as Python does
                    return acc
                acc = self.eval(sub)
                continue
            if self._may_raise_or_change(node.values[k:]):
                # what follows runs only where Python runs it (`i < n and x[i] > 0`)
                rest = ast.copy_location(ast.BoolOp(op=node.op, values=node.values[k:]), node) \
                    if k < len(node.values) - 1 else sub
                first = acc
                return self.runtime_choice(
                    arith.truth(self, acc), *((lambda: self.eval(rest), lambda: first)
                                              if is_and else (lambda: first,
                                                              lambda: self.eval(rest))),
                    f"the '{'and' if is_and else 'or'}' at line {node.lineno} (a run-time "
                    "condition)")
            b = self.eval(sub)
            acc = self.logical(is_and, acc, b)
        return acc

    def logical(self, is_and, a, b):
        """`a and b` / `a or b` with a traced `a` (both operands evaluated)."""
        def is_bool(x):
            return (isinstance(x, Traced) and x.dtype == "bool") or isinstance(x, (bool, np.bool_))
        if is_bool(a) and is_bool(b):
            ta, tb = arith.truth(self, a), arith.truth(self, b)
            out = arith.binary(self, "logical_and" if is_and else "logical_or", ta, tb)
            # Python returns one of the operands: a Python bool only if both are
            out.weak = all(x.weak if isinstance(x, Traced) else isinstance(x, bool) for x in (a, b))
            return out
        cond = arith.truth(self, a)
        return arith.where(self, cond, b, a) if is_and else arith.where(self, cond, a, b)

    def expr_Compare(self, node):
        return self._chain(self.eval(node.left), node.ops, node.comparators, node.lineno)

    def _chain(self, left, ops, comparators, line):
        """`left op0 c0 op1 c1 ...`: each comparison and'ed onto the last, as Python does."""
        result = None
        for k, (op, right_node) in enumerate(zip(ops, comparators, strict=True)):
            if isinstance(result, Traced) and self._may_raise_or_change(comparators[k:]):
                first, at = result, left
                return self.runtime_choice(
                    arith.truth(self, result),
                    lambda: self._chain(at, ops[k:], comparators[k:], line), lambda: first,
                    f"the comparison at line {line} (a run-time condition)")
            right = self.eval(right_node)
            if (isinstance(left, Traced) or isinstance(right, Traced)) and type(op) in CMPOPS:
                part = arith.binary(self, CMPOPS[type(op)], self.operand(left),
                                    self.operand(right), python_op=True)
            else:
                part = run_static(PYCMP[type(op)], left, right)
                if type(op) in (ast.In, ast.NotIn):
                    self.watch_member(left, right)
            if result is None:
                result = part
            elif isinstance(result, Traced) or isinstance(part, Traced):
                result = self.logical(True, result, part)
            else:
                result = run_static(lambda a, b: a and b, result, part)
                if not run_static(bool, result):
                    return result
            left = right
        return result

    def _may_raise_or_change(self, exprs) -> bool:
        """Whether evaluating `exprs` may fail or change something (an index, a call of what
        is not a library function: a user's, a method): where an `and`, `or` or comparison
        chain on a run-time value would skip them, they must not run. (NumPy's functions, on
        arrays, neither fail nor change anything: `a > 0 and np.isfinite(b)` stays one
        elementwise expression, its operands promoted as NumPy's.)"""
        return any(isinstance(n, ast.Subscript)
                   or isinstance(n, ast.Call) and not self._library_function(n.func)
                   for e in exprs for n in ast.walk(e))

    def _library_function(self, func) -> bool:
        """Whether the callee `func` names is a library's (`np.sum`, `math.exp`, `abs`), by its
        root name as this frame sees it, without evaluating anything."""
        from .calls import library
        root = analysis.root_name(func)
        f = self.frame
        if root in f.vars or root in f.closure or root in f.globals:
            value = f.vars.get(root, f.closure.get(root, f.globals.get(root)))
            return isinstance(value, types.ModuleType) and library(value.__name__)
        return hasattr(builtins, root or "")

    def expr_IfExp(self, node):
        test = self.eval(node.test)
        if isinstance(test, Traced):
            return self.runtime_choice(
                arith.truth(self, test), lambda: self.eval(node.body),
                lambda: self.eval(node.orelse),
                f"the if-expression at line {node.lineno} (a run-time condition)")
        return self.eval(node.body if run_static(bool, test) else node.orelse)

    # -- containers ------------------------------------------------------------------------
    def iterate(self, x) -> list:
        """Static iteration: the items of a static iterable, or an array's rows."""
        return run_static(list, self.iterate_lazily(x))

    def made_iterator(self, it):
        """`it`, an iterator the traced code made (zip, iter, itertools'), noted with the
        run-time loops and branches it was made in (`consumed`)."""
        self.session.iterators[id(it)] = (it, len(self.session.draw_scopes))
        return it

    def consumed(self, it):
        """Refuse to take items of an iterator the traced code made outside the run-time loop
        or branch being traced: that takes them once, while tracing, where Python takes them
        on each iteration, or only in the branch taken (a static loop doing it is unrolled).
        (One it did not note, as an array's `.flat`, is taken as it comes.)"""
        made = self.session.iterators.get(id(it))
        if made is None or made[0] is not it:
            return
        where = outer_scope(self.session, made[1])
        if where is None:
            return
        if where == "loop":
            raise Fallback("it takes items of an iterator made before the loop (make a list of "
                           "them before it: list(...))")
        raise FrontendError("an iterator made before this run-time if is consumed in it: "
                            "Python takes its items only in the branch taken, the compiled "
                            "code in both, while tracing; make a list of them before the if "
                            "(list(...))")

    def iterate_lazily(self, x):
        """`iterate` one item at a time, as Python's for does: a body that changes the list it
        iterates (sets a later entry, appends) sees the change in later iterations."""
        self.consumed(x)
        if isinstance(x, Traced):
            return each_row(self, x)
        if isinstance(x, RuntimeRange):
            raise FrontendError("iterating a range with a run-time bound needs a for loop "
                                "(comprehensions and unpacking need a static length)")
        if isinstance(x, np.ndarray):
            return list(x)
        self.watch_whole(x)
        items = run_static(iter, x)

        def checked():      # (a dict changed in size meanwhile: Python's RuntimeError)
            for _ in range(MAX_ITEMS):
                item = run_static(next, items, _END)
                if item is _END:
                    return
                yield item
            raise FrontendError(f"an iteration while tracing went past {MAX_ITEMS} items (a "
                                "loop that appends to the list it walks?)")
        return checked()

    def elements(self, elts) -> list:
        out = []
        for e in elts:
            if isinstance(e, ast.Starred):
                out.extend(self.iterate(self.eval(e.value)))
            else:
                out.append(self.eval(e))
        return out

    def expr_Tuple(self, node):
        return tuple(self.elements(node.elts))

    def expr_List(self, node):
        return self.note_built(self.elements(node.elts))

    def note_built(self, container):
        """Note a dict or list the traced code builds (a literal, a comprehension): one handed to
        a function run natively is not watched (calls.watch_arguments)."""
        self.session.made[id(container)] = container
        return container

    def expr_Dict(self, node):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:
                given = self.eval(v)
                self.watch_whole(given)         # ({**CFG}: CFG's entries are read)
                out.update(run_static(dict, given))
            else:
                key = self.eval(k)
                if isinstance(key, Traced):
                    key._static("a dict key")
                out[key] = self.eval(v)
        return self.note_built(out)

    def comprehension(self, generators, emit):
        """Run `emit()` for each combination of the generators' items (static iteration); the
        comprehension's variables are restored afterwards (they do not leak, as in Python 3)."""
        names = set()
        for g in generators:
            names |= {n.id for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        saved = {n: self.frame.vars[n] for n in names if n in self.frame.vars}
        code = self.frame.code
        self.frame.code = with_locals(code, names)
        # a lambda made here closes over the comprehension's scope: its variables as they are
        # when it is called, their last values once the comprehension is done (late binding)
        outer = self.frame.scope
        scope = self.frame.scope = type(self.frame)(replace(code, locals=frozenset(names)),
                                                    parent=outer or self.frame)     # a Frame
        scope.vars = self.frame.vars

        def loop(k):
            if k == len(generators):
                emit()
                return
            g = generators[k]
            for item in self.iterate_lazily(self.eval(g.iter)):     # (as Python's)
                self.assign(g.target, item)
                if all(self.static_truth(self.eval(c)) for c in g.ifs):
                    loop(k + 1)
        try:
            loop(0)
        finally:
            scope.vars = {n: self.frame.vars[n] for n in names if n in self.frame.vars}
            self.frame.scope = outer
            for n in names:
                self.frame.vars.pop(n, None)
            self.frame.vars.update(saved)
            self.frame.code = code

    def static_truth(self, x) -> bool:
        if isinstance(x, Traced):
            raise FrontendError("a comprehension's condition must be static (use np.where for "
                                "run-time choices)")
        return run_static(bool, x)

    def expr_ListComp(self, node):
        out = []
        self.comprehension(node.generators, lambda: out.append(self.eval(node.elt)))
        return self.note_built(out)

    expr_GeneratorExp = expr_ListComp       # only as a call argument (checked before tracing)

    def expr_DictComp(self, node):
        out = {}

        def emit():
            key = self.eval(node.key)
            if isinstance(key, Traced):
                key._static("a dict key")
            out[key] = self.eval(node.value)
        self.comprehension(node.generators, emit)
        return self.note_built(out)

    def expr_JoinedStr(self, node):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(v.value)
                continue
            spec = self.eval(v.format_spec) if v.format_spec is not None else ""
            parts.append((self.eval(v.value), v.conversion, spec))
        return run_static(text.fstring, parts)

    def expr_Lambda(self, node):
        return self.make_closure(node)

    def expr_Starred(self, node):
        raise FrontendError("starred expression in this position is not supported")

    def expr_Slice(self, node):
        return self.eval_index(node)


def _has_traced(x) -> bool:
    from .values import contains_traced
    return contains_traced(x) or (isinstance(x, slice) and any(
        isinstance(p, Traced) for p in (x.start, x.stop, x.step)))

