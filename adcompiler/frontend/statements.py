"""Statements: assignment (with NumPy's in-place semantics), returns, nested defs, asserts,
imports; `if`/`for`/`while` are in control.py.

Contract: `exec_stmt` sets the builder's location to the statement's line (an expression on a
later line of it sets its own while it is evaluated: expressions.eval) and returns a
completion: None (fall through) or a `Return` (`break` and `continue` are flags by then:
exits.py). Assignment binds names; the value a statement creates gets the assigned name as its
IR hint. `x[k] = v` and `x[k] += v` on a traced array rebind that array's holder to the functional update (every alias sees it, as with
NumPy); `x += v` on a traced array of rank >= 1 is in place (NumPy's 'same_kind' casting and
shape rules), on scalars and static values it rebinds as Python does.
"""
from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import operator
import sys

import numpy as np

from ..ir import Op
from . import analysis, indexing, masked
from .expressions import INPLACE, run_static
from .problems import FrontendError, Raised, StaticNeeded
from .pytree import attributes, is_model_object
from .text import holds_text, shown
from .arith import truth
from .values import NP_OF, Traced, contains_traced

FUNCTION = "function"          # the marker of a function body on a frame's block stack


class Undefined:
    """A name that must not be read (assigned in one branch only, inside a run-time loop...).
    With a `value`, the name is bound when the run-time bool `bound` is true (a name a loop of
    a run-time trip count assigns, read after it): a read checks `bound` when the code runs
    (an `assert` op with `message`) and gets `value`. A `standin` (loops.py) is a name a loop
    body reads before any iteration binds it, whose type its first trace finds: it is unbound,
    and `value` only lets that trace go on."""

    def __init__(self, message: str, value=None, bound=None, standin=False):
        self.message, self.value, self.bound, self.standin = message, value, bound, standin

    @property
    def unbound(self) -> bool:
        return self.value is None or self.standin


def held_value(v):
    """A name's value, or the array an `Undefined` holds where its flag says it is bound."""
    return v.value if isinstance(v, Undefined) else v


class Return:
    def __init__(self, value):
        self.value = value


class StatementsMixin:
    def exec_stmt(self, stmt):
        self.builder.loc = self.loc_at(stmt.lineno)
        self.fresh = set()
        self.named = set()
        method = getattr(self, "stmt_" + type(stmt).__name__, None)
        try:
            if method is None:
                raise FrontendError(f"'{type(stmt).__name__}' statements are not supported")
            return method(stmt)
        except FrontendError as e:
            raise self.located(e, stmt) from None

    def name_value(self, value, name: str):
        """Give the values this statement created the assigned variable's name (`state.0` for
        the arrays in a container)."""
        if isinstance(value, (tuple, list, dict)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(k, (str, int)):
                    self.name_value(v, f"{name}.{k}")
            return
        if isinstance(value, Traced) and value.stale is None:
            v = value._value
            if isinstance(v.owner, Op) and id(v.owner) in self.fresh and id(v) not in self.named:
                v.hint = name
                self.named.add(id(v))

    # -- simple statements -----------------------------------------------------------------
    def stmt_Expr(self, stmt):
        self.eval(stmt.value)

    def stmt_Pass(self, stmt):
        return None

    def stmt_Return(self, stmt):
        value = self.eval(stmt.value) if stmt.value is not None else None
        if holds_text(value):
            raise FrontendError("a string made from run-time values cannot be returned (it has "
                                "no characters until the program runs); print it where it is "
                                "made, or return the values")
        self.return_line = stmt.lineno
        return Return(value)

    def stmt_Assign(self, stmt):
        (target, *more) = stmt.targets
        if not more and isinstance(target, ast.Subscript):
            # y[m] = f(x[m]) with a run-time mask m: masked.py
            value, reads = masked.evaluate(self, stmt.value)
            if reads.mask is not None:
                masked.assign(self, self.eval(target.value), self.eval_index(target.slice),
                              value, reads, analysis.root_name(target) or "update")
                return
        elif not more and isinstance(target, ast.Name) and self.builder.block is self.top:
            # pred_v = pred[valid], reduced later: masked.py
            value, reads = masked.evaluate(self, stmt.value)
            if reads.mask is not None:
                value = masked.named(self, value, reads)
        else:
            value = self.eval(stmt.value)
        for target in stmt.targets:
            self.assign(target, value)

    def stmt_AnnAssign(self, stmt):
        if stmt.value is not None:
            self.assign(stmt.target, self.eval(stmt.value))

    def stmt_AugAssign(self, stmt):
        rhs, reads = masked.evaluate(self, stmt.value)
        op, target = type(stmt.op), stmt.target
        if reads.mask is not None:      # y[m] += f(x[m]): masked.py
            if not isinstance(target, ast.Subscript):
                raise FrontendError(masked.MASKED_ONLY)
            obj, key = self.eval(target.value), self.eval_index(target.slice)
            if isinstance(obj, Traced) and isinstance(key, Traced) and key.dtype == "bool":
                rhs = self.binop(op, reads.read(self, obj, key), rhs)
            masked.assign(self, obj, key, rhs, reads, analysis.root_name(target) or "update")
            return
        if isinstance(target, ast.Name):
            cur = self.lookup(target.id)
            new = self.inplace(op, cur, rhs, target.id)
            self.frame.vars[target.id] = new
            self.name_value(new, target.id)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value)
            key = self.eval_index(target.slice)
            name = analysis.root_name(target) or "update"
            if isinstance(obj, Traced) and indexing.is_runtime_mask(key):
                obj.update(indexing.update_masked(
                    self, obj, key, rhs, lambda y: self.inplace(op, y, rhs, name, mutate=False)))
                self.name_value(obj, name)
                return
            # x[k] += v on an array is x[k] = x[k] + v with in-place casting rules (the read is
            # a copy); on a list or dict slot the array in it changes in place, as NumPy's does
            new = self.inplace(op, self.subscript(obj, key), rhs, name,
                               mutate=isinstance(obj, (list, dict)))
            self.store_item(obj, key, new, name)
        elif isinstance(target, ast.Attribute):
            # obj.a += v changes the array obj.a holds in place, as NumPy's does; a scalar
            # there (a 0-d array argument is taken as one) is rebound: attribute assignment
            obj = self.eval(target.value)
            cur = self.attribute(obj, target.attr)
            if not (isinstance(cur, Traced) and cur.ndim >= 1):
                name = analysis.root_name(target) or target.attr
                return self.store_attribute(obj, target.attr,
                                            self.inplace(op, cur, rhs, name))
            # Python then sets obj.a to that array, which a named tuple, a frozen dataclass
            # or an array (x.T += v) refuses, after the change: an error here too, or the
            # program would run under adcompiler only
            if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)
                    and not obj.__dataclass_params__.frozen or is_model_object(obj)):
                text, lhs = ast.unparse(stmt), ast.unparse(target)
                kind = "ndarray" if isinstance(obj, Traced) else type(obj).__name__
                raise FrontendError(f"{kind}.{target.attr} cannot be set, so Python raises on "
                                    f"'{text}' (after changing the array); change its entries "
                                    f"instead: {lhs}[...]{text[len(lhs):]}")
            self.inplace(op, cur, rhs, analysis.root_name(target) or target.attr)
        else:
            raise FrontendError("augmented assignment to this target is not supported")

    def inplace(self, op, cur, rhs, name, mutate=True):
        """`cur op= rhs`: arrays of rank >= 1 change in place, as NumPy's do, and 0-d views
        of one (`x[0, ...]`), which NumPy's are too."""
        if isinstance(cur, Traced) and (cur.ndim >= 1 or cur.link is not None):
            res = self.binop(op, cur, rhs)
            if res.shape != cur.shape:
                raise FrontendError(f"non-broadcastable output operand with shape {cur.shape} "
                                    f"doesn't match the broadcast shape {res.shape}")
            if not np.can_cast(NP_OF[res.dtype], cur.np_dtype, "same_kind"):
                raise FrontendError(f"Cannot cast ufunc output from {NP_OF[res.dtype]} to "
                                    f"{cur.np_dtype} with casting rule 'same_kind'")
            value = self.cast(res.value, cur.dtype)
            if not mutate:
                return self.wrap(value)
            cur.update(value)
            self.name_value(cur, name)
            return cur
        if isinstance(cur, np.ndarray) and (self.session.reads.holds(cur) or any(
                cur is d for d in self.session.defaults)):
            raise FrontendError(f"'{name}' is an array from outside the function (a global, "
                                "closure variable, default or attribute), which Python would "
                                "change in place on each call: pass it as an argument, or copy "
                                "it first (np.array(...))")
        if isinstance(cur, np.ndarray) and self.builder.block is not self.top:
            # (StaticNeeded: a static loop doing it is unrolled instead)
            raise StaticNeeded(f"'{name}' is a static array (np.array of static values, "
                               "which adcompiler computes while tracing) changed in place "
                               "inside a run-time if or loop, where it would change once, "
                               f"while tracing: make it a run-time array first ({name} = "
                               f"np.zeros({name}.shape, {name}.dtype) + {name})")
        if isinstance(cur, Traced) or isinstance(rhs, Traced):
            return self.binop(op, cur, rhs)
        if isinstance(cur, (list, dict, set)):
            self.check_writable_container(cur, rhs)     # (`lst += [v]` changes lst in place)
        return run_static(INPLACE[op], cur, rhs)

    # -- assignment ------------------------------------------------------------------------
    def assign(self, target, value):
        if isinstance(target, ast.Name):
            self.frame.vars[target.id] = value
            self.name_value(value, target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            self.unpack(target.elts, value)
        elif isinstance(target, ast.Subscript):
            obj = self.eval(target.value)
            key = self.eval_index(target.slice)
            self.store_item(obj, key, value, analysis.root_name(target) or "update")
        elif isinstance(target, ast.Attribute):
            self.store_attribute(self.eval(target.value), target.attr, value)
        else:
            raise FrontendError(f"cannot assign to {ast.unparse(target)}")

    def store_item(self, obj, key, value, name, add=False):
        """`obj[key] = value` (with `add`: `np.add.at(obj, key, value)`)."""
        if isinstance(obj, Traced):
            new = indexing.setitem(self, obj, key, value, add)
            obj.update(new)
            self.name_value(obj, name)
        elif isinstance(obj, indexing.Flat) and not add:
            obj.base.update(obj.set(self, key, value))
            self.name_value(obj.base, name)
        elif isinstance(obj, np.ndarray):
            raise FrontendError("cannot assign into a static NumPy array (np.array of static "
                                "values, a global or closure constant, which adcompiler "
                                "computes while tracing); pass it as an argument, or make a "
                                "run-time copy to change: np.zeros(a.shape, a.dtype) + a")
        else:
            self.check_writable_container(obj, value)
            run_static(operator.setitem, obj, key, value)

    def store_attribute(self, obj, name: str, value) -> None:
        """`obj.name = value`: a model object the function was given (its stand-in, holding
        run-time arrays) gets another array for an attribute that holds one, as a PyTorch
        module's buffer is replaced (`self.running_mean = ...`); the caller's object gets it
        after the call (`Signature.write_back`, `pytree.set_entry`). Adding an attribute, or
        one set to or from a static value, would change the object's structure, which the
        compiled code's outputs cannot follow; a set inside a run-time if or loop would need
        the object carried through it: both are errors, as is setting an attribute of an
        object made outside the function (it would be set once, while tracing)."""
        kind = type(obj).__name__
        if isinstance(obj, Traced):
            raise FrontendError(f"cannot set attribute '{name}' of an array")
        if not is_model_object(obj) or not contains_traced(obj):
            hint = " (make a new one with dataclasses.replace or _replace)" if (
                dataclasses.is_dataclass(obj) or isinstance(obj, tuple)) else ""
            raise FrontendError(f"cannot set attribute '{name}' of a {kind} object: only a "
                                "model object passed to the function, whose attributes hold "
                                f"its arrays, can have an array attribute set{hint}")
        if hasattr(inspect.getattr_static(type(obj), name, None), "__set__"):
            raise FrontendError(f"'{kind}.{name}' is a property or descriptor of the class; its "
                                "setter would run outside the traced code")
        if isinstance(value, (float, np.floating)):
            value = self.tensor(value)      # a float is a run-time value, as an argument is
        if not isinstance(attributes(obj).get(name), Traced) or not isinstance(value, Traced):
            raise FrontendError(f"'{kind}.{name}' can be set only to an array, where it holds "
                                "an array already (an attribute added, or set to or from a "
                                "static value, would change the object's structure)")
        if self.builder.block is not self.top:
            # (StaticNeeded: a static loop whose body sets one is unrolled instead)
            raise StaticNeeded(f"setting attribute '{name}' of a {kind} object inside a "
                                "run-time if or loop is not supported; set it after it, or "
                                f"change the array in place (obj.{name}[...] = ...)")
        object.__setattr__(obj, name, value)
        self.name_value(value, name)

    def check_writable_container(self, obj, stored=None) -> None:
        """A dict or list a run-time `if` chose between two of (`session.chosen`) cannot be
        changed: Python would change the one chosen, which is known only when the code runs.
        Changing one it was chosen from makes it unreadable (its entries would be the changed
        ones or not, by the run). The first change is noted (`session.changed_at`): its line,
        and the entries before it (a container that outlives the call is put back as it was
        when the trace fails); and the first that `stored` a run-time value in it
        (`session.stored_at`)."""
        changed = self.session.changed_at
        if id(obj) not in changed:
            before = dict(obj) if isinstance(obj, dict) else \
                list(obj) if isinstance(obj, list) else None
            changed[id(obj)] = (obj, self.builder.loc, len(changed), before)
        if id(obj) not in self.session.stored_at and contains_traced(stored):
            self.session.stored_at[id(obj)] = (obj, self.builder.loc,
                                               len(self.session.stored_at))
        hit = self.session.chosen.get(id(obj))
        if hit is not None and hit[0] is obj:
            raise FrontendError(hit[1])
        for source, chosen in self.session.chosen_from.get(id(obj), ()):
            if source is obj:
                self.session.stale_chosen[id(chosen)] = (chosen, (
                    "it is a container a run-time if chose between two of, and one of those "
                    "was changed since, so which entries it holds depends on the run; copy it "
                    "in the branches"))

    def unpack(self, elts, value):
        items = self.iterate(value)
        stars = [k for k, e in enumerate(elts) if isinstance(e, ast.Starred)]
        if not stars:
            if len(items) != len(elts):
                raise FrontendError(f"cannot unpack {len(items)} values into {len(elts)} names")
            for e, v in zip(elts, items, strict=True):
                self.assign(e, v)
            return
        k = stars[0]
        after = len(elts) - k - 1
        if len(items) < len(elts) - 1:
            raise FrontendError(f"not enough values to unpack (expected at least "
                                f"{len(elts) - 1}, got {len(items)})")
        for e, v in zip(elts[:k], items[:k], strict=True):
            self.assign(e, v)
        self.assign(elts[k].value, list(items[k:len(items) - after]))
        for e, v in zip(elts[k + 1:], items[len(items) - after:], strict=True):
            self.assign(e, v)

    # -- definitions and the rest ----------------------------------------------------------
    def stmt_FunctionDef(self, stmt):
        self.frame.vars[stmt.name] = self.make_closure(stmt)

    def stmt_Assert(self, stmt):
        if sys.flags.optimize:      # `python -O` skips asserts, their tests unevaluated
            return None
        test = self.eval(stmt.test)
        if isinstance(test, Traced):    # checked when the compiled code runs
            msg = self.eval(stmt.msg) if stmt.msg is not None else ""
            operands = []
            template = shown(msg, operands)      # (made from run-time values: formatted then)
            extra = {"python": tuple(x.weak for x in operands)} if operands else {}
            self.op("assert", truth(self, test).value, *(x.value for x in operands),
                    message=template if operands else str(msg), **extra)
            return None
        if not run_static(bool, test):
            msg = self.eval(stmt.msg) if stmt.msg is not None else ""
            text = f"assertion failed while tracing{': ' if msg else ''}{msg}"
            if self.session.draw_scopes:        # (under a run-time branch or loop)
                raise FrontendError(text)
            raise Raised(text, AssertionError(msg))
        return None

    def stmt_Import(self, stmt):
        for alias in stmt.names:
            module = run_static(importlib.import_module, alias.name)
            if alias.asname:
                self.frame.vars[alias.asname] = module
            else:
                top = alias.name.split(".")[0]
                self.frame.vars[top] = run_static(importlib.import_module, top)

    def stmt_ImportFrom(self, stmt):
        if stmt.level:
            raise FrontendError("relative imports inside a traced function are not supported")
        module = run_static(importlib.import_module, stmt.module)
        for alias in stmt.names:
            if alias.name == "*":
                raise FrontendError("'from ... import *' is not supported")
            self.frame.vars[alias.asname or alias.name] = run_static(getattr, module, alias.name)

    def stmt_Raise(self, stmt):
        exc = self.eval(stmt.exc) if stmt.exc is not None else None
        if isinstance(exc, type) and issubclass(exc, BaseException):
            exc = run_static(exc)
        what = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else repr(exc)
        if isinstance(exc, Exception) and not self.session.draw_scopes:
            # (no run-time branch or loop around it: every run raises it, as Python does)
            raise Raised(f"the function raised {what}", exc)
        raise FrontendError(f"the function raised {what} while being traced (a raise under a "
                            "run-time condition cannot be compiled)")
