"""A finding folder per new failure signature (reports/findings/<slug>/): the minimal model, its files, a repro.py
that needs only the failing converter's packages, a draft upstream issue, and the README that lists them all.

Everything read back from a findings folder is data: finding.json and description.json are parsed and
validated, and nothing in the folder is imported or executed by the harness (repro.py runs only in a stack's
interpreter, as a subprocess, in the finding's own folder)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.atomic import open_atomic, write_atomic
from harness.converters import tracked_packages
from harness.converters.base import Converter
from harness.converters.routes import Route
from harness.execution.stacks import get_stack, portable, stack_versions
from harness.execution.worker import load_npz
from harness.fuzz.signature import Signature, error_class, normalise_message, strip_harness_wording
from harness.oracle.compare import rule_source
from harness.repro.templates import keras_signature, plan_for, render

if TYPE_CHECKING:
    from harness.fuzz.grammar import ModelDescription

FINDING = "finding.json"
DESCRIPTION = "description.json"
README = "README.md"
CAMPAIGN = "campaign.json"
REPRO_TIMEOUT = 600.0  # seconds: importing TensorFlow and converting a small model takes well under this


@dataclass
class FailedHop:
    """The files and facts of one failing hop of a generated model's (truncated) route, read from its cell."""

    signature: Signature
    converter: Converter
    route_id: str  # the whole route the failure was found on
    hop_index: int
    row: dict[str, Any]  # the failing hop's result row
    io: dict[str, Any]
    source_format: str  # "torch" or "keras": the route's source
    consumed: Path  # the artifact the failing hop converted
    produced: Path  # what it wrote (may be missing or invalid)
    consumed_format: str  # "generated" (the route's source model), "onnx", "torch" (onnx2pytorch's), "tf", "keras"
    failing_input: Path  # the input it failed on, in the route's layout (the export example for a conversion)
    export_input: Path
    source_weights: Path | None  # the generated torch model's state dict (.npz), for torch_source's weights.npz
    expected: list[np.ndarray] = field(default_factory=list)  # the source model's outputs on failing_input


@dataclass
class FindingRecord:
    """What finding.json says about a finding, plus its folder."""

    folder: Path
    signature: Signature
    data: dict[str, Any]

    @property
    def hits(self) -> int:
        return int(self.data.get("hits", 1))


# A converter that raises one of these has declared the construct unsupported: a gap it knows of, reported
# apart from the bugs (a crash, an invalid model, a converted model that fails to run, wrong numbers).
UNSUPPORTED_WORDING = ("BackendIsNotSupposedToImplementIt", "is not supported in Tensorflow",  # onnx-tf's own
                       "Cannot set non-1 dilation",  # onnx-tf's ConvTranspose refusal
                       "NotImplementedError", "not yet implemented",  # onnx2pytorch's
                       "UnsupportedOperatorError", "Unsupported: ONNX export",  # torch.onnx's
                       "Unimplemented nodes")  # nobuco's list of calls it has no converter for


# Outputs transposed: the values are right and the layout is the converter's documented convention (onnx2tf's
# channels-last), which its maintainer answers with a flag, not a fix; still listed, as a user meets it.
NOT_A_BUG = ("unsupported (says so)", "rounds worse", "layout changed (outputs transposed)")


def finding_kind(status: str, error: str, detail: str = "") -> str:
    """What a finding is worth upstream; `detail` is its signature's (a mismatch's says when the converted graph
    equals the source in float64, i.e. it computes the same function and only rounds worse)."""
    if status == "mismatch":
        if "the output is the reference transposed by" in error:
            return "layout changed (outputs transposed)"
        return "rounds worse" if "float32 rounding only" in detail else "wrong numbers"
    if status == "run_error":
        return "converted model fails to run"
    if any(wording in error for wording in UNSUPPORTED_WORDING):
        return "unsupported (says so)"
    if "InvalidOnnxModel" in error:
        return "invalid model written"
    return "crash" if status in ("convert_error", "crash") else status


def write_portable(path: Path, text: str) -> None:
    """A finding's files go upstream: the errors and outputs they quote name no folder of this machine."""
    write_atomic(path, upstream_text(text))


def upstream_text(text: str) -> str:
    """portable(), and no home or temporary folder either: a campaign written outside the checkout quotes its
    artifacts' absolute paths in converters' errors ("Load model from /tmp/.../model.onnx failed"). Only text that
    goes upstream: a report's artifact paths stay paths the harness can open."""
    text = portable(text)
    for folder, name in ((Path.home(), "~"), (Path(tempfile.gettempdir()), "<tmp>")):
        text = text.replace(f"{folder}/", f"{name}/")
    return text


def one_line_cause(status: str, row: dict[str, Any]) -> str:
    if status == "mismatch":
        where = str(row.get("first_divergent_node") or "").split(" (")[0] or "an unlocalized node"
        error = row.get("max_abs_err")
        size = f"max abs err {float(error):.3g}" if isinstance(error, (int, float)) else "outputs differ"
        return f"outputs differ from the source model ({size}); first divergent node {where}"
    text = strip_harness_wording(str(row.get("error") or status)).splitlines()
    return (text[0] if text else status)[:200]


def copy_artifact(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)
        sidecar = source.with_name(source.name + ".data")  # the dynamo exporter keeps weights beside the graph
        if sidecar.is_file():
            shutil.copyfile(sidecar, target.with_name(target.name + ".data"))


def save_named(path: Path, names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    """An .npz keyed by the model's input or output names, in their order (np.savez keeps insertion order)."""
    named: dict[str, Any] = dict(zip(names, arrays))
    with open_atomic(path) as handle:
        np.savez(handle, **named)


def issue_text(failed: FailedHop, description: Any, versions: dict[str, str], packages: Sequence[str],
               campaign: dict[str, Any]) -> str:
    sig, row = failed.signature, failed.row
    package = sig.package
    version = versions.get(package, "?")
    cause = one_line_cause(sig.status, row)
    hop_words = {"convert_error": "fails to convert", "run_error": "converts a model that fails to run",
                 "mismatch": "converts a model that computes different outputs", "crash": "crashes the process",
                 "timeout": "hangs"}.get(sig.status, sig.status)
    variants = {"dynamo": " (dynamo exporter)", "torchscript": " (TorchScript exporter)"}
    exporter = variants.get(failed.converter.variant, "")
    title = f"{package} {version}{exporter} {hop_words}: {cause[:100]} (`{description.summary()}`)"
    if sig.status == "mismatch":
        expected = ("The converted model's outputs equal the source model's (expected.npz) within float32 tolerance "
                    "(atol 1e-5 in units of the output's scale, rtol 1.3e-6).")
        actual = f"{cause}.\n\nThe harness's verdict: `{row.get('error') or 'mismatch'}`"
    elif sig.status == "run_error":
        expected = "The converted model runs on the input in input.npz and matches expected.npz."
        actual = f"```\n{strip_harness_wording(str(row.get('error') or ''))}\n```"
    else:
        expected = "The conversion succeeds and the converted model matches expected.npz."
        actual = f"```\n{strip_harness_wording(str(row.get('error') or sig.status))}\n```"
    pins = " ".join(f"{name}=={versions[name]}" if name in versions else name for name in packages)
    steps = "\n".join([
        f"1. `pip install {pins}`",
        "2. In this folder: `python repro.py` (exit status 1 while the bug is there, 0 once fixed)",
        "",
        f"The model: {description.layer_count()} layer(s), `{description.summary()}`; input(s) "
        + ", ".join(f"{spec['name']} {spec['dtype']} {list(array.shape)}"
                    for spec, array in zip(failed.io["inputs"], load_npz(str(failed.failing_input)))) + ".",
    ])
    version_lines = "\n".join(f"- {name} {value}" for name, value in sorted(versions.items()))
    return (f"# {title}\n\n{steps}\n\n## Expected\n\n{expected}\n\n## Actual\n\n{actual}\n\n## Versions\n\n"
            f"{version_lines}\n\n## How it was found\n\n`{campaign.get('command', 'parity fuzz')}` generated a "
            f"model that failed at hop {failed.hop_index} ({sig.hop}) of the round trip `{failed.route_id}`; the "
            "model was then shrunk to the smallest one that still fails the same way (description.json).\n")


def write_finding(folder: Path, failed: FailedHop, description: Any, *, torch_source: str | None,
                  hits: int, first_model: str, shrink: dict[str, Any], campaign: dict[str, Any]) -> Path:
    """Write every file of a finding into `folder` (replacing an older one); returns finding.json's path."""
    sig, row = failed.signature, failed.row
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    plan = plan_for(failed.converter, failed.consumed_format)
    packages = list(plan.packages) + (["onnxscript"] if failed.converter.variant == "dynamo" else [])
    write_portable(folder / DESCRIPTION, json.dumps(description.to_json(), indent=1) + "\n")
    input_names = [str(spec["name"]) for spec in failed.io["inputs"]]
    output_names = [str(name) for name in failed.io["outputs"]]
    save_named(folder / "input.npz", input_names, load_npz(str(failed.failing_input)))
    save_named(folder / "expected.npz", output_names, failed.expected)
    # The minimal model's ONNX: what the failing hop read, or for an exporter what it wrote (when it wrote any).
    if failed.consumed_format == "onnx":
        copy_artifact(failed.consumed, folder / "model.onnx")
    elif failed.converter.target.name == "onnx" and failed.produced.is_file():  # not litert-torch's flatbuffer
        copy_artifact(failed.produced, folder / "model.onnx")
    if "model.keras" in plan.files:  # tf2onnx's and Keras's own export
        copy_artifact(failed.consumed, folder / "model.keras")
    elif plan.kind == "tf2onnx-saved-model":
        copy_artifact(failed.consumed, folder / "saved_model")
    elif "export_input.npz" in plan.files:  # a torch module's converters: the example they are given
        save_named(folder / "export_input.npz", input_names, load_npz(str(failed.export_input)))
        if "model.py" in plan.files:
            if torch_source is None or failed.source_weights is None:
                raise ValueError("a torch export repro needs the generated model's source and weights")
            write_portable(folder / "model.py", torch_source)
            shutil.copyfile(failed.source_weights, folder / "weights.npz")
        else:
            copy_artifact(failed.consumed / "source.onnx", folder / "source.onnx")
    versions = stack_versions(failed.converter.stack, tracked_packages())
    opset = failed.converter.target_opset if failed.converter.takes_opset else None
    from harness.converters.onnx_from_torch import dynamic_axes_for

    what = (f"{sig.converter} at hop {failed.hop_index} ({sig.hop}) of {failed.route_id}: {sig.status}; "
            f"signature `{sig.key}`.")
    write_portable(folder / "repro.py", render(
        plan, title=f"{sig.package} {versions.get(sig.package, '?')}: {one_line_cause(sig.status, row)[:120]}",
        what=what, input_names=input_names, output_names=output_names, rule=rule_source(), opset=opset,
        dynamo=failed.converter.variant == "dynamo", dynamic_axes=dynamic_axes_for(failed.io),
        signature=keras_signature(failed.io)))
    write_portable(folder / "versions.json", json.dumps(
        {"stack": failed.converter.stack, "converter": failed.converter.name, "packages": versions}, indent=1) + "\n")
    write_portable(folder / "issue.md", issue_text(failed, description, versions, packages, campaign))
    record = {
        "signature": sig.to_json(), "key": sig.key, "slug": sig.slug, "converter": sig.converter,
        "package": sig.package, "version": versions.get(sig.package, "?"), "stack": failed.converter.stack,
        "hop": sig.hop, "hop_index": failed.hop_index, "route": failed.route_id, "status": sig.status,
        "error": str(row.get("error") or ""), "first_divergent_node": str(row.get("first_divergent_node") or ""),
        "max_abs_err": row.get("max_abs_err"), "cause": one_line_cause(sig.status, row),
        "layers": description.layer_count(), "summary": description.summary(), "opset": row.get("opset"),
        "hits": hits, "first_model": first_model, "shrink": shrink, "packages": packages,
        "repro": {"exit_code": None, "reproduces": False, "output": "not run"},
    }
    write_portable(folder / FINDING, json.dumps(record, indent=1, default=str) + "\n")
    return folder / FINDING


def repro_environment() -> dict[str, str]:
    """A plain environment: no PYTHONPATH, so the repro cannot lean on the harness or the zoo."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    # No __pycache__ left in the finding (repro.py imports the model.py beside it).
    env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PYTHONHASHSEED": "0",
                "PYTHONDONTWRITEBYTECODE": "1"})
    return env


def run_repro(folder: Path, stack: str, *, timeout: float = REPRO_TIMEOUT) -> dict[str, Any]:
    """Run repro.py once in the stack's interpreter, in the finding's folder; record its exit code and whether it
    reproduces: exit 1 and, for an error, the same exception class as the harness saw."""
    record = json.loads((folder / FINDING).read_text())
    python = get_stack(stack).ensure()
    try:
        done = subprocess.run([str(python), "repro.py"], cwd=folder, capture_output=True, text=True, timeout=timeout,
                              env=repro_environment())
        code: int | None = done.returncode
        output, errors = done.stdout.strip(), done.stderr.strip()
    except subprocess.TimeoutExpired:
        code, output, errors = None, "", f"no exit within {timeout:.0f} s"
    # What the repro printed, and the end of its stderr (the frameworks' import chatter comes first there).
    tail = "\n".join(output.splitlines()[-6:] + [f"stderr: {line}" for line in errors.splitlines()[-2:]])
    failed_line = next((line for line in reversed(output.splitlines()) if line.startswith("FAILED")), "")
    same_error = True
    if record.get("status") in ("convert_error", "run_error", "crash"):
        # The converter's own words must come back (the harness's wording around them may not).
        error = str(record.get("error") or "")
        raised = error_class(strip_harness_wording(error))
        same_error = (raised in failed_line.split(":")[1] if raised and ":" in failed_line else False) or \
            core_message(error) in normalise_message(failed_line)
        if raised == "OpsetNotWritten":  # the harness's own check, which repro.py makes in its words
            same_error = "wrote opset" in failed_line
    reproduces = code == 1 and bool(failed_line) and same_error
    record["repro"] = {"exit_code": code, "reproduces": reproduces, "output": tail[-1500:],
                       "python": f"parity stacks {stack} --python"}
    write_portable(folder / FINDING, json.dumps(record, indent=1, default=str) + "\n")
    return dict(record["repro"])


def core_message(error: str) -> str:
    """A harness error line reduced to the converter's or checker's own words, normalised, without the class."""
    text = re.sub(r"^InvalidOnnxModel: the converter wrote an invalid model: ", "", strip_harness_wording(error))
    # Up to the next ": ", where the harness may quote a cause the converter only logged.
    return normalise_message(re.sub(r"^[\w.]+: ", "", text)).split(": ")[0][:60]


def read_finding(folder: Path) -> FindingRecord:
    """A finding folder's finding.json, validated; ValueError names what is wrong."""
    path = folder / FINDING
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    try:
        signature = Signature.from_json(data.get("signature"))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if not isinstance(data.get("route"), str) or not isinstance(data.get("hop_index"), int):
        raise ValueError(f"{path}: needs a string `route` and an integer `hop_index`")
    return FindingRecord(folder, signature, data)


def read_findings(out_dir: Path) -> list[FindingRecord]:
    """Every finding folder under out_dir, in name order; folders without a valid finding.json are skipped."""
    records = []
    for folder in sorted(path for path in out_dir.iterdir() if path.is_dir()) if out_dir.is_dir() else []:
        try:
            records.append(read_finding(folder))
        except ValueError:
            continue
    return records


def update_hits(record: FindingRecord, hits: int) -> None:
    record.data["hits"] = hits
    write_portable(record.folder / FINDING, json.dumps(record.data, indent=1, default=str) + "\n")


def repro_status(data: dict[str, Any]) -> str:
    repro = data.get("repro")
    if not isinstance(repro, dict) or repro.get("output") == "not run":
        return "not run"
    code = repro.get("exit_code")
    if code is None:
        return "timed out"
    return f"exit {code}" + ("" if repro.get("reproduces") else " (does NOT reproduce)")


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# Kinds a judged finding may have that say it is no converter bug at all (beside NOT_A_BUG).
NOT_A_CONVERTER_BUG = ("not reproduced", "references disagree with the source")
RUNTIMES = ("onnxruntime", "onnx")


def meets_every_rule(data: dict[str, Any]) -> bool:
    """A finding a maintainer would accept: its input was one a user would have (the owner is judged), two
    references confirm its expected output, its repro builds the model inline and fails from an empty folder, and
    its tracker was searched."""
    judged = data.get("judged")
    if not isinstance(judged, dict):
        return False
    repro = as_dict(judged.get("repro"))
    upstream = as_dict(data.get("upstream"))
    searched = str(upstream.get("status", "")).startswith(("known", "searched"))
    return (bool(judged.get("self_contained")) and repro.get("exit_code") == 1 and bool(repro.get("reproduces"))
            and searched
            and str(judged.get("kind")) not in (*NOT_A_BUG, *NOT_A_CONVERTER_BUG)
            and references_confirm(str(data.get("hop", "")), dict(judged.get("references") or {"": "agrees"})))


def references_confirm(hop: str, references: dict[str, str]) -> bool:
    """Whether onnxruntime and onnx.reference back the finding. For a hop reading ONNX they run its input, and one
    must give the source's outputs. For a hop writing ONNX they run what the converter wrote, which while the bug
    is there neither can agree on: both must have run it and found it wrong (one that agrees makes the finding
    that runtime's, and rejudge says so); the expected outputs are the source's own."""
    if "agrees" in references.values():
        return True
    asked = [verdict for verdict in references.values() if not verdict.startswith("not run")]
    return hop.endswith("->onnx") and len(asked) >= 2


def as_dict(value: Any) -> dict[str, Any]:
    """A field of finding.json that should be an object (the file is data: anything else reads as empty)."""
    return value if isinstance(value, dict) else {}


def owner_group(owner: str) -> str:
    from harness.converters import default_converters

    deprecated = {converter.package for converter in default_converters() if converter.deprecated}
    if owner in RUNTIMES:
        return "runtimes"
    return "deprecated converters" if owner in deprecated else "maintained converters"


def judged_lines(records: Sequence[FindingRecord]) -> list[str]:
    """The findings as re-judged under the rules (finding.json's "judged"), counted by owner and kind,
    maintained converters apart; nothing when no finding was judged."""
    judged = [record for record in records if isinstance(record.data.get("judged"), dict)]
    if not judged:
        return []
    counts: dict[tuple[str, str, str], list[int]] = {}
    for record in judged:
        verdict = record.data["judged"]
        owner, kind = str(verdict.get("owner")), str(verdict.get("kind"))
        entry = counts.setdefault((owner_group(owner), owner, kind), [0, 0])
        entry[0] += 1
        entry[1] += meets_every_rule(record.data)
    lines = ["", "## Judged under the rules a maintainer applies", "",
             "Whose finding it is (an input that fails the strict checks makes it the previous hop's), whether "
             "onnxruntime or onnx.reference confirms the expected output, a repro that builds the model inline and "
             "exits 1 from an empty folder, and an upstream search ([the rules](../../docs/howto/fuzzing.md)). "
             f"Counted from finding.json ({len(records) - len(judged)} of {len(records)} findings not judged yet):",
             "",
             "| group | owner | kind | findings | meeting every rule |", "|---|---|---|---|---|"]
    for (group, owner, kind), (count, meeting) in sorted(counts.items()):
        lines.append(f"| {cell(group)} | {cell(owner)} | {cell(kind)} | {count} | {meeting} |")
    for group in ("maintained converters", "deprecated converters", "runtimes"):
        members = [record for record in judged if owner_group(str(record.data["judged"].get("owner"))) == group]
        accepted = [record for record in members if meets_every_rule(record.data)]
        new = [record for record in accepted if str(record.data["upstream"].get("status", "")).startswith("searched")]
        owners = sorted({str(record.data["judged"]["owner"]) for record in accepted})
        lines.append(f"\n{group.capitalize()}: {len(members)} findings, {len(accepted)} meeting every rule across "
                     f"{len(owners)} ({', '.join(owners) or 'none'}), {len(new)} of them not found upstream.")
    lines += ["", "| finding | was | now | reason | references | repro from an empty folder | upstream |",
              "|---|---|---|---|---|---|---|"]
    for record in judged:
        verdict = record.data["judged"]
        was = verdict.get("was") or {}
        repro = as_dict(verdict.get("repro"))
        run = f"exit {repro.get('exit_code')}" if verdict.get("self_contained") else "not self-contained"
        upstream = as_dict(record.data.get("upstream"))
        references = "; ".join(f"{name}: {state}" for name, state in dict(verdict.get("references") or {}).items())
        lines.append(f"| [{cell(record.folder.name)}]({record.folder.name}/issue.md) | {cell(was.get('package'))}: "
                     f"{cell(was.get('kind'))} | {cell(verdict.get('owner'))}: {cell(verdict.get('kind'))} | "
                     f"{cell(str(verdict.get('reason'))[:200])} | {cell(references or '-')} | {cell(run)} | "
                     f"{cell(upstream.get('status', 'not searched'))} |")
    return lines


def write_readme(out_dir: Path, campaign: dict[str, Any]) -> Path:
    """reports/findings/README.md: every finding with its converter, layers, cause and repro status, then the
    known-failure signatures the campaign counted."""
    records = read_findings(out_dir)
    lines = ["# Findings of `parity fuzz`", "",
             "Each folder holds a minimal generated model that breaks a converter: `description.json`, `model.onnx`, "
             "`input.npz`, `expected.npz`, `repro.py` (needs only the converter's own packages; exit 1 while the bug "
             "is there; once judged, it builds the model inline and needs no file beside it), `versions.json`, "
             "`issue.md` (a draft upstream issue) and `finding.json`. `pytest --zoo` runs each repro and calls a "
             "finding stale when it exits 0.", ""]
    if campaign:
        lines += [f"Last campaign: `{campaign.get('command', '')}`: {campaign.get('models', 0)} models in "
                  f"{float(campaign.get('seconds', 0)) / 60:.1f} min, {campaign.get('failures', 0)} failing routes, "
                  f"{len(campaign.get('signatures', {}))} distinct signatures "
                  f"({len(campaign.get('new', []))} new, {len(campaign.get('known', {}))} known).", ""]
    for revision in campaign.get("revisions", []) if campaign else []:
        lines += [f"- Since the campaign: {revision}"]
    if campaign and campaign.get("revisions"):
        lines += [""]
    converters = sorted({record.signature.package for record in records})
    kinds = {record.folder.name: finding_kind(record.signature.status, str(record.data.get("error") or ""),
                                              record.signature.detail) for record in records}
    reproduced = [record for record in records if repro_status(record.data) == "exit 1"]
    bugs = [record for record in reproduced if kinds[record.folder.name] not in NOT_A_BUG]
    bug_converters = sorted({record.signature.package for record in bugs})
    lines += [f"{len(records)} findings across {len(converters)} converters ({', '.join(converters)}); "
              f"{len(reproduced)} of them reproduce with the converter's packages alone (repro.py exits 1): "
              f"{len(bugs)} bugs across {len(bug_converters)} converters ({', '.join(bug_converters)}), that is a "
              "crash, an invalid model written, a converted model that fails to run, or wrong numbers, and "
              f"{len(reproduced) - len(bugs)} that are not bugs as such: constructs the converter reports as "
              "unsupported (its own not-implemented error), or a converted graph that computes the same function "
              "and rounds worse in float32. The others failed in the harness only (e.g. onnxruntime refusing a "
              "model that onnx.reference, which the repro uses, runs).", "",
              "| finding | converter | hop | kind | status | layers | cause | models hit | repro |",
              "|---|---|---|---|---|---|---|---|---|"]
    for record in sorted(records, key=lambda record: (kinds[record.folder.name] in NOT_A_BUG,
                                                      record.signature.package, record.folder.name)):
        data = record.data
        lines.append(
            f"| [{cell(record.folder.name)}]({record.folder.name}/issue.md) | {cell(data.get('package'))} "
            f"{cell(data.get('version', ''))} ({cell(record.signature.converter)}) | {cell(record.signature.hop)} | "
            f"{cell(kinds[record.folder.name])} | "
            f"{cell(record.signature.status)} | {cell(data.get('layers'))}: `{cell(data.get('summary'))}` | "
            f"{cell(data.get('cause', ''))} | {cell(record.hits)} | {cell(repro_status(data))} |")
    lines += judged_lines(records)
    known = campaign.get("known", {}) if campaign else {}
    if known:
        lines += ["", "Known failures (`known_failures.toml`) the campaign met, counted and not reported as new:", "",
                  "| record | failing routes |", "|---|---|"]
        lines += [f"| {cell(record_id)} | {count} |" for record_id, count in sorted(known.items())]
    other = campaign.get("not_converter", {}) if campaign else {}
    if other:
        lines += ["", "Generated models that did not build or run in their own framework (not converter bugs):", ""]
        lines += [f"- {cell(text)}: {count}" for text, count in sorted(other.items())]
    path = out_dir / README
    write_portable(path, "\n".join(lines) + "\n")
    return path


def truncated(route: Route, hop_index: int) -> Route:
    """The route up to and including hop `hop_index`: what a shrink step or a replay needs to run."""
    return Route(route.source, route.hops[:hop_index])


def route_for_finding(route_id: str, hop_index: int) -> Route:
    """The route a finding names, cut after its failing hop; ValueError when no such route or hop exists."""
    from harness.converters import default_converters
    from harness.converters.routes import opsets_in
    from harness.errors import UsageError
    from harness.run.selection import select_routes

    try:
        (route,) = select_routes([route_id], default_converters(opsets=opsets_in(route_id)))
    except (UsageError, ValueError):
        raise ValueError(f"no route {route_id!r}") from None
    if not 1 <= hop_index <= len(route.hops):
        raise ValueError(f"route {route_id} has no hop {hop_index}")
    return truncated(route, hop_index)


def load_description(path: Path) -> ModelDescription:
    """A description file (untrusted): parsed and validated by the grammar; ValueError names the problem."""
    from harness.fuzz.grammar import ModelDescription

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable JSON file ({type(exc).__name__}: {str(exc)[:120]})") from None
    try:
        return ModelDescription.from_json(data)
    except ValueError as exc:
        raise ValueError(f"{path}: not a valid model description: {exc}") from None
