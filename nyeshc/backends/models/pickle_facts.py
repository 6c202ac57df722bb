"""What a StyleGAN2-ADA network pickle says about its generator, read **without unpickling it**.

Unpickling runs code (the official pickles even carry their classes' source), so ``nyeshc
doctor`` never does it without ``--load``. Instead this walks the pickle's opcodes
(:func:`pickletools.genops`) with a small stack machine that builds only plain values (numbers,
strings, lists, tuples, dicts) and keeps everything else — a global, a call, an object — as an
inert record of what it names. Nothing is imported and nothing is called.

StyleGAN2-ADA pickles its networks through ``torch_utils.persistence``: each network reduces to
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with ``meta = dict(type='class',
version, module_src, class_name, state)``, and ``state`` (the object's ``__dict__``) holds
``_init_kwargs``, the constructor's keywords (``z_dim``, ``w_dim``, ``c_dim``,
``img_resolution``, ``img_channels``, ``mapping_kwargs``, ``synthesis_kwargs``). A training
snapshot is ``dict(training_set_kwargs=..., G=..., D=..., G_ema=..., augment_pipe=...)``;
``G_ema`` is what the adapter renders with.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["GeneratorFacts", "PickleFactsError", "stylegan2_facts"]


class PickleFactsError(ValueError):
    """The file is not a pickle this reader understands (the message says why)."""


@dataclass
class _Global:
    module: str
    name: str


@dataclass
class _Call:
    func: Any
    args: Any
    state: Any = None
    items: dict[Any, Any] = field(default_factory=dict)


class _Mark:
    pass


_MARK = _Mark()


@dataclass(frozen=True)
class GeneratorFacts:
    """The generator's constructor keywords, as pickled."""

    class_name: str
    w_dim: int | None
    z_dim: int | None
    c_dim: int | None
    resolution: int | None
    channels: int | None
    key: str  # where in the pickle it was found: "G_ema", "G" or "(first Generator)"


def _key(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool, bytes, type(None), tuple)) else id(v)


def _walk(fh: Any) -> Any:
    """The pickle's top value, built from plain values and inert records."""
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        items = []
        while True:
            v = stack.pop()
            if v is _MARK:
                return items[::-1]
            items.append(v)

    def setitems(target: Any, pairs: list[Any]) -> None:
        for k, v in zip(pairs[::2], pairs[1::2]):
            if isinstance(target, dict):
                target[_key(k)] = v
            elif isinstance(target, _Call):
                target.items[_key(k)] = v

    for op, arg, _pos in pickletools.genops(fh):
        name = op.name
        if name in ("PROTO", "FRAME"):
            continue
        if name == "STOP":
            return stack.pop()
        if name == "MARK":
            stack.append(_MARK)
        elif name in ("EMPTY_DICT",):
            stack.append({})
        elif name in ("EMPTY_LIST",):
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name == "EMPTY_SET":
            stack.append(set())
        elif name == "DICT":
            items = pop_mark()
            d: dict[Any, Any] = {}
            setitems(d, items)
            stack.append(d)
        elif name == "LIST":
            stack.append(pop_mark())
        elif name == "TUPLE":
            stack.append(tuple(pop_mark()))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            vals = stack[-n:]
            del stack[-n:]
            stack.append(tuple(vals))
        elif name == "SETITEM":
            v = stack.pop()
            k = stack.pop()
            setitems(stack[-1], [k, v])
        elif name == "SETITEMS":
            items = pop_mark()
            setitems(stack[-1], items)
        elif name == "APPEND":
            v = stack.pop()
            if isinstance(stack[-1], list):
                stack[-1].append(v)
        elif name == "APPENDS":
            items = pop_mark()
            if isinstance(stack[-1], list):
                stack[-1].extend(items)
        elif name == "ADDITEMS":
            pop_mark()
        elif name == "FROZENSET":
            pop_mark()
            stack.append(frozenset())
        elif name in ("GLOBAL", "INST"):
            module, _, qual = str(arg).partition(" ")
            if name == "INST":
                stack.append(_Call(_Global(module, qual), tuple(pop_mark())))
            else:
                stack.append(_Global(module, qual))
        elif name == "STACK_GLOBAL":
            qual = stack.pop()
            module = stack.pop()
            stack.append(_Global(str(module), str(qual)))
        elif name == "OBJ":
            items = pop_mark()
            stack.append(_Call(items[0], tuple(items[1:])))
        elif name in ("REDUCE", "NEWOBJ"):
            args = stack.pop()
            func = stack.pop()
            stack.append(_Call(func, args))
        elif name == "NEWOBJ_EX":
            kwargs = stack.pop()
            args = stack.pop()
            cls = stack.pop()
            stack.append(_Call(cls, (args, kwargs)))
        elif name == "BUILD":
            state = stack.pop()
            target = stack[-1]
            if isinstance(target, _Call):
                target.state = state
        elif name in ("PERSID", "BINPERSID"):
            pid = arg if name == "PERSID" else stack.pop()
            stack.append(_Call(_Global("(persistent id)", ""), (pid,)))
        elif name in ("EXT1", "EXT2", "EXT4"):
            stack.append(_Global("(extension)", str(arg)))
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            pop_mark()
        elif name == "DUP":
            stack.append(stack[-1])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = stack[-1]
        elif name == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[int(arg)])
        elif name in ("NONE",):
            stack.append(None)
        elif name in ("NEWTRUE", "NEWFALSE"):
            stack.append(name == "NEWTRUE")
        elif name in ("BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER"):
            stack.append(b"" if name != "READONLY_BUFFER" else stack.pop())
        elif op.arg is not None or name in ("INT", "LONG"):  # numbers, strings, bytes: the argument is the value
            value = arg
            if isinstance(value, (bytes, bytearray)) and len(value) > 4096:
                value = b""  # tensor storages: not needed, not kept
            stack.append(value)
        else:
            raise PickleFactsError(f"unsupported pickle opcode {name}")
    raise PickleFactsError("the pickle has no STOP opcode (a truncated file?)")


def _persistent_meta(v: Any) -> dict[str, Any] | None:
    """The ``meta`` dict of a ``torch_utils.persistence`` object, or None."""
    if (isinstance(v, _Call) and isinstance(v.func, _Global) and v.func.name == "_reconstruct_persistent_obj"
            and isinstance(v.args, tuple) and v.args and isinstance(v.args[0], dict)):
        return v.args[0]
    return None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _facts(meta: dict[str, Any], key: str) -> GeneratorFacts:
    state = meta.get("state") if isinstance(meta.get("state"), dict) else {}
    kw = state.get("_init_kwargs") if isinstance(state.get("_init_kwargs"), dict) else {}
    if isinstance(kw, _Call):  # an EasyDict
        kw = kw.items

    def pick(*names: str) -> int | None:
        for n in names:
            for src in (kw, state):
                if isinstance(src, dict) and _int(src.get(n)) is not None:
                    return _int(src.get(n))
        return None

    return GeneratorFacts(str(meta.get("class_name", "?")), pick("w_dim"), pick("z_dim"), pick("c_dim"),
                          pick("img_resolution"), pick("img_channels"), key)


def stylegan2_facts(path: str | Path) -> GeneratorFacts:
    """The facts of the generator in a StyleGAN2-ADA network pickle (``G_ema``, else ``G``, else
    the first persistent ``Generator``), without unpickling; :class:`PickleFactsError` when the
    file is not such a pickle or holds no generator this reader recognises."""
    try:
        with open(path, "rb") as fh:
            top = _walk(fh)
    except PickleFactsError:
        raise
    except (ValueError, IndexError, KeyError, EOFError) as exc:
        raise PickleFactsError(f"not a readable pickle ({type(exc).__name__}: {exc})") from exc
    if isinstance(top, dict):
        for key in ("G_ema", "G"):
            meta = _persistent_meta(top.get(key))
            if meta is not None:
                return _facts(meta, key)
    # elsewhere (a pickled generator alone, or nested): the first persistent Generator
    todo, seen = [top], set()
    while todo:
        v = todo.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        meta = _persistent_meta(v)
        if meta is not None and meta.get("class_name") == "Generator":
            return _facts(meta, "(first Generator)")
        if isinstance(v, dict):
            todo.extend(v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
        elif isinstance(v, _Call):
            todo.extend([v.args, v.state, v.items])
    raise PickleFactsError("no StyleGAN2-ADA generator in it (no torch_utils.persistence object named "
                           "G_ema, G or Generator; a TensorFlow-era pickle is only readable by loading it)")
