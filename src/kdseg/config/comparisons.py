"""The study's comparisons: which models each table and statistics family compares."""

from __future__ import annotations

from typing import Any

from kdseg.config.methods import method_of
from kdseg.config.model_ids import StudentRun, baseline_models, ensemble_id, ensemble_members
from kdseg.config.students import baseline_of_student, student_models


def compared_students(
    config: dict[str, Any],
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The student comparison table's models (final students, then baselines), each
    student's method, and each student's baseline (same architecture and seed)."""

    students = student_models(config, final=True)
    baselines = baseline_models(config)
    methods, baseline_of = {}, {}
    for model in students:
        run = StudentRun.parse(model)
        methods[model] = method_of(config["students"][run.name]).name
        baseline = baseline_of_student(config, run)
        if baseline is not None:
            baseline_of[model] = baseline
    return students + baselines, methods, baseline_of


def paper_comparisons(config: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The study's comparisons as (name, model_a, model_b, family), model ids as in the tables.

    Family ``paper`` (Noothout et al.): each ensemble (of more than one member) against each of
    its members; each ``kd`` student of such an ensemble against it and against the baseline of
    its architecture and seed; the students of one entry, architecture and seed distilled from
    two ensembles; every two ensembles. Family ``methods`` (every other student): each student
    against the model it learned from and against its baseline, and every two final students
    of different entries with the same seed ("student vs student"). Holm's correction runs per
    family, so adding methods to a study does not change the paper's p-values.
    """

    pairs: list[tuple[str, str, str, str]] = []
    names = [e for e in config["ensembles"] if len(ensemble_members(config, e)) > 1]
    for ens in names:
        for member in ensemble_members(config, ens):
            pairs.append((f"ensemble {ens} vs member", ensemble_id(ens), member, "paper"))
    finals = []
    for name, entry in config["students"].items():
        method = method_of(entry)

        def family(run: Any, method: Any = method) -> str:
            return "paper" if method.name == "kd" and run.teacher in names else "methods"

        for run in method.runs(config, name):
            teacher = method.teacher_of(config, run)
            label = (f"student vs ensemble {run.teacher}" if teacher.startswith("ensembles/")
                     else "student vs teacher")  # fmt: skip
            pairs.append((label, run.model_id, teacher, family(run)))
        own = method.final_runs(config, name)
        for run in own:
            baseline = baseline_of_student(config, run)
            if baseline is not None:
                pairs.append(("student vs baseline", run.model_id, baseline, family(run)))
        for i, a in enumerate(own):
            for b in own[i + 1 :]:
                if (a.arch, a.seed) == (b.arch, b.seed):
                    both = "paper" if family(a) == family(b) == "paper" else "methods"
                    pairs.append((f"student from {a.teacher} vs from {b.teacher}",
                                  a.model_id, b.model_id, both))  # fmt: skip
        finals += own
    for i, a in enumerate(finals):
        for b in finals[i + 1 :]:
            if a.name != b.name and a.seed == b.seed:
                pairs.append(("student vs student", a.model_id, b.model_id, "methods"))
    for i, e1 in enumerate(names):
        for e2 in names[i + 1 :]:
            pairs.append((f"ensemble {e1} vs {e2}", ensemble_id(e1), ensemble_id(e2),
                          "paper"))  # fmt: skip
    return pairs
