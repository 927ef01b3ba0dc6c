"""A study's configuration, in floors (each module imports only those listed before it):

============== =====================================================================
messages       one-line messages for schema violations
study_file     reading a study file (no duplicate keys, alias bombs, yte), key order, schema
model_ids      the model-id grammar: teachers, ensembles, students, baselines, online
settings       the config per dataset, architecture and training budget
paths          the study folder
specs          what networks, optimisers and schedules accept (declared, no torch)
methods        what each student method declares: keys, runs, teacher outputs
students       the students and baselines the entries' methods train
doubling       the budget-doubling check: which networks train again, and where
comparisons    which models each table and statistics family compares
geometry       each network's receptive field, size divisor and valid margin (declared)
validation     the schema with its defaults, then the checks a schema cannot express
plan_geometry  the numbers of planning: target spacing, resampled shapes, slice axes, patches
plan           plans from a dataset's fingerprint: spacing, patch, batch, orientations
============== =====================================================================

Nothing here imports torch or Snakemake: the workflow reads its config on every call.
"""

from kdseg.config.comparisons import compared_students, paper_comparisons
from kdseg.config.doubling import doubled_run, doubling_checked, doubling_kinds
from kdseg.config.messages import config_error_message, describe_validation_error
from kdseg.config.methods import method_phases
from kdseg.config.model_ids import (
    StudentRun,
    baseline_id,
    baseline_models,
    ensemble_members,
    model_architecture,
    online_id,
    parse_baseline,
    parse_teacher,
    soft_label_sources,
    teacher_equal_to_baseline,
    teacher_model,
    teacher_models,
)
from kdseg.config.paths import study_dir
from kdseg.config.plan import apply_plan, apply_study_plans, plan_dataset, plan_lines
from kdseg.config.settings import (
    architecture_settings,
    dataset_view,
    deep_merge,
    inference_settings,
    learning_settings,
    runs_on,
    runtime_settings,
    scaled_training,
    trained_architecture,
    training_settings,
)
from kdseg.config.students import (
    baseline_of_student,
    phase_models,
    phase_partner,
    phase_settings,
    student_models,
    student_needs,
    student_settings,
    student_teachers,
    trained_nothing,
)
from kdseg.config.study_file import (
    SCHEMA,
    apply_overrides,
    canonical,
    default_study_name,
    read_study_file,
    typed_override,
)
from kdseg.config.validation import (
    check_config,
    check_device,
    load_config,
    validate_config,
)

__all__ = [
    "SCHEMA",
    "StudentRun",
    "apply_overrides",
    "apply_plan",
    "apply_study_plans",
    "architecture_settings",
    "baseline_id",
    "baseline_models",
    "baseline_of_student",
    "canonical",
    "check_config",
    "check_device",
    "compared_students",
    "config_error_message",
    "dataset_view",
    "deep_merge",
    "default_study_name",
    "describe_validation_error",
    "doubled_run",
    "doubling_checked",
    "doubling_kinds",
    "ensemble_members",
    "inference_settings",
    "learning_settings",
    "load_config",
    "method_phases",
    "model_architecture",
    "online_id",
    "paper_comparisons",
    "parse_baseline",
    "parse_teacher",
    "phase_models",
    "phase_partner",
    "phase_settings",
    "plan_dataset",
    "plan_lines",
    "read_study_file",
    "runs_on",
    "runtime_settings",
    "scaled_training",
    "soft_label_sources",
    "student_models",
    "student_needs",
    "student_settings",
    "student_teachers",
    "study_dir",
    "teacher_equal_to_baseline",
    "teacher_model",
    "teacher_models",
    "trained_architecture",
    "trained_nothing",
    "training_settings",
    "typed_override",
    "validate_config",
]
