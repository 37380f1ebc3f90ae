"""A committed finding judged under the rules a maintainer applies: whose it is (validity.py), whether two references
confirm its expected output (references.py), a self-contained repro run from an empty folder, and an issue.md
that can be pasted upstream. The verdict and its reasons go into finding.json under "judged"; nothing is
deleted, so a finding that moved to another converter keeps its history.

Everything read from the folder is data; repro.py runs only in a stack's interpreter, in an empty folder."""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.execution.stacks import get_stack, portable
from harness.execution.worker import load_npz
from harness.formats import TORCH
from harness.fuzz.findings import FINDING, as_dict, finding_kind, read_finding, repro_environment, write_portable
from harness.fuzz.references import second_references
from harness.fuzz.validity import Ownership, artifact_problems, judge_finding
from harness.oracle.compare import rule_source
from harness.repro.inline import (
    KERAS_BODIES,
    TORCH_BODIES,
    InlineRepro,
    render_keras_source,
    render_onnx_input,
    render_torch_source,
)

REPRO_TIMEOUT = 600.0
# A temporary or home folder a framework logs on stderr: nothing of this machine goes into a finding's files.
MACHINE_PATH = re.compile(r"(?<![\w.])/(?:tmp|root|home|work)/[^\s\"'\\]*|~/\.cache/[^\s\"'\\]*")
TITLE_LENGTH = 200
# What the repros that no converter record describes import: an exporter's (torch, onnx.reference) and a runtime's.
OWNER_PACKAGES = {"onnxruntime": ("numpy", "onnx", "onnxruntime"), "torch": ("numpy", "torch", "onnx")}
NOT_A_CONVERTER = ("onnxruntime", "onnx")  # runtimes: a finding of theirs is counted apart from the converters'


@dataclass(frozen=True)
class Verdict:
    owner: str
    kind: str
    reason: str
    references: dict[str, str]
    # How repro.py is written: "onnxruntime", the format the failing hop read ("onnx", "torch", "keras": its
    # converter record's template for it), or "" (kept).
    repro_kind: str


def agreeing(references: dict[str, str]) -> list[str]:
    return [runtime for runtime, verdict in references.items() if verdict == "agrees"]


def decide(data: dict[str, Any], ownership: Ownership, references: dict[str, str], previous: str,
           written_problems: list[str] | None = None) -> Verdict:
    """The owner and kind of a finding under the rules; `references` are onnxruntime's and onnx.reference's
    verdicts on the ONNX model in play (the failing hop's input, or for an exporter what it wrote); `previous` is
    the package of the hop before the failing one ("" for hop 1); `written_problems` what the strict checks find
    in the ONNX model a converter wrote (None when it wrote none or the hop reads ONNX)."""
    status, package = str(data["status"]), str(data["package"])
    old_kind = finding_kind(status, str(data.get("error") or ""), str(data["signature"].get("detail") or ""))
    source = str(data["hop"]).split("->")[0]
    consumes_onnx = source == "onnx"
    if ownership.kind:
        return Verdict(ownership.owner, ownership.kind, ownership.reason, references, "")
    if consumes_onnx and references and not agreeing(references):
        # Neither runtime computes the source's outputs from the converter's input: the expected output is
        # not confirmed, and the disagreement is the writer's, not this converter's.
        return Verdict(previous, "references disagree with the source",
                       f"onnxruntime and onnx.reference both differ from the source on the input: {references}",
                       references, "")
    if not consumes_onnx and written_problems and status in ("run_error", "mismatch"):
        # A model that fails the strict checks is its writer's fault, whatever a lenient runtime makes of it.
        return Verdict(package, "invalid model written", f"the ONNX model {package} wrote fails the strict checks: "
                       + "; ".join(written_problems), references, source)
    if not consumes_onnx and references:
        confirmed = agreeing(references)
        if status in ("run_error", "mismatch") and len(confirmed) == 1:
            refusing = next(runtime for runtime in references if runtime not in confirmed)
            # The campaign found the written graph equal to the source in float64: the runtime rounds worse.
            kind = "rounds worse" if old_kind == "rounds worse" else "runtimes disagree on a valid model"
            return Verdict(refusing, kind,
                           f"{confirmed[0]} computes the source's outputs from what {package} wrote; {refusing}: "
                           f"{references[refusing]}", references, "onnxruntime" if refusing == "onnxruntime" else "")
        if status == "mismatch" and len(confirmed) == 2:
            return Verdict(package, "not reproduced", "both runtimes compute the source's outputs from what "
                           f"{package} wrote (the campaign's mismatch was float32 rounding)", references, "")
    # The failing hop's converter record names the template for what it read (repro_target): an ONNX input's
    # (onnx-tf, onnx2pytorch, or its snippet: onnx2tf, onnxslim), a torch or a Keras source's.
    return Verdict(package, old_kind, ownership.reason, references, source)


# -- repro.py ----------------------------------------------------------------------------------------------------
def stack_python(stack: str) -> Path:
    return get_stack(stack).ensure()


def in_stack(module: str, *args: str) -> str:
    """stdout of `python -m module args` in the current stack (the model is parsed there, never run)."""
    from harness.execution.pool import worker_environment

    done = subprocess.run([str(stack_python("current")), "-m", module, *args], capture_output=True, text=True,
                          timeout=REPRO_TIMEOUT, env=worker_environment(), check=False)
    if done.returncode != 0:
        raise ValueError((done.stderr.strip().splitlines() or ["failed"])[-1])
    return done.stdout


def node_lines(model: Path) -> list[str]:
    return [str(line) for line in json.loads(in_stack("harness.repro.onnx_builder", "--nodes", str(model)))]


def torch_parts(folder: Path) -> tuple[str, str, dict[str, np.ndarray]]:
    """The generated torch model as code (helper classes, the nn.Sequential expression) and its state dict."""
    from harness.fuzz.codegen import TORCH_HELPERS, helper_sources, helpers_used, render
    from harness.fuzz.findings import load_description
    from harness.fuzz.grammar import torch_model

    call = torch_model(load_description(folder / "description.json"))
    used = set(helpers_used(call))
    classes = "".join(helper_sources()[name] + "\n\n\n" for name in TORCH_HELPERS if name in used)
    with np.load(folder / "weights.npz", allow_pickle=False) as weights:
        state = {name: weights[name] for name in weights.files}
    return classes, render(call, 1), state


def keras_parts(folder: Path) -> tuple[str, dict[str, np.ndarray], list[tuple[str, list[int | None], str]]]:
    """The finding's Keras model as code (`def build_model()` reading WEIGHTS), its weights (read in the current
    stack: harness.repro.keras_weights) and the input signature the harness gives its converter."""
    from harness.formats import KERAS
    from harness.fuzz.codegen import keras_build_source
    from harness.fuzz.findings import load_description
    from harness.fuzz.grammar import keras_program, model_spec
    from harness.repro.templates import keras_signature
    from harness.run.engine import io_for

    description = load_description(folder / "description.json")
    program = keras_program(description)
    if program is None:
        raise ValueError(f"{folder.name}: {description.summary()} has no Keras twin")
    build = keras_build_source(program.statements, program.input_shape[1:], description.input_dtype, "WEIGHTS")
    with tempfile.TemporaryDirectory(prefix="keras-weights-") as scratch:
        path = Path(scratch) / "weights.npz"
        in_stack("harness.repro.keras_weights", str(folder), str(path))
        with np.load(path, allow_pickle=False) as saved:
            weights = {name: saved[name] for name in saved.files}
    return build, weights, keras_signature(io_for(model_spec(description, "fuzz"), KERAS))


@dataclass(frozen=True)
class ReproTarget:
    """Which template an inline repro uses, in which stack it runs, what it imports."""

    template: str  # "onnx-tf", "onnx2pytorch", "onnx-snippet", "onnxruntime", "torch", or a Keras source's
    stack: str
    packages: tuple[str, ...]
    snippet: str = ""
    opset: int | None = None  # what the converter asks its exporter for (None: the exporter's default)


# The file-based templates (a converter record's repro_kinds) whose model a repro can build inline from its source,
# and the inline template that does: the generated torch module's converters', the Keras converters'.
INLINE_FROM_SOURCE = {"torch-generated": "torch", "litert-torch": "litert-torch", "nobuco": "nobuco",
                      "tf2onnx-keras": "tf2onnx-keras", "keras-export": "keras-export"}


def repro_target(verdict: Verdict, converter: Any, consumed: str = "") -> ReproTarget | None:
    """The inline repro of a verdict, from the failing hop's converter record; None when there is none.
    `consumed`: the format of what the hop read as the record's repro_kinds name it ("generated" for a route's
    torch source model; the hop's source format when not given)."""
    from harness.repro.templates import plan_for

    if verdict.repro_kind == "onnxruntime":
        return ReproTarget("onnxruntime", "current", OWNER_PACKAGES["onnxruntime"])
    if not verdict.repro_kind:
        return None
    try:
        plan = plan_for(converter, consumed or verdict.repro_kind)
    except ValueError:
        return None  # the record names no template for this input
    if verdict.repro_kind == "onnx":
        return ReproTarget(plan.kind, converter.stack, tuple(plan.packages), plan.snippet)
    template = INLINE_FROM_SOURCE.get(plan.kind)
    if template is None:
        return None
    packages = OWNER_PACKAGES["torch"] if template == "torch" else tuple(plan.packages)
    return ReproTarget(template, converter.stack, packages, opset=converter.target_opset)


def write_repro(folder: Path, data: dict[str, Any], target: ReproTarget, repro: InlineRepro) -> None:
    rule = rule_source()
    if target.template in KERAS_BODIES:
        build, weights, signature = keras_parts(folder)
        text = render_keras_source(repro, target.template, build=build, weights=weights, opset=target.opset,
                                   signature=signature, rule=rule)
    elif target.template in TORCH_BODIES:
        from harness.converters.onnx_from_torch import dynamic_axes_for
        from harness.fuzz.findings import load_description
        from harness.fuzz.grammar import model_spec
        from harness.repro.templates import keras_signature
        from harness.run.engine import io_for

        classes, module, state = torch_parts(folder)
        dynamo = "dynamo" in str(data["route"]).split(">")[1]
        opset = data.get("opset") if "@op" in str(data["route"]) else None
        io = {"inputs": [{"name": name, "shape": list(array.shape)} for name, array in
                         zip(repro.input_names, repro.inputs)], "outputs": list(repro.output_names)}
        # The input signature as the harness gives a torch converter (nobuco's input_shapes): symbolic dims as None.
        signature = keras_signature(io_for(model_spec(load_description(folder / "description.json"), "fuzz"), TORCH))
        text = render_torch_source(repro, target.template, classes=classes, module=module, weights=state,
                                   export_inputs=load_npz(str(folder / "export_input.npz")), rule=rule,
                                   dynamo=dynamo, opset=opset, dynamic_axes=dynamic_axes_for(io), signature=signature)
    else:
        builder = in_stack("harness.repro.onnx_builder", str(folder / "model.onnx"))
        text = render_onnx_input(repro, target.template, builder, rule, target.snippet)
    write_portable(folder / "repro.py", text)


def run_in_empty_folder(folder: Path, stack: str, *, with_files: bool = False) -> dict[str, Any]:
    """repro.py alone in a fresh temporary folder (with a copy of the finding's files beside it when it is not
    self-contained), run by the stack's interpreter with a plain environment."""
    with tempfile.TemporaryDirectory(prefix="repro-run-") as empty:
        if with_files:
            shutil.copytree(folder, empty, dirs_exist_ok=True)
        shutil.copyfile(folder / "repro.py", Path(empty) / "repro.py")
        try:
            done = subprocess.run([str(stack_python(stack)), "repro.py"], cwd=empty, capture_output=True, text=True,
                                  timeout=REPRO_TIMEOUT, env=repro_environment())
        except subprocess.TimeoutExpired:
            return {"exit_code": None, "reproduces": False, "output": f"no exit within {REPRO_TIMEOUT:.0f} s"}
    # Exit 1 counts only with the repro's own verdict line: an uncaught exception (a broken script) exits 1 too.
    verdict_line = any(line.startswith("FAILED") for line in done.stdout.splitlines())
    return {"exit_code": done.returncode, "reproduces": done.returncode == 1 and verdict_line,
            "output": MACHINE_PATH.sub("<path>", portable(done.stdout.strip()))[-4000:],
            "stderr": [MACHINE_PATH.sub("<path>", portable(line)) for line in done.stderr.strip().splitlines()[-2:]],
            "python": f"parity stacks {stack} --python", "self_contained": True, "from_empty_folder": True}


def repro_stacks() -> set[str]:
    """The stacks a finding's repro may name (finding.json is data): the converters' own."""
    from harness.converters import default_converters

    return {converter.stack for converter in default_converters()}


def replay_repro(folder: Path) -> tuple[bool, str]:
    """Whether a committed finding still fails: its repro.py, run from an empty folder in its owner's stack, exits 1.
    Nothing else (not the machine's CPU, not another finding's signature) decides; (reproduces, what it printed)."""
    data = read_finding(folder).data
    judged = as_dict(data.get("judged"))
    self_contained = bool(judged.get("self_contained"))
    stack = str(judged.get("stack") or data.get("stack")) if self_contained else str(data.get("stack"))
    if stack not in repro_stacks():
        raise ValueError(f"{folder.name}: no stack named {stack!r}")
    result = run_in_empty_folder(folder, stack, with_files=not self_contained)
    code = result["exit_code"]
    printed = str(result.get("output", "")).strip().splitlines()
    tail = printed[-1] if printed else str((result.get("stderr") or ["no output"])[-1])
    if code == 1 and result["reproduces"]:
        return True, tail
    if code == 0:
        return False, f"its repro.py exits 0 (the bug is fixed, or the finding was wrong): {tail}"
    raise ValueError(f"{folder.name}: its repro.py did not run to a verdict (exit {code}): {tail}")


# -- issue.md ----------------------------------------------------------------------------------------------------
def short(text: str, limit: int) -> str:
    """`text` cut at a word boundary, never mid-word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def printed_cause(printed: str) -> str:
    """What the repro said went wrong: its FAILED line, or for different outputs the line with the error figure."""
    lines = [line.strip() for line in printed.splitlines() if line.strip()]
    failed = next((line for line in reversed(lines) if line.startswith("FAILED:")), "")
    if failed and "beyond tolerance" not in failed and "outputs, expected" not in failed:
        return failed.removeprefix("FAILED:").strip()
    return next((line for line in lines if ": max abs err" in line or ": shape [" in line or ": dtype" in line), "")


def issue_title(verdict: Verdict, data: dict[str, Any], version: str, trigger: str, printed: str = "") -> str:
    """The title, with the figures the repro printed (none before it ran): never the campaign's unshrunk ones."""
    cause = printed_cause(printed)
    if verdict.kind.startswith("wrote an artifact"):
        what = f"writes an artifact {data['package']} cannot read ({short(verdict.reason.split(': ', 1)[-1], 70)})"
    elif verdict.kind == "runtimes disagree on a valid model":
        what = f"refuses a valid model: {short(cause or verdict.references.get(verdict.owner, ''), 90)}"
    elif data["status"] == "mismatch":
        what = "computes different outputs" + (f" ({short(cause, 60)})" if cause else "")
    elif data["status"] == "run_error":
        what = "the converted model fails to run" + (f": {short(cause, 100)}" if cause else "")
    else:
        what = "fails to convert" + (f": {short(cause, 100)}" if cause else "")
    return short(f"{verdict.owner} {version}: {trigger} {what}", TITLE_LENGTH)


def issue_text(title: str, verdict: Verdict, repro_text: str, origin: str, nodes: list[str],
               pins: dict[str, str], packages: tuple[str, ...], output: str, upstream: dict[str, Any]) -> str:
    environment = [f"- Python {pins.get('python', '?')}, {platform.system()} {platform.machine()}, CPU"]
    environment += [f"- {name} {pins.get(name, '?')}" for name in packages]
    upstream_line = upstream.get("status", "not searched")
    lines = [f"# {title}", "", "## What happens", "", origin, "",
             "The model, in ONNX terms (op(attributes): input shapes -> output shapes):", ""]
    lines += [f"- `{line}`" for line in nodes] or ["- (see the script)"]
    install = " ".join(f"{name}=={pins[name]}" if name in pins else name for name in packages)
    lines += ["", "## Reproduce", "", f"`pip install {install}`, then run "
              "the script below (it builds the model inline; exit status 1 while the bug is there, 0 once fixed):",
              "", "```python", repro_text.rstrip(), "```", "",
              "## Expected vs actual (what the script prints)", "", "```", output.strip(), "```", "",
              "The expected values are the source model's; " + "; ".join(
                  f"{runtime} on the same ONNX model: {state}" for runtime, state in verdict.references.items()),
              "", "## Environment", "", *environment, "", "## Already reported?", "", upstream_line, ""]
    return "\n".join(lines)


# -- the whole finding -------------------------------------------------------------------------------------------
def origin_text(data: dict[str, Any], verdict: Verdict, pins: dict[str, str], packages: list[str]) -> str:
    """Where the failing converter's input came from, in words (route hops' packages, hop 1 first)."""
    route = str(data["route"]).split(">")
    hop = int(data["hop_index"])
    if hop == 1 and data["package"] != "torch":  # a converter of the source model other than torch's exporter
        return (f"{data['package']} {pins.get(str(data['package']), '?')} ({data['converter']}) converts a small "
                f"{'Keras' if route[0] == 'keras' else route[0]} model, built in the script with its weights inline.")
    if hop == 1:
        return (f"`torch.onnx.export` ({'dynamo' if 'dynamo' in route[1] else 'TorchScript'} exporter, torch "
                f"{pins.get('torch', '?')}) exports a small torch model, built in the script.")
    writer = {"torch": "torch.onnx.export", "keras": "tf2onnx (from a Keras model)"}.get(route[0], route[0])
    if hop == 2:
        checks = ("it passes onnx.checker.check_model(full_check=True) and strict shape inference"
                  if "passes the strict checks" in verdict.reason else verdict.reason.split("; ", 1)[-1])
        return (f"The ONNX model {data['package']} is given is what {writer} wrote for a small {route[0]} model; "
                f"{checks}. The script builds it inline with onnx.helper, as written.")
    chain = ", then ".join(packages[:hop - 1])
    checked = "it passes" if not verdict.kind else "it fails"
    return (f"The {route[hop - 1].split('@')[0]} model {data['package']} is given was written by {packages[hop - 2]} "
            f"in a conversion chain from a small {route[0]} model ({chain}); {checked} the strict checks "
            "(onnx.checker.check_model(full_check=True) and onnx.shape_inference.infer_shapes(strict_mode=True)). "
            "The script builds it inline with onnx.helper, as written.")


def rejudge(folder: Path, *, run: bool = True) -> dict[str, Any]:
    """Judge one finding folder again and rewrite its repro.py, issue.md and finding.json."""
    record = read_finding(folder)
    data = record.data
    ownership = judge_finding(folder)
    expected = load_npz(str(folder / "expected.npz"))
    model = folder / "model.onnx"
    references = second_references(model, folder / "input.npz", expected) if model.is_file() else {}
    from harness.fuzz.findings import route_for_finding

    hop_index = int(data["hop_index"])
    route = route_for_finding(str(data["route"]), hop_index)
    previous = route.hops[hop_index - 2].converter.package if hop_index > 1 else ""
    written = (artifact_problems(model, "onnx") if model.is_file() and not str(data["hop"]).startswith("onnx->")
               else None)
    verdict = decide(data, ownership, references, previous, written)
    was = {"package": data["package"], "kind": finding_kind(str(data["status"]), str(data.get("error") or ""),
                                                            str(data["signature"].get("detail") or ""))}
    judged: dict[str, Any] = {"owner": verdict.owner, "kind": verdict.kind, "reason": verdict.reason,
                              "references": references, "written_model_problems": written, "was": was}
    # What the failing hop read, in its converter record's repro_kinds terms (as write_finding names it).
    consumed = "generated" if hop_index == 1 and route.source.name == TORCH.name else str(data["hop"]).split("->")[0]
    target = repro_target(verdict, route.hops[hop_index - 1].converter, consumed)
    if target is not None and (target.template not in TORCH_BODIES or (folder / "weights.npz").is_file()):
        stack, packages = target.stack, target.packages
        versions = json.loads((folder / "versions.json").read_text())["packages"]
        if stack != json.loads((folder / "versions.json").read_text())["stack"]:
            from harness.converters import tracked_packages
            from harness.execution.stacks import stack_versions

            versions = {"python": versions.get("python", "?"), **stack_versions(stack, tracked_packages())}
        nodes = node_lines(model) if model.is_file() else []
        trigger = trigger_text(data, nodes, folder)
        title = issue_title(verdict, data, versions.get(verdict.owner, "?"), trigger)
        origin = origin_text(data, verdict, versions, [hop.converter.package for hop in route.hops])
        names = [str(name) for name in np.load(folder / "input.npz").files]
        outputs = [str(name) for name in np.load(folder / "expected.npz").files]
        confirmed = agreeing(references)
        repro = InlineRepro(title=title, what=origin, packages=packages, pins=versions, input_names=names,
                            output_names=outputs, inputs=load_npz(str(folder / "input.npz")), expected=expected,
                            expected_origin="The source model's outputs on INPUTS; "
                            + (f"{' and '.join(confirmed)} give the same from the ONNX model." if confirmed else
                               "no ONNX runtime was asked."))
        write_repro(folder, data, target, repro)
        result = run_in_empty_folder(folder, stack) if run else {"exit_code": None, "reproduces": False,
                                                                 "output": "not run"}
        judged["repro"] = result
        title = issue_title(verdict, data, versions.get(verdict.owner, "?"), trigger, str(result.get("output", "")))
        upstream = data.get("upstream") if isinstance(data.get("upstream"), dict) else {}
        text = issue_text(title, verdict, (folder / "repro.py").read_text(), origin, nodes, versions, packages,
                          str(result.get("output", "")), upstream or {})
        write_portable(folder / "issue.md", text)
        judged.update(title=title, trigger=trigger, self_contained=True, stack=stack)
        data["repro"] = result
    else:
        judged.update(self_contained=False, title="", trigger="",
                      note="repro.py not rewritten inline: " + ("the finding is another hop's, whose input "
                                                               "this folder does not keep" if verdict.owner != data[
                                                                   "package"] else "no inline template for "
                                                               f"{data['package']} from {data['hop'].split('->')[0]}"))
    data["judged"] = judged
    write_portable(folder / FINDING, json.dumps(data, indent=1, default=str) + "\n")
    return judged


def trigger_text(data: dict[str, Any], nodes: list[str], folder: Path) -> str:
    """What the finding turns on, in the converter's terms: the first divergent ONNX node of a mismatch, else the
    model's ONNX ops, else (an exporter that wrote nothing) the torch modules it was given."""
    divergent = str(data.get("first_divergent_node") or "")
    ops = [line.split("(")[0] for line in nodes]
    if divergent.startswith("#"):
        op = divergent.split(" ")[1]
        return f"{op} (in a {' > '.join(ops)} graph)" if len(ops) > 1 else op
    if ops:
        return ", ".join(dict.fromkeys(ops))
    if (folder / "weights.npz").is_file():
        module = " ".join(torch_parts(folder)[1].split())
        return module.replace("nn.Sequential( ", "nn.Sequential(").replace(", )", ")")
    return str(data.get("summary") or "")
