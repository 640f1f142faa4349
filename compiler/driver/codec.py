"""The codec of the parts of the compile cache that hold the compiler's own types: parse facts
(frontend/facts.py) and module results (driver/incremental.py). Exactly these types, nothing
else: a value of any other shape is refused (CacheFormatError), never guessed at. Imported
only when the cache's parts are used, which a warm `cascade check` never does."""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import fields as dataclass_fields
from typing import Any

from cascade.compiler.driver.cache import (
    CacheFormatError,
    decode_diagnostic,
    decode_span,
    encode_diagnostic,
    encode_span,
    fields,
    flag,
    items,
    optional_text,
    text,
)
from cascade.compiler.driver.incremental import ModuleResult
from cascade.compiler.frontend.facts import (
    Argument,
    CallValue,
    ClassFacts,
    FieldFacts,
    IngestionFacts,
    ModuleFacts,
    NameRef,
    NotLiteral,
    TypeRef,
)
from cascade.compiler.ir import TableSummary
from cascade.compiler.resolve.lock import TableLock

MAX_DEPTH = 64  # nesting of literal values; deeper ones are simply not cached
MAX_INT_BITS = 8192  # json refuses ints of more than 4300 digits; such ones are not cached
MAX_FACTS_BYTES = 64 * 1024 * 1024  # one module's facts, decompressed


def packed(value: Any) -> str:
    """JSON, compressed, as base64 text."""
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(data, 1)).decode("ascii")


def unpacked(value: Any) -> Any:
    try:
        data = base64.b64decode(text(value).encode("ascii"), validate=True)
        inflate = zlib.decompressobj()
        plain = inflate.decompress(data, MAX_FACTS_BYTES)
        if inflate.unconsumed_tail or not inflate.eof:
            raise CacheFormatError("damaged or too large")
        return json.loads(plain.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeError) as error:
        raise CacheFormatError("damaged") from error


def encode_value(value: object, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise CacheFormatError("value nested too deeply")
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        if value.bit_length() > MAX_INT_BITS:  # type: ignore[attr-defined]
            raise CacheFormatError("integer too large")
        return value
    if kind is float:
        return value if math.isfinite(value) else ["float", repr(value)]  # type: ignore[arg-type]
    deeper = depth + 1
    if kind is NameRef:
        return ["name", value.qualified_name, encode_span(value.span)]  # type: ignore[attr-defined]
    if kind is NotLiteral:
        return ["code", value.code, encode_span(value.span)]  # type: ignore[attr-defined]
    if kind is CallValue:
        call: CallValue = value  # type: ignore[assignment]
        return [
            "call",
            call.function,
            [encode_value(a, deeper) for a in call.args],
            [[k, encode_value(v, deeper)] for k, v in call.kwargs],
            encode_span(call.span),
        ]
    if kind is TypeRef:
        ref: TypeRef = value  # type: ignore[assignment]
        span = None if ref.span is None else encode_span(ref.span)
        return ["type", ref.name, [encode_value(a, deeper) for a in ref.args], ref.optional, span]
    if kind in (tuple, list, set, frozenset):
        return [kind.__name__, *(encode_value(v, deeper) for v in value)]  # type: ignore[attr-defined]
    if kind is dict:
        pairs = value.items()  # type: ignore[attr-defined]
        return ["dict", *(encode_value(v, deeper) for pair in pairs for v in pair)]
    if kind is bytes:
        return ["bytes", value.hex()]  # type: ignore[attr-defined]
    if kind is complex:
        return ["complex", repr(value.real), repr(value.imag)]  # type: ignore[attr-defined]
    if value is Ellipsis:
        return ["ellipsis"]
    raise CacheFormatError(f"cannot cache a {kind.__name__}")


def decode_float(value: Any) -> float:
    return float(text(value))  # reads only numbers, inf and nan


def decode_value(value: Any, depth: int = 0) -> object:
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int or kind is float:
        return value
    if kind is not list or not value or type(value[0]) is not str:
        raise CacheFormatError("not a value")
    if depth > MAX_DEPTH:
        raise CacheFormatError("value nested too deeply")
    deeper = depth + 1
    tag, rest = value[0], value[1:]
    if tag == "name":
        name, span = fields(rest, 2)
        return NameRef(text(name), decode_span(span))
    if tag == "code":
        code, span = fields(rest, 2)
        return NotLiteral(text(code), decode_span(span))
    if tag == "call":
        function, args, kwargs, span = fields(rest, 4)
        return CallValue(
            text(function),
            tuple(decode_value(a, deeper) for a in items(args)),
            tuple(
                (text(k), decode_value(v, deeper)) for k, v in (fields(p, 2) for p in items(kwargs))
            ),
            decode_span(span),
        )
    if tag == "type":
        return decode_type_ref(rest, deeper)
    try:
        if tag == "tuple":
            return tuple(decode_value(v, deeper) for v in rest)
        if tag == "list":
            return [decode_value(v, deeper) for v in rest]
        if tag == "set":
            return {decode_value(v, deeper) for v in rest}
        if tag == "frozenset":
            return frozenset(decode_value(v, deeper) for v in rest)
        if tag == "dict":
            if len(rest) % 2:
                raise CacheFormatError("damaged dict")
            values = [decode_value(v, deeper) for v in rest]
            return dict(zip(values[::2], values[1::2], strict=True))
        if tag == "float":
            return decode_float(fields(rest, 1)[0])
        if tag == "bytes":
            return bytes.fromhex(text(fields(rest, 1)[0]))
        if tag == "complex":
            real, imag = fields(rest, 2)
            return complex(decode_float(real), decode_float(imag))
    except (TypeError, ValueError) as error:  # an unhashable set member or dict key
        raise CacheFormatError("damaged value") from error
    if tag == "ellipsis" and not rest:
        return Ellipsis
    raise CacheFormatError(f"unknown value tag {tag[:40]!r}")


def decode_type_ref(rest: list[Any], depth: int) -> TypeRef:
    name, args, optional, span = fields(rest, 4)
    return TypeRef(
        text(name),
        tuple(decode_value(a, depth) for a in items(args)),
        flag(optional),
        None if span is None else decode_span(span),
    )


def encode_argument(argument: Argument) -> list[Any]:
    return [argument.name, encode_value(argument.value), encode_span(argument.span)]


def decode_argument(value: Any) -> Argument:
    name, argument, span = fields(value, 3)
    return Argument(text(name), decode_value(argument), decode_span(span))


def encode_module_facts(facts: ModuleFacts) -> list[Any]:
    return [
        facts.path,
        facts.module,
        [[name, encode_class(c)] for name, c in facts.classes.items()],
        [[name, encode_argument(a)] for name, a in facts.constants.items()],
        [encode_ingestion(i) for i in facts.ingestions],
        [encode_diagnostic(d) for d in facts.diagnostics],
    ]


def decode_module_facts(value: Any) -> ModuleFacts:
    path, module, classes, constants, ingestions, diagnostics = fields(value, 6)
    return ModuleFacts(
        text(path),
        text(module),
        {text(k): decode_class(c) for k, c in (fields(p, 2) for p in items(classes))},
        {text(k): decode_argument(a) for k, a in (fields(p, 2) for p in items(constants))},
        tuple(decode_ingestion(i) for i in items(ingestions)),
        tuple(decode_diagnostic(d) for d in items(diagnostics)),
    )


def encode_class(facts: ClassFacts) -> list[Any]:
    return [
        facts.name,
        [encode_value(b) for b in facts.bases],
        [
            [
                f.attribute,
                encode_value(f.annotation),
                [encode_argument(a) for a in f.arguments],
                encode_span(f.span),
            ]
            for f in facts.fields
        ],
        [encode_argument(a) for a in facts.config],
        facts.docstring,
        encode_span(facts.span),
    ]


def decode_class(value: Any) -> ClassFacts:
    name, bases, class_fields, config, docstring, span = fields(value, 6)
    decoded_bases = tuple(decode_value(b) for b in items(bases))
    if not all(type(b) is NameRef for b in decoded_bases):
        raise CacheFormatError("a base that is not a name")
    return ClassFacts(
        text(name),
        decoded_bases,  # type: ignore[arg-type]
        tuple(decode_field(f) for f in items(class_fields)),
        tuple(decode_argument(a) for a in items(config)),
        optional_text(docstring),
        decode_span(span),
    )


def decode_field(value: Any) -> FieldFacts:
    attribute, annotation, arguments, span = fields(value, 4)
    decoded = decode_value(annotation)
    if type(decoded) not in (TypeRef, NotLiteral):
        raise CacheFormatError("an annotation that is not a type")
    return FieldFacts(
        text(attribute),
        decoded,  # type: ignore[arg-type]
        tuple(decode_argument(a) for a in items(arguments)),
        decode_span(span),
    )


def encode_ingestion(facts: IngestionFacts) -> list[Any]:
    arguments = [encode_argument(a) for a in facts.arguments]
    return [
        facts.function,
        arguments,
        facts.docstring,
        encode_span(facts.span),
        facts.takes_one_argument,
        facts.takes_no_argument,
    ]


def decode_ingestion(value: Any) -> IngestionFacts:
    function, arguments, docstring, span, takes_one, takes_none = fields(value, 6)
    return IngestionFacts(
        text(function),
        tuple(decode_argument(a) for a in items(arguments)),
        optional_text(docstring),
        decode_span(span),
        flag(takes_one),
        flag(takes_none),
    )


def encode_table(table: TableSummary) -> list[Any]:
    t = table
    return [
        t.function, t.path, t.group, t.table_name, t.namespace, encode_span(t.span), t.upkeep
    ]  # fmt: skip


def decode_table(value: Any) -> TableSummary:
    function, path, group, table_name, namespace, span, upkeep = fields(value, 7)
    return TableSummary(
        text(function), text(path), text(group), text(table_name), text(namespace),
        decode_span(span), flag(upkeep),
    )  # fmt: skip


def text_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((text(a), text(b)) for a, b in (fields(p, 2) for p in items(value)))


def encode_module_result(result: ModuleResult) -> list[Any]:
    if type(result) is not ModuleResult:
        raise CacheFormatError("not a module result")
    return [
        [encode_diagnostic(d) for d in result.diagnostics],
        [encode_table(t) for t in result.tables],
        [list(pair) for pair in result.outputs],
        [list(pair) for pair in result.inputs],
        [list(pair) for pair in result.locks],
    ]


def decode_module_result(value: Any) -> ModuleResult:
    diagnostics, tables, outputs, inputs, locks = fields(value, 5)
    return ModuleResult(
        tuple(decode_diagnostic(d) for d in items(diagnostics)),
        tuple(decode_table(t) for t in items(tables)),
        text_pairs(outputs),
        tuple((text(p), optional_text(s)) for p, s in (fields(i, 2) for i in items(inputs))),
        text_pairs(locks),
    )


def encode_table_lock(lock: TableLock) -> list[Any]:
    """Field by field, whatever fields TableLock has (resolve/lock.py is another's to change;
    a change to it changes the compiler's fingerprint, so no lock of another shape is read)."""
    if type(lock) is not TableLock:
        raise CacheFormatError("not a table lock")
    return [[f.name, encode_value(getattr(lock, f.name))] for f in dataclass_fields(TableLock)]


def decode_table_lock(value: Any) -> TableLock:
    names = [f.name for f in dataclass_fields(TableLock)]
    pairs = [fields(pair, 2) for pair in items(value)]
    if [name for name, _ in pairs] != names:
        raise CacheFormatError("not a table lock")
    decoded: dict[str, Any] = {name: decode_value(encoded) for name, encoded in pairs}
    return TableLock(**decoded)
