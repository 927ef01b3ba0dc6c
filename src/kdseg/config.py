"""Study configuration: readable schema errors, semantic checks, per-dataset accessors.

The Snakefile validates the config with ``snakemake.utils.validate`` against
``config/schema/config.schema.yaml`` (which fills in defaults); this module turns a schema
violation into a one-line message naming the key, and checks what a schema cannot express.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from kdseg.data.raw_dataset import discover_cases, list_raw_files, read_dataset_json
from kdseg.data.sources.study import check_sources, is_converted, marker_of, raw_dir
from kdseg.errors import ConfigError, KdsegError


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def describe_validation_error(error: jsonschema.ValidationError) -> str:
    """One line: ``config key 'a.b.c': <what is wrong>``."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # the alternative that got deepest into the value, a type mismatch last
        best = min(error.context, key=lambda e: (-len(e.path), e.validator == "type"))
        return describe_validation_error(best)
    key = _key(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = (
            sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        )
        if allowed:
            where = f"'{key}'" if error.absolute_path else "the top level"
            return (
                f"config key '{_join(key, extra[0]) if extra else key}': unknown key in {where} "
                f"(allowed: {', '.join(allowed)})"
            )
    if error.validator == "required":
        return f"config key '{key}': {error.message}"
    if error.validator == "propertyNames":
        return f"config key '{key}': invalid name {error.instance!r} ({error.message})"
    return f"config key '{key}': {error.message}"


def _join(parent: str, child: str) -> str:
    return child if parent == "<top level>" else f"{parent}.{child}"


def config_error_message(err: BaseException) -> str:
    """The message of a Snakemake/jsonschema validation failure, reduced to one line."""
    seen: BaseException | None = err
    while seen is not None:  # Snakemake raises its WorkflowError inside `except ValidationError`
        if isinstance(seen, jsonschema.ValidationError):
            return "invalid config: " + describe_validation_error(seen)
        seen = seen.__cause__ or seen.__context__
    return f"invalid config: {str(err).splitlines()[0]}"


def check_config(config: dict[str, Any]) -> None:
    """Checks a schema cannot express; raises ConfigError naming the key."""
    for name, ds in config["datasets"].items():
        key = f"datasets.{name}"
        if ds["source"] == "raw":
            if "path" not in ds:
                raise ConfigError(f"config key '{key}.path': required for source 'raw'")
            root = Path(ds["path"])
            if not root.exists():
                raise ConfigError(f"config key '{key}.path': {root} does not exist")
            if not (root / "dataset.json").is_file():
                raise ConfigError(
                    f"config key '{key}.path': {root} is not an nnU-Net v2 raw dataset "
                    "(no dataset.json)"
                )
        elif "path" in ds:
            raise ConfigError(
                f"config key '{key}.path': only used with source 'raw', not {ds['source']!r}"
            )
        for arch in ds.get("architectures", {}):
            if arch not in config["architectures"]:
                raise ConfigError(
                    f"config key '{key}.architectures.{arch}': not a name in 'architectures'"
                )
    _check_folders(config)
    check_sources(config)
    _check_ensembles(config)
    _check_students(config)
    _check_dataset_lists(config)
    for name in config["datasets"]:
        training = training_settings(config, name)
        _check_merged(training, "training", f"datasets.{name}.training")
        _check_training(training, config["datasets"][name], name)
        for arch in config["architectures"]:
            settings = architecture_settings(config, name, arch)
            _check_merged(settings, "architecture", f"datasets.{name}.architectures.{arch}")
            if settings.get("training"):
                arch_training = training_settings(config, name, arch)
                _check_merged(arch_training, "training", f"architectures.{arch}.training")
                _check_training(arch_training, config["datasets"][name], name)
            _check_patch(settings, f"architectures.{arch}", name)
            _check_network(settings, f"architectures.{arch}", name)
        _check_splits(config, name)


def _check_folders(config: dict[str, Any]) -> None:
    """Output folders must name a folder (an empty or ``/`` one would write under ``/``)."""
    for key in ("results_dir", "data_dir"):
        if not config[key].strip("/ "):
            raise ConfigError(
                f"config key '{key}': {config[key]!r} is not a folder to write in "
                "(give a relative or absolute path below /)"
            )


def _check_training(training: dict[str, Any], dataset: dict[str, Any], name: str) -> None:
    """Settings that only fail once a job builds them: optimiser, schedule, best weights."""
    import torch

    from kdseg.train.loop import make_optimizer, make_schedule

    key = f"datasets.{name}.training" if dataset.get("training") else "training"
    try:
        optimizer = make_optimizer(torch.nn.Linear(1, 1), training["optimizer"])
    except (ValueError, TypeError, ConfigError) as err:
        raise ConfigError(f"config key '{key}.optimizer': {err}") from None
    try:
        make_schedule(optimizer, training["schedule"], training["iterations"])
    except (ValueError, TypeError, KeyError) as err:
        raise ConfigError(f"config key '{key}.schedule': {err!r} while building it") from None
    validation = dataset.get("splits", {}).get("validation", 0.15)
    if training["weights"] == "best" and (training["validate_every"] == 0 or validation == 0):
        raise ConfigError(
            f"config key '{key}.weights': 'best' needs validation (validate_every > 0 and "
            "splits.validation > 0); use 'final'"
        )


@functools.cache
def _network_error(network: str, kwargs_json: str) -> str | None:
    """Why a network cannot be built with these keyword arguments (None: it can)."""
    from kdseg.nets.registry import build_network

    try:
        build_network(network, in_channels=1, out_channels=2, **json.loads(kwargs_json))
    except ConfigError as err:
        return str(err)
    except Exception as err:  # a constructor's own check (ValueError, AssertionError, ...)
        return f"architecture {network!r}: cannot be built ({type(err).__name__}: {err})"
    return None


def _check_network(arch: dict[str, Any], key: str, dataset: str) -> None:
    """The network exists and accepts its keyword arguments (built once, on the CPU)."""
    error = _network_error(arch["network"], json.dumps(arch.get("kwargs", {}), sort_keys=True))
    if error is not None:
        raise ConfigError(f"config key '{key}' (dataset {dataset}): {error}")


def _dataset_cases(config: dict[str, Any], name: str) -> tuple[list[str], dict[str, Any]] | None:
    """Case ids and case metadata of a dataset, where they are known before any job (the same
    reading of the raw folder as the validation job's; a folder it cannot read is left to
    that job's errors)."""
    ds = config["datasets"][name]
    if ds["source"] == "phantom":
        from kdseg.data.phantoms.registry import phantom_case_ids

        section = ds.get("phantom", {})
        return phantom_case_ids(section.get("kind", "thorax"), section.get("cases", 0)), {}
    root = raw_root(config, name)
    try:
        info = read_dataset_json(root)
        return [c.case for c in discover_cases(root, info)], info.case_metadata
    except KdsegError:
        return None


def _check_splits(config: dict[str, Any], name: str) -> None:
    """The split can be made from the dataset's patients (where they are known already)."""
    from kdseg.data.splits import make_splits

    ds = config["datasets"][name]
    known = _dataset_cases(config, name)
    if known is None or not known[0]:
        return
    s = ds.get("splits", {})
    try:
        make_splits(
            known[0],
            s.get("seed", 0),
            s.get("test", 0.25),
            s.get("validation", 0.15),
            s.get("group_pattern"),
            known[1],
            s.get("stratify_by"),
            s.get("held_out"),
        )
    except ConfigError as err:
        raise ConfigError(f"config key 'datasets.{name}.splits': {err}") from None


def check_device(config: dict[str, Any], local: bool) -> None:
    """A CUDA device needs a GPU: on this machine when jobs run here (``local``), else GPUs
    requested for the jobs (``resources.<kind>.gpu``)."""
    for name in config["datasets"]:
        setting = training_settings(config, name)["device"]
        key = (
            f"datasets.{name}.training.device"
            if "device" in config["datasets"][name].get("training", {})
            else "training.device"
        )
        if setting == "auto":
            continue
        import torch

        try:
            device = torch.device(setting)
        except (RuntimeError, ValueError):
            raise ConfigError(f"config key '{key}': {setting!r} is not a torch device") from None
        if device.type != "cuda":
            continue
        if local and not torch.cuda.is_available():
            raise ConfigError(
                f"config key '{key}': {setting!r} but this machine has no usable CUDA GPU "
                "(use 'auto' or 'cpu')"
            )
        if not local:
            for kind, section in config["resources"].items():
                if section.get("gpu", 0) < 1:
                    raise ConfigError(
                        f"config key '{key}': {setting!r} but resources.{kind}.gpu is "
                        f"{section.get('gpu', 0)}: those jobs would get no GPU"
                    )


SCHEMA = Path(__file__).resolve().parents[2] / "config" / "schema" / "config.schema.yaml"


def validate_config(config: dict[str, Any]) -> None:
    """Fill in the schema's defaults, validate against the schema (Snakemake's ``validate``)
    and run :func:`check_config`; any problem raises a one-line ConfigError."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    _check_method_keys(config)
    try:
        validate(config, str(SCHEMA))
    except WorkflowError as err:
        message = config_error_message(err).removeprefix("invalid config: ")
        raise ConfigError(message) from None
    from kdseg.distill.methods import method_of

    for name, entry in config["students"].items():
        method_of(entry).prepare(config, name)
    check_config(config)


def _check_method_keys(config: Any) -> None:
    """Keys of a ``students`` entry that its method does not read are errors (checked before
    the schema fills in defaults, which cover the keys of every method)."""
    from kdseg.distill.methods import METHODS

    students = config.get("students") if isinstance(config, dict) else None
    if not isinstance(students, dict):
        return  # the schema reports it
    for name, entry in students.items():
        method = entry.get("method", "kd") if isinstance(entry, dict) else None
        if method in METHODS:
            METHODS[method].check_keys(name, entry)


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys in sorted order (recursively; lists keep theirs).

    The workflow applies it to the whole config, so that the ``params`` Snakemake records
    (dicts compared by their ``repr``) do not depend on the order of keys in a study file.
    """
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: (type(kv[0]).__name__, str(kv[0])))
        return {k: canonical(v) for k, v in items}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    return value


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise ConfigError(
                f"config key {key!r} given twice in one mapping (lines {seen[key]} and "
                f"{key_node.start_mark.line + 1} of {loader.name})"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def read_study_file(path: str | Path) -> Any:
    """A study file's YAML (or JSON), refusing duplicate keys with a one-line ConfigError."""
    path = Path(path)
    try:
        with open(path) as fh:
            loader = _StrictLoader(fh)
            loader.name = str(path)
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from None


def load_config(path: str | Path) -> dict[str, Any]:
    """A study file read and validated as the workflow sees it (for tools outside Snakemake,
    such as the benchmarks)."""
    config = read_study_file(path)
    try:
        validate_config(config)
    except ConfigError as err:
        raise ConfigError(f"{path}: invalid config: {err}") from None
    return config


@functools.cache
def _schema_defs() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA.read_text())["$defs"]


def _check_merged(settings: dict[str, Any], definition: str, key: str) -> None:
    """A section after a dataset's changes are merged in must still match the schema."""
    schema = {"$ref": f"#/$defs/{definition}", "$defs": _schema_defs()}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(settings)
    )
    if error is not None:
        where = ".".join([key, *(str(p) for p in error.absolute_path)])
        raise ConfigError(f"config key '{where}': {error.message}")


_DIMS = {"dilated2d": 2, "unet2d": 2, "resnet2d": 2, "unet3d": 3, "resnet3d": 3,
         "dilated2d_kdseg": 2, "resnet2d_kdseg": 2, "resnet3d_kdseg": 3}  # fmt: skip


def _check_patch(arch: dict[str, Any], key: str, dataset: str) -> None:
    dims = _DIMS.get(arch["network"])
    if dims is not None and len(arch["patch"]) != dims:
        raise ConfigError(
            f"config key '{key}.patch' (dataset {dataset}): {arch['network']} is a {dims}D "
            f"network and needs {dims} patch sizes, got {arch['patch']}"
        )
    if "patch" in arch.get("inference", {}) and len(arch["patch"]) != 3:
        raise ConfigError(
            f"config key '{key}.inference.patch' (dataset {dataset}): only 3D networks use a "
            "sliding window; 2D networks are applied to whole slices"
        )


def _check_students(config: dict[str, Any]) -> None:
    from kdseg.distill.methods import method_of

    for name, student in config["students"].items():
        method_of(student).check(config, name)
        if student["architecture"] not in config["architectures"]:
            raise ConfigError(
                f"config key 'students.{name}.architecture': {student['architecture']!r} is not "
                "defined in 'architectures'"
            )
    for arch in config["baselines"]["architectures"]:
        if arch not in config["architectures"]:
            raise ConfigError(
                f"config key 'baselines.architectures': {arch!r} is not defined in 'architectures'"
            )
    if config["baselines"]["loss"] not in config["losses"]:
        raise ConfigError(f"config key 'baselines.loss': {config['baselines']['loss']!r} unknown")


def runs_on(entry: dict[str, Any], dataset: str) -> bool:
    """Whether an ensemble or student entry is trained on ``dataset`` (no list: on all)."""
    return dataset in entry.get("datasets", [dataset])


def dataset_view(config: dict[str, Any], dataset: str) -> dict[str, Any]:
    """The config as one dataset sees it: only the ensembles and students trained on it."""
    view = dict(config)
    view["ensembles"] = {k: v for k, v in config["ensembles"].items() if runs_on(v, dataset)}
    view["students"] = {k: v for k, v in config["students"].items() if runs_on(v, dataset)}
    return view


def _check_dataset_lists(config: dict[str, Any]) -> None:
    """Named datasets exist, and a student's ensembles are trained on each of its datasets."""
    for section in ("ensembles", "students"):
        for name, entry in config[section].items():
            for ds in entry.get("datasets", []):
                if ds not in config["datasets"]:
                    raise ConfigError(
                        f"config key '{section}.{name}.datasets': {ds!r} is not in 'datasets'"
                    )
    for name, student in config["students"].items():
        for ds in config["datasets"]:
            if not runs_on(student, ds):
                continue
            for ens in student.get("ensembles", []):
                if not runs_on(config["ensembles"][ens], ds):
                    raise ConfigError(
                        f"config key 'students.{name}.datasets': its ensemble {ens!r} is not "
                        f"trained on {ds} (add {ds} to 'ensembles.{ens}.datasets' or restrict "
                        "the student)"
                    )


def _check_ensembles(config: dict[str, Any]) -> None:
    for name, ens in config["ensembles"].items():
        for field, pool in (
            ("architectures", config["architectures"]),
            ("losses", config["losses"]),
        ):
            for item in ens[field]:
                if item not in pool:
                    raise ConfigError(
                        f"config key 'ensembles.{name}.{field}': {item!r} is not defined in "
                        f"'{field}' (defined: {', '.join(pool) or 'none'})"
                    )


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied key by key (nested dicts merged, others replaced)."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def architecture_settings(config: dict[str, Any], dataset: str, arch: str) -> dict[str, Any]:
    """A named architecture with the dataset's changes applied."""
    changes = config["datasets"][dataset].get("architectures", {}).get(arch, {})
    return deep_merge(config["architectures"][arch], changes)


def trained_architecture(config: dict[str, Any], dataset: str, arch: str) -> dict[str, Any]:
    """What training depends on: the architecture without its ``inference`` section (which
    the prediction jobs apply, so changing it never re-trains a network)."""
    settings = architecture_settings(config, dataset, arch)
    settings.pop("inference", None)
    settings.pop("training", None)  # part of the training settings (training_settings)
    return settings


def model_architecture(config: dict[str, Any], model_id: str) -> str:
    """The architecture name of a single model's id (teachers, students, baselines, online)."""
    kind, *parts = model_id.split("/")
    if kind == "students" and len(parts) == 4:
        return parts[2]
    tag = None  # <arch>-<loss>
    if kind == "online" and len(parts) == 5:
        if parts[4] == "student":
            return parts[2]
        tag = parts[1]
    elif kind in ("teachers", "baselines") and len(parts) in (2, 3):  # subset<k>of<K>/, x<b>/
        tag = parts[0]
    for arch in config["architectures"] if tag else ():
        if tag.startswith(f"{arch}-") and tag[len(arch) + 1 :] in config["losses"]:
            return arch
    raise ConfigError(f"model {model_id!r}: no architecture of the config matches")


def inference_settings(config: dict[str, Any], dataset: str, model_id: str) -> dict[str, Any]:
    """The config ``inference`` section of a single model's architecture on a dataset."""
    arch = model_architecture(config, model_id)
    return architecture_settings(config, dataset, arch).get("inference", {})


def training_settings(
    config: dict[str, Any], dataset: str, arch: str | None = None
) -> dict[str, Any]:
    """The training section with the dataset's changes applied, then (``arch``) those of the
    architecture (``architectures.<arch>.training``, with the dataset's changes to it)."""
    settings = deep_merge(config["training"], config["datasets"][dataset].get("training", {}))
    if arch is None:
        return settings
    return deep_merge(settings, architecture_settings(config, dataset, arch).get("training", {}))


def scaled_training(training: dict[str, Any], budget: int) -> dict[str, Any]:
    """Training settings for ``budget`` times the iterations (validation, checkpoints and
    progress lines at the same intervals)."""
    return {**training, "iterations": int(training["iterations"]) * budget}


def teacher_models(config: dict[str, Any]) -> list[str]:
    """Model ids of every teacher some ensemble names, each once, sorted."""
    return sorted({m for ens in config["ensembles"] for m in ensemble_members(config, ens)})


def teacher_equal_to_baseline(config: dict[str, Any], baseline: str) -> str | None:
    """The teacher a baseline ``baselines/<arch>-<loss>/seed<k>`` equals, or None.

    A teacher of the same architecture, loss and seed trained on all training cases of the
    same dataset view is the same network (same settings, data and seed): the baseline reuses
    its model file instead of training it again."""
    teacher = "teachers/" + baseline.removeprefix("baselines/")  # x<budget>/: never a teacher
    return teacher if teacher in teacher_models(config) else None


def parse_teacher(model_id: str) -> tuple[str, int, int, int]:
    """(``<arch>-<loss>``, seed, subset k, subsets K) of a teacher id (K = 1: all cases)."""
    parts = model_id.split("/")
    subset = re.fullmatch(r"subset(\d+)of(\d+)", parts[2]) if len(parts) == 4 else None
    if parts[0] != "teachers" or len(parts) not in (3, 4) or (len(parts) == 4 and not subset):
        raise ConfigError(f"model {model_id!r}: not a teacher id")
    k, total = (int(subset[1]), int(subset[2])) if subset else (1, 1)
    return parts[1], int(parts[-1].removeprefix("seed")), k, total


def raw_root(config: dict[str, Any], dataset: str) -> str:
    """Where the raw (nnU-Net v2 layout) dataset lives."""
    ds = config["datasets"][dataset]
    if ds["source"] == "raw":
        return str(ds["path"])
    if is_converted(ds):
        return raw_dir(config, ds)
    return f"{study_dir(config)}/{dataset}/raw"


def study_dir(config: dict[str, Any]) -> str:
    """``<results_dir>/<study>``."""
    return f"{config['results_dir']}/{config['study']}"


def raw_inputs(config: dict[str, Any], dataset: str) -> list[str]:
    """Input files of the validation rule: the folder the workflow makes (phantom), the
    marker of a converted public source, or every file of a user's raw folder."""
    ds = config["datasets"][dataset]
    if is_converted(ds):
        return [marker_of(raw_root(config, dataset))]
    if ds["source"] != "raw":
        return [raw_root(config, dataset)]
    return list_raw_files(ds["path"])


def ensemble_members(config: dict[str, Any], ensemble: str) -> list[str]:
    """Model ids of an ensemble's members: ``teachers/<arch>-<loss>/seed<k>``, or with
    ``subsets: K`` ``teachers/<arch>-<loss>/subset<i>of<K>/seed<k>`` for i = 1..K (each trained
    on one of K disjoint subsets of the training cases)."""
    ens = config["ensembles"][ensemble]
    total = int(ens.get("subsets", 1))
    subsets = [""] if total == 1 else [f"subset{i}of{total}/" for i in range(1, total + 1)]
    return [
        f"teachers/{a}-{loss}/{sub}seed{s}"
        for a in ens["architectures"]
        for loss in ens["losses"]
        for s in ens["seeds"]
        for sub in subsets
    ]


def student_models(config: dict[str, Any], final: bool = False) -> list[str]:
    """Model ids of every student (``students/<entry>/<teacher>/<arch>/seed<k>``) that the
    entries' methods train (``final``: only the students methods are compared by, e.g. not
    the teacher assistants)."""
    from kdseg.distill.methods import method_of

    return [
        run.model_id
        for name, entry in config["students"].items()
        for run in (method_of(entry).final_runs if final else method_of(entry).runs)(config, name)
    ]


def student_teachers(config: dict[str, Any]) -> list[str]:
    """Names in the teacher slot of student ids: ensembles, online entries' <arch>-<loss>."""
    from kdseg.distill.methods import StudentRun

    runs = [StudentRun.parse(m).teacher for m in student_models(config)]
    return sorted(set(runs) | set(config["ensembles"]))


def compared_students(
    config: dict[str, Any],
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The student comparison table's models (final students, then baselines), each
    student's method, and each student's baseline (same architecture and seed)."""
    from kdseg.distill.methods import StudentRun, method_of

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


def online_models(config: dict[str, Any]) -> list[str]:
    """Model ids of the networks of online KD's phase 1 (``online/.../teacher|student``)."""
    from kdseg.distill.methods import method_of
    from kdseg.distill.methods.online_kd import online_id

    return [
        online_id(run, role)
        for name, entry in config["students"].items()
        if entry.get("method") == "online"
        for run in method_of(entry).runs(config, name)
        for role in ("teacher", "student")
    ]


def student_needs(config: dict[str, Any], model_id: str):
    """The teacher outputs (:class:`~kdseg.distill.methods.TeacherNeeds`) a student reads."""
    from kdseg.distill.methods import StudentRun, method_of

    run = StudentRun.parse(model_id)
    return method_of(config["students"][run.name]).needs(config, run)


def student_settings(config: dict[str, Any], name: str) -> dict[str, Any]:
    """What training a student entry depends on: its method and that method's settings."""
    from kdseg.distill.methods import method_of

    entry = config["students"][name]
    method = method_of(entry)
    return {"method": method.name, **method.settings(entry)}


def soft_label_sources(config: dict[str, Any], model_id: str) -> list[str]:
    """The models whose mean probabilities are ``<model_id>/soft_labels``."""
    if model_id.startswith("ensembles/"):
        return ensemble_members(config, model_id.removeprefix("ensembles/"))
    return [model_id]


def baseline_models(config: dict[str, Any]) -> list[str]:
    """Model ids of every baseline: ``baselines/<arch>-<loss>/seed<k>``."""
    b = config["baselines"]
    return [
        baseline_id(a, b["loss"], s, budget)
        for budget in b.get("budgets", [1])
        for a in b["architectures"]
        for s in b["seeds"]
    ]


def baseline_id(arch: str, loss: str, seed: int, budget: int = 1) -> str:
    """``baselines/<arch>-<loss>/seed<k>``; a baseline trained ``budget`` > 1 times the
    iterations: ``baselines/<arch>-<loss>/x<budget>/seed<k>``."""
    scale = f"x{budget}/" if budget != 1 else ""
    return f"baselines/{arch}-{loss}/{scale}seed{seed}"


def baseline_of_student(config: dict[str, Any], run: Any) -> str | None:
    """The baseline a student is compared with: same architecture and seed, trained for the
    student's budget (online KD's students: twice the iterations) when the study has such a
    baseline (``baselines.budgets``), else the one of ``training.iterations``."""
    from kdseg.distill.methods import method_of

    baselines = baseline_models(config)
    loss = config["baselines"]["loss"]
    budget = method_of(config["students"][run.name]).budget(config, run)
    for candidate in (baseline_id(run.arch, loss, run.seed, budget),
                      baseline_id(run.arch, loss, run.seed)):  # fmt: skip
        if candidate in baselines:
            return candidate
    return None


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
    from kdseg.distill.methods import method_of

    pairs: list[tuple[str, str, str, str]] = []
    names = [e for e in config["ensembles"] if len(ensemble_members(config, e)) > 1]
    for ens in names:
        for member in ensemble_members(config, ens):
            pairs.append((f"ensemble {ens} vs member", f"ensembles/{ens}", member, "paper"))
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
            pairs.append((f"ensemble {e1} vs {e2}", f"ensembles/{e1}", f"ensembles/{e2}",
                          "paper"))  # fmt: skip
    return pairs
