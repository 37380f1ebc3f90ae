"""`parity fuzz`: hypothesis draws model descriptions, each runs through every applicable route, and each failure
with a new signature is shrunk to its smallest model and written up as a finding.

The run loop only sequences: signature.py says what a failure is, shrink.py makes it small, findings.py writes it.
Every model's outcome is appended to <out>/models.jsonl as it ends and campaign.json is rewritten after each
model, so an interrupted campaign loses at most the model under way."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING, Any

from harness.atomic import write_atomic
from harness.converters.routes import Route
from harness.formats import TORCH
from harness.fuzz.findings import (
    CAMPAIGN,
    FailedHop,
    FindingRecord,
    load_description,
    read_finding,
    read_findings,
    route_for_finding,
    run_repro,
    truncated,
    update_hits,
    write_finding,
    write_readme,
)
from harness.fuzz.shrink import shrink
from harness.fuzz.signature import Signature, failing_row, known_record, normalise_message, signature_of
from harness.run.engine import Engine, io_for
from harness.run.known_failures import KnownFailure
from harness.run.session import known_failure_records
from harness.spec import ModelSpec

if TYPE_CHECKING:
    from harness.fuzz.grammar import ModelDescription

JOURNAL = "models.jsonl"
DRAW_BATCH = 200  # descriptions drawn per hypothesis run; a campaign draws another batch when it runs out
SAME_CHAIN = 2  # models tried per layer chain (the summary, attributes included), at different shapes or weights
WRITE_UP_FAILED = "new, not written up"
LANE_LEAD = 2  # models a lane may finish before the main process has judged them
# A mismatch's signature is its first divergent op (an imprecise one's too); an error's is its message.
LOCALIZE = ("mismatch", "imprecise")


@dataclass
class CampaignOptions:
    out_dir: Path
    budget_seconds: float
    seed: int = 0
    max_layers: int = 5
    shrink_seconds: float = 240.0  # per finding
    command: str = "parity fuzz"
    run_repros: bool = True


@dataclass
class Evaluation:
    """One generated model through one (perhaps truncated) route."""

    name: str
    description: ModelDescription
    route: Route
    rows: list[dict[str, Any]]
    signature: Signature | None
    seconds: float


@dataclass
class ModelRun:
    """A generated model through every route that applies to it: what a lane hands back to be judged."""

    index: int
    description: ModelDescription
    evaluations: list[Evaluation]
    error: str  # a harness or grammar error that cut the model short
    seconds: float


@dataclass
class CampaignState:
    models: int = 0
    failures: int = 0  # failing (model, route) cells
    hits: Counter[str] = field(default_factory=Counter)  # signature key -> models that failed with it
    known: Counter[str] = field(default_factory=Counter)  # known-failure record id -> failing cells
    not_converter: Counter[str] = field(default_factory=Counter)  # generated models that failed on their own
    signatures: dict[str, str] = field(default_factory=dict)  # key -> "new", "finding" (from before), "known:<id>"
    new: list[str] = field(default_factory=list)  # slugs of the findings this campaign wrote
    harness_errors: int = 0


class StopDrawing(Exception):
    """Ends a hypothesis draw once the batch is full."""


def draw_descriptions(seed: int, count: int, max_layers: int) -> list[ModelDescription]:
    """`count` descriptions from the grammar's strategy, the same for the same seed: a seeded hypothesis run that
    only records what it is given (generation only: nothing fails, nothing is shrunk or stored)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as seeded

    from harness.fuzz.grammar import descriptions
    from harness.run.search import library_constants_only

    drawn: list[ModelDescription] = []

    @seeded(seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @given(descriptions(max_layers=max_layers))
    def record(description: ModelDescription) -> None:
        if len(drawn) >= count:
            raise StopDrawing
        drawn.append(description)

    try:
        with library_constants_only():  # the same models for a seed, whatever else this process imported
            record()
    except StopDrawing:
        pass
    unique: dict[str, ModelDescription] = {}
    for description in drawn:
        unique.setdefault(json.dumps(description.to_json(), sort_keys=True), description)
    return list(unique.values())


def drawn_models(seed: int, max_layers: int) -> Iterator[ModelDescription]:
    """Descriptions without end, batch after batch, each batch seeded from the campaign's seed. Hypothesis explores
    around what it drew before, so many draws differ only in weights or by one dimension: a layer chain is tried
    at most SAME_CHAIN times, and a chain at one input shape once."""
    tried: set[tuple[str, tuple[int, ...]]] = set()
    chains: Counter[str] = Counter()
    for batch in range(10**6):
        for description in draw_descriptions(seed * 100_003 + batch, DRAW_BATCH, max_layers):
            shape = (description.summary(), tuple(description.input_shape))
            if shape in tried or chains[shape[0]] >= SAME_CHAIN:
                continue
            tried.add(shape)
            chains[shape[0]] += 1
            yield description


def step_text(description: ModelDescription) -> str:
    """A shrink step as the model it left: layers, input and the layer chain."""
    shape = "x".join(str(dim) for dim in description.input_shape)
    return f"{description.layer_count()} layers, input {shape} {description.input_dtype}: {description.summary()}"


class Campaign:
    def __init__(self, engine: Engine, routes: Sequence[Route], options: CampaignOptions,
                 progress: Callable[[str], None] = print) -> None:
        self.engine, self.routes, self.options, self.progress = engine, list(routes), options, progress
        self.records: list[KnownFailure] = known_failure_records()
        self.state = CampaignState()
        self.findings: dict[str, FindingRecord] = {record.signature.key: record
                                                   for record in read_findings(options.out_dir)}
        for key in self.findings:
            self.state.signatures[key] = "finding"
        self.started = time.monotonic()
        self.evaluations = 0

    # -- one model -------------------------------------------------------------------------------------
    def spec_for(self, name: str, description: ModelDescription) -> ModelSpec:
        from harness.fuzz.grammar import model_spec

        self.engine.register_description(name, description.to_json())
        spec: ModelSpec = model_spec(description, name)
        return spec

    def evaluate(self, name: str, description: ModelDescription, route: Route) -> Evaluation | None:
        """Run one route (or its beginning); None when the model is not built in the route's source framework."""
        started = time.monotonic()
        spec = self.spec_for(name, description)
        if route.source.name not in spec.source_formats:
            return None
        self.evaluations += 1
        rows = self.engine.run_route(spec, route, localize_statuses=LOCALIZE)
        return Evaluation(name, description, route, rows, signature_of(rows, route), time.monotonic() - started)

    def forget(self, name: str) -> None:
        """Drop a finished model's artifacts and context: a long campaign would otherwise fill the disk."""
        self.engine.contexts.pop(name, None)
        self.engine.descriptions.pop(name, None)
        shutil.rmtree(self.engine.run_dir / name, ignore_errors=True)

    def run_model(self, index: int, description: ModelDescription) -> ModelRun:
        """One model through every route that applies to it (in a lane, when the campaign runs several)."""
        name = f"fuzz{index:05d}"
        started = time.monotonic()
        evaluations: list[Evaluation] = []
        error = ""
        try:
            for route in self.routes:
                evaluation = self.evaluate(name, description, route)
                if evaluation is not None:
                    evaluations.append(evaluation)
        except Exception as exc:  # a harness or grammar error on one model must not end the campaign
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        finally:
            self.forget(name)
        return ModelRun(index, description, evaluations, error, round(time.monotonic() - started, 1))

    def record(self, run: ModelRun) -> dict[str, Any]:
        """Judge a model's routes (writing up new signatures) and count it; its line for models.jsonl."""
        description = run.description
        seen: set[str] = set()  # signatures this model already hit on another route: a finding counts models
        # A lane's routes come back pickled: judge with this process's own (formats are compared by identity).
        own = {route.id: route for route in self.routes}
        for evaluation in run.evaluations:
            evaluation.route = own.get(evaluation.route.id, evaluation.route)
        outcome: dict[str, Any] = {"index": run.index, "summary": description.summary(),
                                   "layers": description.layer_count(), "description": description.to_json(),
                                   "routes": {evaluation.route.id: self.judge(evaluation, seen)
                                              for evaluation in run.evaluations},
                                   "seconds": run.seconds}
        if run.error:
            self.state.harness_errors += 1
            outcome["harness_error"] = run.error
        self.state.models += 1
        return outcome

    def judge(self, evaluation: Evaluation, seen: set[str]) -> dict[str, Any]:
        """Count a route's outcome; a new signature is shrunk and written up at once. `seen`: the signatures the
        same model met on its other routes, which do not count it again."""
        signature, rows = evaluation.signature, evaluation.rows
        if signature is None:
            return {"status": "pass"}
        row = failing_row(rows)
        assert row is not None
        entry: dict[str, Any] = {"status": signature.status, "hop": signature.hop, "signature": signature.key}
        if signature.status == "source_error":
            self.state.not_converter[normalise_message(str(row.get("error") or ""))[:120]] += 1
            entry["verdict"] = "not a converter failure"
            return entry
        self.state.failures += 1
        record = known_record(row, self.records)
        if record is not None:
            self.state.known[record.id] += 1
            self.state.signatures.setdefault(signature.key, f"known:{record.id}")
            entry["verdict"] = f"known: {record.id}"
            return entry
        again = signature.key in seen
        seen.add(signature.key)
        self.state.hits[signature.key] += 0 if again else 1
        if self.state.signatures.get(signature.key) == WRITE_UP_FAILED:
            entry["verdict"] = WRITE_UP_FAILED  # counted; not shrunk again
            return entry
        if signature.key in self.findings:
            finding = self.findings[signature.key]
            if not again:
                update_hits(finding, finding.hits + 1)
            entry["verdict"] = f"finding {finding.folder.name}"
            return entry
        self.state.signatures[signature.key] = "new"
        entry["verdict"] = "new"
        try:
            entry["finding"] = str(self.write_up(evaluation, signature).folder)
        except Exception as exc:  # the failure still counts; its write-up is what failed
            self.state.signatures[signature.key] = WRITE_UP_FAILED
            entry["write_up_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            self.progress(f"[fuzz] could not write up {signature.key}: {entry['write_up_error']}")
        return entry

    # -- a new signature -----------------------------------------------------------------------------
    def write_up(self, evaluation: Evaluation, signature: Signature) -> FindingRecord:
        row = failing_row(evaluation.rows)
        assert row is not None
        hop_index = int(row["hop_index"])
        route = truncated(evaluation.route, hop_index)
        remaining = self.options.budget_seconds - (time.monotonic() - self.started)
        budget = min(self.options.shrink_seconds, max(60.0, remaining))
        self.progress(f"[fuzz] new signature at {signature.hop} ({signature.converter}, {signature.status}): "
                      f"{signature.detail[:100]}; shrinking {evaluation.description.layer_count()} layers "
                      f"(at most {budget:.0f} s)")
        candidates = 0
        last: list[Evaluation] = []

        def still_fails(candidate: ModelDescription) -> bool:
            nonlocal candidates
            candidates += 1
            name = f"{evaluation.name}_s{candidates}"
            try:
                result = self.evaluate(name, candidate, route)
            except Exception:
                self.forget(name)
                return False
            if result is not None and result.signature == signature:
                if last:
                    self.forget(last[0].name)
                last[:] = [result]
                return True
            self.forget(name)
            return False

        shrunk = shrink(evaluation.description, still_fails, budget_seconds=budget, describe=step_text)
        final = last[0] if last else self.evaluate(f"{evaluation.name}_min", evaluation.description, route)
        if final is None or final.signature != signature:
            raise RuntimeError("the failure did not reproduce on its own route prefix")
        failed = self.failed_hop(final, signature, evaluation.route)
        from harness.fuzz.grammar import torch_source

        source = torch_source(final.description) if failed.consumed_format == "generated" else None
        folder = self.options.out_dir / signature.slug
        write_finding(folder, failed, final.description, torch_source=source, hits=self.state.hits[signature.key],
                      first_model=f"{evaluation.name}: {evaluation.description.summary()}",
                      shrink={"steps": shrunk.steps, "tried": shrunk.tried, "seconds": round(shrunk.seconds, 1),
                              "finished": shrunk.finished, "from_layers": evaluation.description.layer_count()},
                      campaign=self.summary())
        self.forget(final.name)
        if self.options.run_repros:
            repro = run_repro(folder, failed.converter.stack)
            self.progress(f"[fuzz] finding {folder.name}: {final.description.layer_count()} layers "
                          f"({final.description.summary()}), {len(shrunk.steps)} shrink steps in "
                          f"{shrunk.seconds:.0f} s; repro.py exit {repro['exit_code']}"
                          + ("" if repro["reproduces"] else " (does NOT reproduce the failure)"))
            self.progress(f"[fuzz] judged: {judge_quietly(folder)}")
        record = read_finding(folder)
        self.findings[signature.key] = record
        self.state.new.append(folder.name)
        return record

    def failed_hop(self, evaluation: Evaluation, signature: Signature, full_route: Route) -> FailedHop:
        """The files of the failing hop of an evaluation whose last hop is the failing one."""
        row = failing_row(evaluation.rows)
        assert row is not None
        hop_index = int(row["hop_index"])
        route = evaluation.route
        context = self.engine.contexts[evaluation.name]
        source_artifact = context.artifacts[route.source.name]
        artifacts = {int(r["hop_index"]): Path(str(r["artifact"])) for r in evaluation.rows}
        consumed = source_artifact if hop_index == 1 else artifacts[hop_index - 1]
        converter = route.hops[hop_index - 1].converter
        if hop_index == 1:
            consumed_format = "generated" if route.source.name == TORCH.name else route.source.name
        else:
            consumed_format = converter.source.name
        route_dir = context.folder / route.dirname
        export_input = route_dir / "export_example.npz"
        minimal = Path(str(row.get("minimal_example") or ""))
        failing_input = minimal if signature.status in ("mismatch", "run_error") and minimal.is_file() else export_input
        io = io_for(context.spec, route.source)
        run = self.engine.run_artifact("current", route.source.name, source_artifact, io, [failing_input],
                                       route_dir / "expected")
        state = context.folder / "source" / "torch_state.npz"
        return FailedHop(signature=signature, converter=converter, route_id=full_route.id, hop_index=hop_index,
                         row=row, io=io, source_format=route.source.name, consumed=consumed,
                         produced=artifacts[hop_index], consumed_format=consumed_format, failing_input=failing_input,
                         export_input=export_input, source_weights=state if state.is_file() else None,
                         expected=run.outputs[0] if run.outputs else [])

    # -- the loop --------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def summary(self) -> dict[str, Any]:
        state = self.state
        return {
            "command": self.options.command, "seed": self.options.seed,
            "budget_minutes": round(self.options.budget_seconds / 60, 2), "seconds": round(self.elapsed(), 1),
            "models": state.models, "failures": state.failures, "evaluations": self.evaluations,
            "seconds_per_model": round(self.elapsed() / state.models, 1) if state.models else None,
            "routes": [route.id for route in self.routes],
            "signatures": {key: {"verdict": verdict, "hits": state.hits.get(key, 0)}
                           for key, verdict in sorted(state.signatures.items())},
            "new": list(state.new), "known": dict(state.known), "not_converter": dict(state.not_converter),
            "harness_errors": state.harness_errors,
        }

    def save(self) -> None:
        write_atomic(self.options.out_dir / CAMPAIGN, json.dumps(self.summary(), indent=1) + "\n")
        write_readme(self.options.out_dir, self.summary())

    def run(self, models: Iterator[ModelDescription], jobs: int = 1) -> dict[str, Any]:
        """Draw models until the budget is spent; `jobs` lanes evaluate models side by side, and this process
        judges them, shrinks and writes up each new signature (with its own workers) as they come in."""
        out = self.options.out_dir
        out.mkdir(parents=True, exist_ok=True)
        try:
            with (out / JOURNAL).open("a") as journal:
                for run in self.model_runs(models, jobs):
                    outcome = self.record(run)
                    journal.write(json.dumps(outcome, default=str) + "\n")
                    journal.flush()
                    self.save()
                    self.report(outcome)
        finally:
            self.save()  # also after Ctrl-C: the totals of every model that finished
        return self.summary()

    def report(self, outcome: dict[str, Any]) -> None:
        failing = [route for route, entry in outcome["routes"].items() if entry["status"] != "pass"]
        elapsed = int(self.elapsed())
        error = f"; harness error: {outcome['harness_error']}" if "harness_error" in outcome else ""
        self.progress(
            f"[fuzz {elapsed // 60}:{elapsed % 60:02d}] model {outcome['index']} ({outcome['layers']} layers, "
            f"{outcome['seconds']:.0f} s): {outcome['summary']}: {len(failing)} of {len(outcome['routes'])} "
            f"routes fail{error} | {self.state.models} models, {self.state.failures} failures, "
            f"{len(self.state.signatures)} signatures ({len(self.state.new)} new findings, "
            f"{len(self.state.known)} known records)")

    def model_runs(self, models: Iterator[ModelDescription], jobs: int) -> Iterator[ModelRun]:
        if jobs <= 1:
            for index, description in enumerate(models, 1):
                if self.elapsed() >= self.options.budget_seconds:
                    return
                yield self.run_model(index, description)
            return
        yield from self.lanes(models, jobs)

    def lanes(self, models: Iterator[ModelDescription], jobs: int) -> Iterator[ModelRun]:
        """Model k runs in lane k mod jobs, a forked process with its own worker processes, which streams each
        finished model back. Processes, not threads, for the reason harness.run.session gives."""
        context = multiprocessing.get_context("fork")
        queue: Any = context.Queue()
        # Lanes run at most LANE_LEAD models each ahead of what this process has judged: while it shrinks a new
        # signature they wait, rather than pile up models to be judged after the budget is spent.
        ahead = context.Semaphore(LANE_LEAD * jobs)

        def lane_main(lane: int) -> None:
            self.engine = self.engine.sibling(lane, jobs)  # this process's own copy of the campaign
            try:
                for index, description in enumerate(models, 1):
                    if index % jobs != lane % jobs:
                        continue
                    ahead.acquire()
                    if self.elapsed() >= self.options.budget_seconds:
                        break
                    queue.put(self.run_model(index, description))
            finally:
                queue.put(lane)
                self.engine.pool.close()

        processes = [context.Process(target=lane_main, args=(lane,), daemon=True) for lane in range(1, jobs + 1)]
        for process in processes:
            process.start()
        finished = 0
        completed = False
        try:
            while finished < jobs:
                try:
                    message = queue.get(timeout=5)
                except Empty:
                    if not any(process.is_alive() for process in processes):
                        raise RuntimeError("every lane of the campaign died; see the worker logs") from None
                    continue
                if isinstance(message, int):
                    finished += 1
                else:
                    yield message
                    ahead.release()
            completed = True
        finally:
            for process in processes:
                if completed:
                    process.join(timeout=30)
                if process.is_alive():  # interrupted: the lanes' unfinished models are not waited for
                    process.kill()


@dataclass
class Replay:
    reproduces: bool
    now: str  # the signature the finding's model fails with today, or "passes"


def judge_quietly(folder: Path) -> str:
    """Judge a new finding under the rules (rejudge.py); a campaign goes on when that fails, and says why."""
    from harness.fuzz.rejudge import rejudge

    try:
        judged = rejudge(folder)
    except Exception as exc:  # any failure to judge is reported and left for `parity fuzz --rejudge`
        return f"could not judge {folder.name}: {type(exc).__name__}: {str(exc)[:200]}"
    repro = judged.get("repro") or {}
    return (f"{judged['owner']}: {judged['kind']}; self-contained repro: {judged.get('self_contained')}, "
            f"exit {repro.get('exit_code')}")


def rejudge_all(out_dir: Path, progress: Callable[[str], None]) -> int:
    """`parity fuzz --rejudge`: every finding folder under out_dir judged again, then the README rewritten."""
    count = 0
    for record in read_findings(out_dir):
        progress(f"[fuzz] {record.folder.name}: {judge_quietly(record.folder)}")
        count += 1
    campaign_path = out_dir / CAMPAIGN
    campaign = json.loads(campaign_path.read_text()) if campaign_path.is_file() else {}
    write_readme(out_dir, campaign if isinstance(campaign, dict) else {})
    return count


def replay_finding(engine: Engine, folder: Path) -> Replay:
    """Re-run a committed finding's model through its route up to the failing hop; it reproduces while the
    signature is unchanged. The folder is data: finding.json and description.json are parsed and validated."""
    record = read_finding(folder)
    description = load_description(folder / "description.json")
    route = route_for_finding(str(record.data["route"]), int(record.data["hop_index"]))
    name = f"finding_{folder.name}"[:80]
    engine.register_description(name, description.to_json())
    from harness.fuzz.grammar import model_spec

    spec = model_spec(description, name)
    if route.source.name not in spec.source_formats:
        return Replay(False, f"the model is not built in {route.source.name}, where its route starts")
    rows = engine.run_route(spec, route, localize_statuses=LOCALIZE)
    signature = signature_of(rows, route)
    if signature == record.signature:
        return Replay(True, signature.key)
    return Replay(False, signature.key if signature else "passes")
