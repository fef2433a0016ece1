"""Running a batch: each job to a Report (or an error), serially or on threads.

A job that fails, or cannot run, never stops the others. Jobs are independent and numpy
releases the GIL in its loops, so threads overlap the work; results come back in the
config's order whatever order they finish in.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace

from .. import gate
from ..analyses.analyze import analyze
from ..analyses.compare import compare
from ..analyses.gaussian import analyze_gaussian
from ..checks import rules_in, run_checks
from ..checks.expectations import ExpectContext
from ..errors import LogitcheckError
from ..report.batch import JobOutcome
from ..report.model import Report
from ..settings import Settings
from .config import Expect, Job


def with_expectations(report: Report, expect: Expect, settings: Settings) -> Report:
    """The report plus LC901 findings for unmet expectations, through the job's gate."""
    found = run_checks(ExpectContext(report, expect), "batch")
    paths = [i.path for i in report.inputs]
    kept, info = gate.apply(found, rules_in("batch"), settings, paths)
    g = report.gate
    merged = replace(g, rules={**g.rules, **info.rules}, skipped=g.skipped + info.skipped,
                     suppressed={**g.suppressed, **info.suppressed})
    findings = sorted(report.findings + kept, key=lambda f: (-f.severity, f.code))
    return replace(report, findings=findings, gate=merged)


def run_job(job: Job) -> JobOutcome:
    try:
        settings = job.settings
        i = job.inputs
        if job.type == "compare":
            report = compare(i["reference"], i["candidate"], i["labels"], settings)
        elif job.type == "gaussian":
            report = analyze_gaussian(i["mean"], i["scale"], i["targets"], settings)
        else:
            report = analyze(i["logits"], i["labels"], settings)
        return JobOutcome(job.name, job.type, with_expectations(report, job.expect, settings))
    except LogitcheckError as exc:
        return JobOutcome(job.name, job.type, error=str(exc))
    except MemoryError:
        return JobOutcome(job.name, job.type, error="out of memory")
    except Exception as exc:  # noqa: BLE001 - one job's bug must not stop the others
        return JobOutcome(job.name, job.type,
                          error=f"internal error ({type(exc).__name__}: {exc})")


def run_jobs(jobs: list[Job], parallel: int = 1,
             on_done: Callable[[JobOutcome], None] | None = None) -> list[JobOutcome]:
    """Every job's outcome, in the order of `jobs`; on_done(outcome) as each one ends."""
    done = on_done or (lambda _: None)
    if parallel <= 1 or len(jobs) <= 1:
        outcomes = []
        for job in jobs:
            outcomes.append(run_job(job))
            done(outcomes[-1])
        return outcomes
    results: list[JobOutcome | None] = [None] * len(jobs)
    with ThreadPoolExecutor(min(parallel, len(jobs))) as pool:
        futures = {pool.submit(run_job, job): n for n, job in enumerate(jobs)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            done(future.result())
    return [r for r in results if r is not None]
