"""Label and field selectors.

Label selectors follow k8s.io/apimachinery/pkg/labels/selector.go (string grammar, requirement
rules, sorting and ``String()``) and metav1 ``LabelSelectorAsSelector`` (nil selects nothing, an
empty selector selects everything). Field selectors follow k8s.io/apimachinery/pkg/fields
(``=``, ``==``, ``!=``, comma-AND, backslash escapes; a missing field reads as ``""``) with the
per-kind field sets of the registries (pods, nodes, events) and any dotted path otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# selection.Operator values
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_MEMBERSHIP_OPERATORS = frozenset((IN, EQUALS, DOUBLE_EQUALS))

_QUALIFIED_NAME_MAX = 63
_LABEL_VALUE_MAX = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_NAME_PART_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*")
_LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_INT64_RE = re.compile(r"[+-]?[0-9]+")

QUALIFIED_NAME_FMT_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_FMT_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
DNS1123_SUBDOMAIN_FMT_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


# -- name validation (k8s.io/apimachinery/pkg/util/validation) ---------------------------------
def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(f"must be no more than {DNS1123_SUBDOMAIN_MAX_LENGTH} characters")
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(DNS1123_SUBDOMAIN_FMT_MSG)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """IsQualifiedName: ``[prefix/]name`` with a DNS subdomain prefix and a 63-char name part."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
        errs: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs = ["prefix part must be non-empty"]
        else:
            errs = ["prefix part " + m for m in is_dns1123_subdomain(prefix)]
    else:
        return [
            "a qualified name "
            + QUALIFIED_NAME_FMT_MSG.replace("name part must", "must")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > _QUALIFIED_NAME_MAX:
        errs.append(f"name part must be no more than {_QUALIFIED_NAME_MAX} characters")
    if name and not _NAME_PART_RE.fullmatch(name):
        errs.append(QUALIFIED_NAME_FMT_MSG)
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs = []
    if len(value) > _LABEL_VALUE_MAX:
        errs.append(f"must be no more than {_LABEL_VALUE_MAX} characters")
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(LABEL_VALUE_FMT_MSG)
    return errs


# -- label selectors ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or not _INT64_RE.fullmatch(labels[self.key]):
                return False
            have, want = int(labels[self.key]), int(self.values[0])
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        if op in (IN, NOT_IN):
            return f"{self.key} {op} ({','.join(self.values)})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        return f"{self.key}{symbol}{self.values[0] if self.values else ''}"


def new_requirement(key: str, operator: str, values: Iterable[str]) -> Requirement:
    """labels.NewRequirement: validates the key, the operator's arity and the values."""
    vals = list(values)
    errs = is_qualified_name(key)
    if errs:
        raise ValueError(f'key: Invalid value: "{key}": {"; ".join(errs)}')
    if operator in (IN, NOT_IN):
        if not vals:
            raise ValueError(
                "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            raise ValueError(
                f"values: Invalid value: {vals}: exact-match compatibility requires one single value"
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            raise ValueError(
                f"values: Invalid value: {vals}: values set must be empty for exists and does not exist"
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            raise ValueError(
                f"values: Invalid value: {vals}: for 'Gt', 'Lt' operators, exactly one value is required"
            )
        if not _INT64_RE.fullmatch(vals[0]):
            raise ValueError(
                f"values[0]: Invalid value: \"{vals[0]}\": for 'Gt', 'Lt' operators, the value must be an integer"
            )
    else:
        raise ValueError(f'operator: Unsupported value: "{operator}"')
    for i, v in enumerate(vals):
        verrs = is_valid_label_value(v)
        if verrs:
            raise ValueError(f'values[{i}]: Invalid value: "{v}": {"; ".join(verrs)}')
    return Requirement(key, operator, tuple(sorted(set(vals))))


class LabelSelector:
    """A conjunction of requirements, or the selector that matches nothing (``nothing=True``)."""

    __slots__ = ("requirements", "nothing", "_wanted")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False) -> None:
        # upstream sorts requirements by key (stable) when adding them
        self.requirements: tuple[Requirement, ...] = tuple(sorted(requirements, key=lambda r: r.key))
        self.nothing = nothing
        # (key, values) per requirement when all are equality or set-membership ones (matchLabels
        # and ``In`` expressions: nearly every selector), read by matches without a call per
        # requirement; None otherwise
        self._wanted: tuple[tuple[str, tuple[str, ...]], ...] | None = (
            tuple((r.key, r.values) for r in self.requirements)
            if all(r.operator in _MEMBERSHIP_OPERATORS for r in self.requirements)
            else None
        )

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing_selector(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """Upstream Empty(): true for the match-everything selector only."""
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        lbls = labels or {}
        wanted = self._wanted
        if wanted is None:
            return all(r.matches(lbls) for r in self.requirements)
        for key, values in wanted:  # Requirement.matches for =, == and in: a missing key reads None
            if lbls.get(key) not in values:
                return False
        return True

    def add(self, *reqs: Requirement) -> LabelSelector:
        return LabelSelector((*self.requirements, *reqs), nothing=self.nothing)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self.nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self.nothing == other.nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self.nothing, self.requirements))


# Lexer (labels/selector.go): identifiers run until whitespace or a special symbol.
_SPECIAL = "=!(),<>"
_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|<|>|[^\s=!(),<>]+)")


def _tokens(s: str) -> list[str]:
    out = []
    pos = 0
    while True:
        m = _TOKEN_RE.match(s, pos)
        if m is None:
            if s[pos:].strip():
                raise ValueError(
                    f"unable to parse requirement: found '{s[pos:].strip()}', expected: identifier"
                )
            break
        out.append(m.group(1))
        pos = m.end()
    return out


def _is_identifier(tok: str | None) -> bool:
    return tok is not None and tok[0] not in _SPECIAL


class _Parser:
    def __init__(self, s: str) -> None:
        self.toks = _tokens(s)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> str | None:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, found: str | None, expected: str) -> ValueError:
        shown = "end of string" if found is None else found
        return ValueError(f"unable to parse requirement: found '{shown}', expected: {expected}")

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok = self.peek()
            if tok is None:
                return reqs
            if tok == ",":
                raise self.fail(tok, "identifier")  # an empty requirement
            reqs.append(self.requirement())
            tok = self.next()
            if tok is None:
                return reqs
            if tok != ",":
                raise self.fail(tok, "',' or 'end of string'")
            if self.peek() is None:
                raise self.fail(None, "identifier")

    def requirement(self) -> Requirement:
        tok = self.next()
        negated = tok == "!"
        if negated:
            tok = self.next()
        if not _is_identifier(tok):
            raise self.fail(tok, "identifier")
        key = str(tok)
        if self.peek() in (None, ","):
            return new_requirement(key, DOES_NOT_EXIST if negated else EXISTS, [])
        if negated:
            raise self.fail(self.peek(), "',' or 'end of string'")
        op = self.operator()
        if op in (IN, NOT_IN):
            return new_requirement(key, op, self.value_set())
        return new_requirement(key, op, [self.exact_value()])

    def operator(self) -> str:
        tok = self.next()
        ops = {"in": IN, "notin": NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS,
               ">": GREATER_THAN, "<": LESS_THAN}  # fmt: skip
        if tok not in ops:
            raise self.fail(tok, ", ".join(_BINARY_OPERATORS))
        return ops[str(tok)]

    def exact_value(self) -> str:
        if self.peek() in (None, ","):
            return ""
        tok = self.next()
        if not _is_identifier(tok):
            raise self.fail(tok, "identifier")
        return str(tok)

    def value_set(self) -> list[str]:
        tok = self.next()
        if tok != "(":
            raise self.fail(tok, "'('")
        values: list[str] = []
        expect_value = True
        while True:
            tok = self.next()
            if tok == ")":
                if expect_value and values:
                    values.append("")  # "(a,)" carries an empty value
                return values
            if tok == ",":
                if expect_value:
                    values.append("")
                expect_value = True
                continue
            if _is_identifier(tok) and expect_value:
                values.append(str(tok))
                expect_value = False
                continue
            raise self.fail(tok, "',' or ')'")


def parse_label_selector(s: str) -> LabelSelector:
    """labels.Parse: ``a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1``; "" selects everything."""
    return LabelSelector(_Parser(s).parse())


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector."""
    if sel is None:
        return LabelSelector.nothing_selector()
    match_labels = sel.get("matchLabels") or {}
    exprs = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return LabelSelector.everything()
    reqs = [new_requirement(str(k), EQUALS, [str(v)]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for expr in exprs:
        op = expr.get("operator")
        if op not in ops:
            raise ValueError(f'"{op}" is not a valid label selector operator')
        reqs.append(
            new_requirement(str(expr.get("key", "")), ops[op], [str(v) for v in expr.get("values") or []])
        )
    return LabelSelector(reqs)


# -- field selectors ---------------------------------------------------------------------------
def _field_escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        equal = field_value(obj, self.field) == self.value
        return equal if self.operator == EQUALS else not equal

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{_field_escape(self.value)}"


class FieldSelector:
    __slots__ = ("requirements",)

    def __init__(self, requirements: Iterable[FieldRequirement] = ()) -> None:
        self.requirements = tuple(requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """Value of a ``field=value`` term (RequiresExactMatch), used to index e.g. spec.nodeName."""
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _split_terms(s: str) -> list[str]:
    terms, cur, escaped = [], [], False
    for ch in s:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == ",":
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return terms


def _unescape(v: str) -> str:
    out, escaped = [], False
    for ch in v:
        if escaped:
            if ch not in "\\,=":
                raise ValueError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise ValueError(f"invalid field selector: unescaped {ch}")
        else:
            out.append(ch)
    if escaped:
        raise ValueError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(s: str) -> FieldSelector:
    """fields.ParseSelector: terms sorted, ``!=`` / ``==`` / ``=`` at their first position."""
    reqs = []
    for part in sorted(_split_terms(s)):
        if part == "":
            continue
        for i in range(len(part)):
            rest = part[i:]
            op = next((o for o in ("!=", "==", "=") if rest.startswith(o)), None)
            if op is not None:
                lhs, rhs = part[:i], part[i + len(op) :]
                reqs.append(FieldRequirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, _unescape(rhs)))
                break
        else:
            raise ValueError(f"invalid selector: '{s}'; can't understand '{part}'")
    return FieldSelector(reqs)


# Fields whose registry renders a Go bool (so an unset field reads "false", not "").
_BOOL_FIELDS = {("Node", "spec.unschedulable"), ("Pod", "spec.hostNetwork")}


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string value of a dotted field for selector matching; ``""`` when missing."""
    kind = obj.get("kind", "") if isinstance(obj, Mapping) else ""
    if kind == "Event" and path == "source":
        # event strategy ToSelectableFields: source.component, else the reportingComponent of an
        # events.k8s.io event
        return field_value(obj, "source.component") or field_value(obj, "reportingComponent")
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            cur = None
            break
        cur = cur[part]
    if cur is None:
        return "false" if (kind, path) in _BOOL_FIELDS else ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    if isinstance(cur, str):
        return cur
    if isinstance(cur, int | float):
        return str(cur)
    return ""


# -- label selectors as dicts, memoised (the scheduler's hot path) ---------------------------------
def label_selector_key(sel: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """A hashable identity for a metav1.LabelSelector dict (None for a nil selector)."""
    if sel is None:
        return None
    ml = tuple(sorted((str(k), str(v)) for k, v in (sel.get("matchLabels") or {}).items()))
    me = tuple(
        (str(r.get("key", "")), str(r.get("operator", "")), tuple(str(v) for v in r.get("values") or []))
        for r in sel.get("matchExpressions") or []
    )
    return (ml, me)


_MATCHERS: dict[Any, LabelSelector] = {}
_MATCHERS_MAX = 4096


def label_selector_matcher(sel: Mapping[str, Any] | None) -> LabelSelector:
    """``label_selector_from_dict`` memoised by content, for selectors evaluated many times. A
    selector that does not convert (an invalid operator or value, which validation keeps out of the
    store) selects nothing, as a label selector that fails to parse selects no object upstream."""
    key = label_selector_key(sel)
    hit = _MATCHERS.get(key)
    if hit is not None:
        return hit
    try:
        matcher = label_selector_from_dict(sel)
    except ValueError:
        matcher = LabelSelector.nothing_selector()
    if len(_MATCHERS) >= _MATCHERS_MAX:
        _MATCHERS.clear()
    _MATCHERS[key] = matcher
    return matcher


# -- node selectors (k8s.io/component-helpers/scheduling/corev1/nodeaffinity) ----------------------
def _go_int(s: Any) -> int | None:
    """strconv.ParseInt(s, 10, 64): an optional sign and decimal digits only."""
    if not isinstance(s, str) or not _INT64_RE.fullmatch(s):
        return None
    return int(s)


def node_selector_requirement_matches(req: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A NodeSelectorRequirement against labels (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    key = req.get("key", "")
    op = req.get("operator", "")
    values = req.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        if key not in labels or len(values) != 1:
            return False
        have, want = _go_int(labels[key]), _go_int(values[0])
        if have is None or want is None:
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_selector_term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelectorTerm: every matchExpressions (labels) and matchFields (only ``metadata.name``
    with In/NotIn) requirement holds. A term with neither matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    for req in exprs:
        if not node_selector_requirement_matches(req, labels):
            return False
    if fields:
        fl = {"metadata.name": meta.get("name", "")}
        for req in fields:
            if req.get("key") != "metadata.name" or req.get("operator") not in ("In", "NotIn"):
                return False
            if not node_selector_requirement_matches(req, fl):
                return False
    return True


def node_selector_matches(selector: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelector: its terms are ORed (no terms matches nothing)."""
    return any(node_selector_term_matches(t, node) for t in selector.get("nodeSelectorTerms") or [])


def required_node_affinity_matches(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): ``spec.nodeSelector`` AND the required node
    affinity (when set)."""
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    na = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if req is not None:
        return node_selector_matches(req, node)
    return True
