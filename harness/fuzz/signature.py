"""What makes two failures of generated models the same bug: the failing hop, its converter, the status and
the error with its particulars (numbers, names, shapes, paths) stripped, or for a mismatch the first divergent
ONNX op. Also: which known-failure record already covers a signature."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.converters.routes import Route
from harness.run.known_failures import KnownFailure, matches_any
from harness.statuses import STRICT_FAILING

MAX_DETAIL = 160  # characters of normalised error kept: enough to tell two errors apart
MAX_SLUG = 90

# Failures that are not a converter's: the generated model itself did not build or run.
NOT_CONVERTER = ("source_error",)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What the harness wraps around a converter's own words (engine.verdict, engine.convert_route).
HARNESS_PREFIXES = (
    re.compile(r"^\d+ of \d+ examples failed(; first| to run): "),
    re.compile(r"^(run_error|crash|timeout): "),
    re.compile(r"^on inputs [^:]*: "),
)
PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:/[\w.@+\-]+){2,}/?")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
QUOTED = re.compile(r"'([^'\n]{0,200})'|\"([^\"\n]{0,200})\"|`([^`\n]{0,200})`")
# TensorFlow names the node an error happened in, {{node scope/of/one/model/BiasAdd}}: its last part tells the op.
TF_NODE = re.compile(r"\{\{node (?:[^}]*/)?([^}/]*)\}\}")
HEX_ID = re.compile(r"(?<=[_\-])[0-9a-fA-F]{6,}\b")  # a uid a framework appends to a name: LSTM_18b49c84
DIMS = re.compile(r"\b\d+(?:x\d+)+\b")  # 1x3x8x8
# A generated name's counter (Conv_12, unk__6, x:0); digits inside a word (float32, Conv2d) are kept.
NAME_COUNTER = re.compile(r"(?<=[_:])\d+\b")
NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
SHAPE = re.compile(r"[(\[]\s*(?:N|None|\?)(?:\s*,\s*(?:N|None|\?))*\s*,?\s*[)\]]")
SPACES = re.compile(r"\s+")
# A quoted op type or class name (`LayerNormalization`, 'Erfc') tells the bug apart; a quoted tensor or node
# name (/conv1/Conv_output_0, onnx::Conv_12, x:0) is a particular of one model.
PLAIN_WORD = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
# onnxruntime names the node it refused in parentheses, "Node (fuzzed_1/l2_1/BiasAdd) Op (ConvTranspose)".
ORT_NODE = re.compile(r"\bNode \([^)\n]*\)")
DIVERGENT_OP = re.compile(r"^#\d+ (\S+) ")


def strip_harness_wording(error: str) -> str:
    """The converter's or runtime's own message, without what the harness wrapped around it."""
    text = ANSI.sub("", error or "").strip()
    changed = True
    while changed:
        changed = False
        for prefix in HARNESS_PREFIXES:
            stripped = prefix.sub("", text, count=1)
            if stripped != text:
                text, changed = stripped, True
    return text


def normalise_message(error: str) -> str:
    """An error message with the particulars of one model stripped: paths, addresses, quoted names, numbers
    and shapes, so the same bug met in two models reads the same."""
    text = strip_harness_wording(error)
    text = text.split(" [Flaky")[0]  # the search's note on a failure that did not replay
    text = PATH.sub("<path>", text)
    text = ADDRESS.sub("<addr>", text)
    text = ORT_NODE.sub("Node (<name>)", text)
    text = TF_NODE.sub(lambda found: "{{node .../" + re.sub(r"_\d+$", "", found.group(1)) + "}}", text)
    text = HEX_ID.sub("N", text)

    def quoted(match: re.Match[str]) -> str:
        inner = next(group for group in match.groups() if group is not None)
        if re.fullmatch(r"[\[(][\d\s,\-]*[\])]", inner):
            return "<shape>"
        return f"'{inner}'" if PLAIN_WORD.match(inner) else "<name>"

    text = QUOTED.sub(quoted, text)
    text = DIMS.sub("<shape>", text)
    text = NAME_COUNTER.sub("N", text)
    text = NUMBER.sub("N", text)
    text = SHAPE.sub("<shape>", text)
    text = SPACES.sub(" ", text).strip()
    return text[:MAX_DETAIL]


def error_class(error: str) -> str:
    """The exception class a harness error line starts with ("BackendIsNotSupposedToImplementIt: ..."), or ""."""
    found = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|It|Failure|Interrupt|Warning)?):", error)
    return found.group(1).rsplit(".", 1)[-1] if found else ""


@dataclass(frozen=True)
class Signature:
    hop: str  # e.g. "onnx->tf"
    converter: str  # the converter's name with its variant, e.g. "OnnxFromTorch[dynamo]"
    package: str  # the distribution that carries the bug, e.g. "onnx-tf"
    status: str  # convert_error, run_error, mismatch, crash, timeout
    detail: str  # the normalised error, or for a mismatch the first divergent ONNX op (and what differed)

    @property
    def key(self) -> str:
        return " | ".join((self.hop, self.converter, self.status, self.detail))

    @property
    def slug(self) -> str:
        """A folder name that reads as the bug: package, status, the first words of the detail, and a short
        digest of the whole key so two signatures never share a folder."""
        words = re.sub(r"[^A-Za-z0-9]+", "-", self.detail.replace("<shape>", "shape").replace("<name>", "name"))
        words = re.sub(r"-N(?=-|$)", "", words).strip("-").lower()
        variant = re.search(r"\[(\w+)\]", self.converter)
        parts = [self.package, variant.group(1) if variant else "", self.status.replace("_", "-")]
        head = "-".join(part for part in parts if part)
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:6]
        return f"{head}--{words}"[:MAX_SLUG].rstrip("-") + f"--{digest}"

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Signature:
        """From a finding.json (untrusted): every field a string."""
        fields = ("hop", "converter", "package", "status", "detail")
        if not isinstance(data, dict) or any(not isinstance(data.get(name), str) for name in fields):
            raise ValueError(f"not a signature (expected the string fields {', '.join(fields)})")
        return cls(**{name: str(data[name]) for name in fields})


def mismatch_detail(row: dict[str, Any]) -> str:
    """A mismatch's signature detail: the first divergent ONNX op when localization found one, and what kind
    of difference it was (a shape, non-finite values, a dtype, or values beyond tolerance)."""
    error = str(row.get("error") or "")
    kind = ("shape" if "shape" in error else "nonfinite" if re.search(r"NaN|Inf|non-finite", error)
            else "dtype" if "dtype" in error else "values")
    found = DIVERGENT_OP.match(str(row.get("first_divergent_node") or ""))
    detail = f"{kind} diverge at {found.group(1)}" if found else f"{kind} diverge (not localized)"
    # Whether the converted graph, run in float64, still computes the source's function (engine.explain_precision):
    # worse float32 rounding and a changed function are different bugs.
    precision = str(row.get("precision") or "")
    if precision.startswith("float32 rounding"):
        detail += " (float32 rounding only)"
    elif precision.startswith("the function changed"):
        detail += " (function changed)"
    return detail


def failing_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The first row, in hop order, of the first hop that failed (hops after it are skipped)."""
    ordered = sorted(rows, key=lambda row: int(row["hop_index"]))
    # Strict: the campaign hunts float32 rounding worse than the reference's (imprecise) as well.
    return next((row for row in ordered if row.get("raw_status", row["status"]) in STRICT_FAILING), None)


def signature_of(rows: Sequence[dict[str, Any]], route: Route) -> Signature | None:
    """The signature of a cell's first failing hop; None when every hop passed (or only skipped)."""
    row = failing_row(rows)
    if row is None:
        return None
    status = str(row.get("raw_status", row["status"]))
    status = "mismatch" if status == "imprecise" else status  # its detail says "(float32 rounding only)"
    hop = route.hops[int(row["hop_index"]) - 1]
    converter = hop.converter
    if status == "mismatch":
        detail = mismatch_detail(row)
    else:
        message = normalise_message(str(row.get("error") or ""))
        detail = message or status
    return Signature(hop.name, converter.name, converter.package, status, detail)


def is_converter_failure(signature: Signature) -> bool:
    return signature.status not in NOT_CONVERTER


def known_record(row: dict[str, Any], records: Sequence[KnownFailure]) -> KnownFailure | None:
    """The known-failure record covering a failing row by hop, status and quoted error, wherever it happened:
    the records' model and route scoping is ignored, since a generated model is none of the zoo's."""
    status = str(row.get("raw_status", row["status"]))
    error = str(row.get("error") or "")
    for record in records:
        if (matches_any(str(row["hop"]), record.hop) and (not record.status or record.status == status)
                and record.error_contains in error):
            return record
    return None
