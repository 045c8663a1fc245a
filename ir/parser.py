"""Reads the text form written by `printer.py` back into a Function (with its callees in a
Module). Result types are taken from the text, so the parser needs no shape rules; run the
verifier on the result to check them. Errors raise `IRParseError` naming the line.
"""
from __future__ import annotations

import ast
import re

from .core import Block, Function, Module, Op
from .types import TensorType


class IRParseError(ValueError):
    pass


# an op's `# file:line` comment: the last ` #` of the line (a quoted attribute may hold one),
# the file's name spaces and all
_LOC = re.compile(r"^(.*)\s#\s*([^#]+?):(\d+)\s*$")
_TYPE = re.compile(r"[a-z0-9]+\[[0-9,?\s]*\]")
_NAME = r"%[A-Za-z0-9_.]+"
_CARRY = re.compile(rf"({_NAME})\s*=\s*({_NAME})")
_ATTR_TOKEN = re.compile(r"\s*(\[|\]|,|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,\[\]]+)")


def _types(text: str) -> list[TensorType]:
    return [TensorType.parse(t) for t in _TYPE.findall(text or "")]


def parse_attr_value(text: str):
    tokens = [t for t in _ATTR_TOKEN.findall(text) if t]
    pos = 0

    def value():
        nonlocal pos
        tok = tokens[pos]
        pos += 1
        if tok == "[":
            items = []
            while tokens[pos] != "]":
                items.append(value())
                if tokens[pos] == ",":
                    pos += 1
            pos += 1
            return tuple(items)
        return {"true": True, "false": False, "none": None, "inf": float("inf"),
                "-inf": float("-inf"), "nan": float("nan")}.get(tok, _scalar(tok))

    out = value()
    if pos != len(tokens):
        raise IRParseError(f"trailing text in attribute {text!r}")
    return out


def _scalar(tok: str):
    if tok[0] in "'\"":
        return ast.literal_eval(tok)
    try:
        return int(tok)
    except ValueError:
        pass
    try:
        return float(tok)
    except ValueError:
        return tok


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets and quotes (a quote escaped by a backslash, as repr
    writes one inside a string of both kinds, does not end one)."""
    parts, depth, cur, quote, escaped = [], 0, [], None, False
    for ch in text:
        if quote:
            quote = None if ch == quote and not escaped else quote
            escaped = ch == "\\" and not escaped
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur))
    return [p.strip() for p in parts]


class _Parser:
    def __init__(self, text: str):
        self.lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
        self.pos = 0
        self.module = Module()
        self.calls: list[tuple[Op, int]] = []

    def error(self, lineno, msg):
        raise IRParseError(f"line {lineno}: {msg}")

    def next(self):
        lineno, raw = self.lines[self.pos]
        self.pos += 1
        self.lineno = lineno
        loc = None
        m = _LOC.match(raw)
        if m:
            loc = (m.group(2), int(m.group(3)))
            raw = m.group(1)
        return lineno, raw.strip(), loc

    def use(self, name, lineno):
        try:
            return self.env[name]
        except KeyError:
            self.error(lineno, f"use of undefined value {name}")

    def uses(self, text, lineno):
        junk = re.sub(_NAME, "", text or "").replace(",", "").strip()
        if junk:
            self.error(lineno, f"expected %values, got {junk!r}")
        return [self.use(n, lineno) for n in re.findall(_NAME, text or "")]

    def define(self, value, name, lineno=None):
        if name in self.env:
            self.error(lineno or self.lineno, f"{name} is defined twice")
        value.hint = name[1:]
        self.env[name] = value

    def parse(self) -> Function:
        first = None
        while self.pos < len(self.lines):
            fn = self.function()
            first = first or fn
        if first is None:
            raise IRParseError("no function in text")
        for op, lineno in self.calls:
            if op.attrs["callee"] not in self.module.functions:
                self.error(lineno, f"call of undefined function @{op.attrs['callee']}")
        return first

    def function(self) -> Function:
        lineno, text, loc = self.next()
        m = re.match(r"func @([\w.]+)\((.*)\) -> \((.*)\) \{$", text)
        if not m:
            self.error(lineno, f"expected 'func @name(...) -> (...) {{', got {text!r}")
        self.env = {}
        try:
            params = [p.split(":") for p in _split_top(m.group(2))]
            body = Block([TensorType.parse(t) for _, t in params])
        except ValueError as e:
            self.error(lineno, f"bad parameters {m.group(2)!r}: {e}")
        for v, (n, _) in zip(body.args, params, strict=True):
            self.define(v, n.strip())
        end = self.block(body)
        if end != "}":
            self.error(lineno, "function body not closed by '}'")
        ret = body.terminator
        if ret is not None and ret.name == "return" and [v.type for v in ret.operands] != _types(
                m.group(3)):
            self.error(lineno, f"declared results ({m.group(3)}) differ from the returned "
                               f"({', '.join(str(v.type) for v in ret.operands)})")
        return self.module.add(Function(m.group(1), body, loc=loc))

    def block(self, block: Block) -> str:
        """Parse ops into `block` up to a closing line; return that line's text."""
        while self.pos < len(self.lines):
            lineno, text, loc = self.next()
            if text.startswith("}"):
                return text
            try:
                block.append(self.op(lineno, text, loc))
            except IRParseError:
                raise
            except (ValueError, IndexError, KeyError, SyntaxError) as e:   # a malformed type,
                # or a string attribute ast.literal_eval cannot read
                self.error(lineno, str(e))
        self.error(self.lines[-1][0], "unexpected end of text")

    def op(self, lineno, text, loc) -> Op:
        lhs, rest = [], text
        m = re.match(rf"^((?:{_NAME})(?:\s*,\s*{_NAME})*)\s*=\s*(.*)$", text)
        if m:
            lhs = re.findall(_NAME, m.group(1))
            rest = m.group(2)
        head = rest.split(" ", 1)[0].split("(", 1)[0]
        if head in ("if", "for", "while") and rest.endswith("{"):
            rest, types = self.split_types(rest[:-1].rstrip())
            op = getattr(self, "op_" + head)(lineno, rest, types, loc)
        elif head == "call":
            rest, types = self.split_types(rest)
            cm = re.match(r"call @([\w.]+)\(([^)]*)\)(?: \{(.*)\})?$", rest)
            if not cm:
                self.error(lineno, f"bad call {text!r}")
            attrs = {"callee": cm.group(1)}
            for item in _split_top(cm.group(3) or ""):
                k, _, v = item.partition("=")
                attrs[k.strip()] = parse_attr_value(v)
            op = Op("call", self.uses(cm.group(2), lineno), attrs, types, loc=loc)
            self.calls.append((op, lineno))
        else:
            op = self.generic(lineno, rest, loc)
        if len(lhs) != len(op.results):
            self.error(lineno, f"{len(lhs)} names for {len(op.results)} results")
        for v, n in zip(op.results, lhs, strict=True):
            self.define(v, n, lineno)
        return op

    def split_types(self, text):
        head, sep, tail = text.rpartition(" : ")
        if sep and _TYPE.fullmatch(_split_top(tail)[0] if tail else ""):
            return head, _types(tail)
        return text, []

    def generic(self, lineno, text, loc) -> Op:
        text, types = self.split_types(text)
        name, _, rest = text.partition(" ")
        attrs = {}
        if rest.endswith("}") and "{" in rest:
            rest, _, body = rest.partition("{")
            for item in _split_top(body[:-1]):
                k, _, v = item.partition("=")
                try:
                    attrs[k.strip()] = parse_attr_value(v)
                except (ValueError, IndexError) as e:
                    self.error(lineno, f"bad attribute {item!r}: {e}")
        return Op(name, self.uses(rest, lineno), attrs, types, loc=loc)

    def carry(self, text, lineno):
        pairs = _CARRY.findall(text)
        return [p[0] for p in pairs], [self.use(p[1], lineno) for p in pairs]

    def op_if(self, lineno, rest, types, loc):
        cond = self.uses(rest[2:], lineno)
        then, other = Block(), Block()
        if self.block(then) != "} else {":
            self.error(lineno, "if without '} else {'")
        if self.block(other) != "}":
            self.error(lineno, "if not closed by '}'")
        return Op("if", cond, {}, types, [then, other], loc=loc)

    def op_for(self, lineno, rest, types, loc):
        m = re.match(rf"for ({_NAME}) in range\(({_NAME})\) carry\((.*)\)$", rest)
        if not m:
            self.error(lineno, f"bad for loop {rest!r}")
        names, inits = self.carry(m.group(3), lineno)
        body = Block([TensorType("i64")] + [v.type for v in inits])
        for v, n in zip(body.args, [m.group(1)] + names, strict=True):
            self.define(v, n)
        if self.block(body) != "}":
            self.error(lineno, "for not closed by '}'")
        return Op("for", [self.use(m.group(2), lineno)] + inits, {}, types, [body], loc=loc)

    def op_while(self, lineno, rest, types, loc):
        m = re.match(r"while carry\((.*)\)$", rest)
        if not m:
            self.error(lineno, f"bad while loop {rest!r}")
        names, inits = self.carry(m.group(1), lineno)
        cond = Block([v.type for v in inits])
        for v, n in zip(cond.args, names, strict=True):
            self.define(v, n)
        close = self.block(cond)
        dm = re.match(r"\} do\((.*)\) \{$", close)
        if not dm:
            self.error(lineno, "while without '} do(...) {'")
        body = Block([v.type for v in inits])
        if len(re.findall(_NAME, dm.group(1))) != len(inits):
            self.error(self.lineno, f"do({dm.group(1)}) names {len(re.findall(_NAME, dm.group(1)))}"
                                    f" values for {len(inits)} carried")
        for v, n in zip(body.args, re.findall(_NAME, dm.group(1)), strict=True):
            self.define(v, n)
        if self.block(body) != "}":
            self.error(lineno, "while not closed by '}'")
        return Op("while", inits, {}, types, [cond, body], loc=loc)


def parse(text: str) -> Function:
    """Parse IR text (one or more functions); returns the first, its callees in `.module`."""
    return _Parser(text).parse()
