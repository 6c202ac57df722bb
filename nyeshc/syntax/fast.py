"""The fast path of :func:`nyeshc.syntax.read`: text → IR in one pass, for text without syntax errors.

The reference path (:func:`nyeshc.syntax.parse.parse`, then :func:`nyeshc.syntax.lower.lower`)
runs Lark's generic LALR loop, builds a :class:`lark.Tree` and walks it again to lower it. This
module drives the *same* LALR table (taken from the Lark parser that :func:`parse` uses, so the
language accepted is exactly the same) in a tight loop, and lowers at reduce time: each rule's
children are filtered and inlined as Lark's tree builder would (tokens filtered out,
``_rule``\\s spliced into their parent, ``-> alias`` names), then handed to the handler named
after the rule in :class:`nyeshc.syntax.lower.Lowerer` — the same handlers the reference path
calls on Lark's tree — which returns IR (or the light lists that stand for ``values``, ``value``
and ``term``). Tokens are tuples ``(type, text, start, end)``; the lexer uses
:class:`FastLexer`'s terminals and order, consumes a token's trailing spaces in the same match,
and does the :class:`Indenter`'s work inline.

:func:`read` returns ``None`` on the first problem (a character no terminal matches, a token
the table does not expect, parentheses nested deeply enough that the reference lowering might
recurse too far); the caller then takes the reference path, so diagnostics are exactly its
diagnostics. For every text it accepts, the IR is exactly the reference IR, spans included
(``tests/syntax/test_fast_path.py``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from nyeshc import ir
from nyeshc.diagnostics import Diagnostic
from nyeshc.syntax.lower import Lowerer
from nyeshc.syntax.text import MAX_NESTING, TAB_WIDTH, cache_folder, grammar_digest, tab_diagnostics
from nyeshc.world import atomic_write_text

# Parentheses nested deeper than this go to the reference path: its lowering recurses once per
# level (and may raise RecursionError); the fast path would not, and must not differ.
MAX_PAREN_DEPTH = MAX_NESTING  # deeper scripts go to the reference parser, which reports them


class _Fail(Exception):
    """The text is not one the fast path handles: take the reference path."""


# --------------------------------------------------------------------------- tables


TABLES_FORMAT = 2
"""The layout of the tables kept between processes (bump it when :func:`_build` changes)."""


class _Tables:
    """Lexer regex, LALR actions and per-rule reduce functions, from plain data (:func:`_build`):
    the data is kept between processes, so a script without syntax errors is read without
    importing Lark (see :func:`_tables`)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.master = re.compile(data["pattern"], data["flags"])
        self.keywords: dict[str, str] = dict(data["keywords"])
        self.ignore = frozenset(data["ignore"])
        rules = data["rules"]
        if len(rules) != len(data["gotos"]):
            raise _Fail("one goto table per rule")
        namespace: dict[str, Any] = {f"G{i}": {int(k): int(v) for k, v in goto.items()}
                                     for i, goto in enumerate(data["gotos"])}
        source = "".join(_source(rule, f"reduce{i}", f"G{i}") for i, rule in enumerate(rules))
        exec(compile(source, "<reducers>", "exec"), namespace)  # noqa: S102 - written by _source from checked data
        reducers = [namespace[f"reduce{i}"] for i in range(len(rules))]
        # a row: terminal → the state to shift to (an int) or the rule's reducer (a function)
        self.states: list[dict[str, Any]] = [
            {sym: act if isinstance(act, int) else reducers[act[0]] for sym, act in row.items()}
            for row in data["states"]]
        self.start_state: int = data["start"]
        self.end_state: int = data["end"]


def _build() -> dict[str, Any]:
    """The tables as plain data, from the Lark parser :func:`nyeshc.syntax.parse.parse` uses (so
    the language accepted is exactly the same): the lexer's master pattern, keywords and ignored
    terminals, each state's row (a terminal → a state to shift to, or ``[i]``: reduce by rule
    ``i``) and what every rule's reducer does (:func:`_reducer`) with its goto table."""
    from nyeshc.syntax.parse import FastLexer, lark_parser

    lark = lark_parser()
    lexer = FastLexer(lark.lexer_conf)
    lpar = rpar = None
    for t in lark.lexer_conf.terminals:
        if t.pattern.type == "str" and t.pattern.value == "(":
            lpar = t.name
        if t.pattern.type == "str" and t.pattern.value == ")":
            rpar = t.name
    if (lpar, rpar) != ("LPAR", "RPAR"):  # the Indenter counts these names
        raise _Fail("parentheses are not LPAR/RPAR")
    table = lark.parser.parser.parser.parse_table
    n = max(table.states) + 1
    if sorted(table.states) != list(range(n)):
        raise _Fail("parse table states are not 0..n-1")
    gotos: dict[str, dict[int, int]] = {}  # nonterminal → {state: state after it}
    for state, actions in table.states.items():
        for sym, (action, arg) in actions.items():
            if action.name == "Shift" and not sym.isupper():
                gotos.setdefault(str(sym), {})[state] = arg
    rules: dict[Any, int] = {}
    states: list[dict[str, Any]] = []
    for state in range(n):
        row: dict[str, Any] = {}
        for sym, (action, arg) in table.states[state].items():
            if not sym.isupper():
                continue  # a goto
            if action.name == "Shift":
                row[str(sym)] = arg
            else:
                row[str(sym)] = [rules.setdefault(arg, len(rules))]
        states.append(row)
    return {
        # ``(?:…)[\t ]*``: the spaces after a token are the next ignored token anyway (no
        # other terminal starts with a space or a tab), so one match takes both
        "pattern": f"(?:{lexer.master.pattern})[\\t ]*", "flags": int(lexer.master.flags),
        # plain str everywhere: Lark's names are Token (a str subclass with a slow __eq__)
        "keywords": {str(k): str(v) for k, v in lexer.keywords.items()},
        "ignore": sorted(str(i) for i in lexer.ignore),
        "states": states, "start": table.start_states["start"], "end": table.end_states["start"],
        "gotos": [{str(k): v for k, v in gotos.get(str(rule.origin.name), {}).items()} for rule in rules],
        "rules": [_reducer(rule) for rule in rules],
    }


def _reducer(rule: Any) -> dict[str, Any]:
    """What reducing by ``rule`` does, as plain data (:func:`_source` writes the function): the
    rule's length, the children kept (tokens filtered out as Lark's tree builder does) and which
    of them are ``_rule``\\s to splice, how the first child starts the list, and the lowerer's
    handler it ends with."""
    opts = rule.options
    if opts.keep_all_tokens or opts.template_source is not None:
        raise _Fail(f"rule option not supported: {rule}")
    name = str(rule.alias or rule.origin.name)
    include = [[i, not sym.is_term and sym.name.startswith("_")] for i, sym in enumerate(rule.expansion)
               if not (sym.is_term and sym.filter_out)]
    first = "list"
    if include and include[0][1]:
        first = "reuse"  # reuse the left-recursive list in place
    elif name == "_atom" and len(include) == 1 and rule.expansion[include[0][0]].is_term:
        # an atom token: lowered here, so ``term`` gets IR values only
        kind = str(rule.expansion[include[0][0]].name)
        first = "atom_" + kind if hasattr(Lowerer, "atom_" + kind) else "atom"
    handler = ""
    if not name.startswith("_") and name not in Lowerer.IDENTITY:
        if not hasattr(Lowerer, name):
            raise _Fail(f"no handler for rule {name}")
        handler = name
    return {"size": len(rule.expansion), "include": include, "first": first, "handler": handler,
            "expand1": bool(opts.expand1 and not rule.alias)}


def _source(rule: dict[str, Any], function: str, goto: str) -> str:
    """The source of ``function(state_stack, value_stack, lowerer)`` for a rule described by
    :func:`_reducer`: reduce, then the handler; push the state the global ``goto`` table gives
    after the rule and return it. Built from checked ints, bools and the lowerer's own method
    names only, so tables read back from a file cannot run anything else."""
    size, include, first, handler = rule["size"], rule["include"], rule["first"], rule["handler"]

    def lowerer_method(name: object, prefix: str = "") -> bool:
        return (isinstance(name, str) and name.startswith(prefix) and not name.startswith("_")
                and callable(getattr(Lowerer, name, None)))

    children_ok = all(type(i) is int and 0 <= i < size and type(e) is bool for i, e in include)
    first_ok = first in ("list", "reuse") or lowerer_method(first, "atom")
    handler_ok = handler == "" or lowerer_method(handler)
    if not (type(size) is int and size >= 0 and type(rule["expand1"]) is bool and children_ok and first_ok
            and handler_ok):
        raise _Fail(f"not a rule: {rule!r}")
    code = [f"def {function}(ss, vs, L):"]
    for i, _ in include:
        code.append(f"    c{i} = vs[{i - size}]")
    if first == "reuse":
        code.append(f"    x = c{include[0][0]}")
    elif first != "list":
        code.append(f"    x = [L.{first}(c{include[0][0]})]")
    else:
        code.append(f"    x = [{', '.join(f'c{i}' for i, _ in include[:1])}]")
    for i, expand in include[1:]:
        code.append(f"    x += c{i}" if expand else f"    x.append(c{i})")
    if handler:
        call = f"L.{handler}(x)"
        code.append(f"    x = x[0] if len(x) == 1 else {call}" if rule["expand1"] else f"    x = {call}")
    elif rule["expand1"]:
        code.append("    if len(x) == 1:\n        x = x[0]")
    if size == 0:
        code += [f"    st = {goto}[ss[-1]]", "    ss.append(st)", "    vs.append(x)"]
    else:
        if size > 1:
            code += [f"    del vs[{1 - size}:]", f"    del ss[{1 - size}:]"]
        code += ["    vs[-1] = x", f"    st = ss[-1] = {goto}[ss[-2]]"]
    code.append("    return st")
    return "\n".join(code) + "\n"


def _kept_tables() -> str | None:
    """The file the tables are kept in between processes, named by everything they are made
    from: the grammar, their layout and the lowerer's handlers (a reducer calls them by name)."""
    folder = cache_folder()
    if folder is None:
        return None
    handlers = ",".join(sorted(n for n in vars(Lowerer) if not n.startswith("__")))
    key = hashlib.sha256(f"{grammar_digest()}|{TABLES_FORMAT}|{handlers}".encode()).hexdigest()[:16]
    return os.path.join(folder, f"fast-{key}.json")


@lru_cache(maxsize=1)
def _tables() -> _Tables | None:
    """The tables: read from where a previous process kept them (no Lark import), else built
    from Lark and kept (written atomically; a damaged or foreign file is built again)."""
    path = _kept_tables()
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                return _Tables(json.load(fh))
        except Exception:  # noqa: BLE001 - missing, damaged or stale: build them again
            pass
    try:
        data = _build()
        tables = _Tables(data)
    except _Fail:
        return None
    if path is not None:
        with contextlib.suppress(OSError):
            atomic_write_text(Path(path), json.dumps(data, separators=(",", ":")))
    return tables


# --------------------------------------------------------------------------- lexer


_INDENT = ("_INDENT", "", 0, 0)
_DEDENT = ("_DEDENT", "", 0, 0)


def _lex(t: _Tables, text: str) -> list[tuple[str, str, int, int]]:
    """The tokens the parser sees: :class:`FastLexer` then :class:`Indenter`, as tuples.
    (Only the types of ``_INDENT``/``_DEDENT`` matter: the tree builder drops them.)"""
    out: list[tuple[str, str, int, int]] = []
    append = out.append
    ignore, keywords = t.ignore, t.keywords
    stack = [0]
    paren = 0
    pos = 0
    for m in t.master.finditer(text):
        kind = m.lastgroup
        start, end = m.span(kind)
        if start != pos:
            raise _Fail("no terminal matches")  # the reference path reports the character
        pos = m.end()
        if kind in ignore:
            continue
        value = text[start:end]
        if kind == "NAME":
            append((keywords.get(value, "NAME"), value, start, end))
        elif kind == "_NL":
            if paren:
                continue
            append(("_NL", value, start, end))
            i = value.rfind("\n")
            if i < 0:
                continue
            last = value[i + 1:]
            indent = len(last) if "\t" not in last else last.count(" ") + last.count("\t") * TAB_WIDTH
            if indent > stack[-1]:
                stack.append(indent)
                append(_INDENT)
                continue
            while indent < stack[-1]:
                stack.pop()
                append(_DEDENT)
            if indent != stack[-1]:
                stack.append(indent)
                append(_INDENT)
        else:
            if kind == "LPAR":
                paren += 1
                if paren > MAX_PAREN_DEPTH:
                    raise _Fail("nested too deeply")
            elif kind == "RPAR":
                if paren:
                    paren -= 1
            append((kind, value, start, end))
    if pos != len(text):
        raise _Fail("no terminal matches")
    for _ in range(len(stack) - 1):
        append(_DEDENT)
    return out


# --------------------------------------------------------------------------- lowering


# --------------------------------------------------------------------------- the driver


def _run(t: _Tables, tokens: list[tuple[str, str, int, int]], lowerer: Lowerer) -> ir.Film:
    states = t.states
    state = t.start_state
    ss = [state]
    vs: list[Any] = []
    spush, vpush = ss.append, vs.append
    try:
        for tok in tokens:
            act = states[state][tok[0]]
            while type(act) is not int:
                act = states[act(ss, vs, lowerer)][tok[0]]
            spush(act)
            vpush(tok)
            state = act
        end_state = t.end_state
        while True:
            act = states[state]["$END"]
            if type(act) is int:
                raise _Fail("shift on $END")
            state = act(ss, vs, lowerer)
            if state == end_state:
                return vs[-1]  # type: ignore[no-any-return]
    except KeyError:
        raise _Fail("syntax error") from None


def read(text: str, file: str) -> tuple[ir.Film, list[Diagnostic]] | None:
    """The film and diagnostics of ``text``, as the reference path gives them; ``None`` when
    the text has a syntax error (or anything else the fast path leaves to the reference)."""
    t = _tables()
    if t is None:
        return None
    work = text if text.endswith("\n") else text + "\n"
    # Everything built here is acyclic: the cyclic collector, set off again and again by the
    # many allocations, would only walk the growing tree over and over (a third of the time on
    # long scripts). Off while building; then one pass over the young generations promotes the
    # film to the old one at once, as the collections during the build would have, so that the
    # checker's own allocations do not make the collector walk it again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        tokens = _lex(t, work)
        film = _run(t, tokens, Lowerer(file, len(text)))
        del tokens
    except _Fail:
        return None
    finally:
        if collecting:
            gc.enable()
    if collecting:
        gc.collect(1)
    return film, tab_diagnostics(work, file)
