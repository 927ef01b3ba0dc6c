"""Input functions of the data stages: where a dataset's raw data and public sources are,
and the settings each job gets from the dataset's plan (made from its fingerprint)."""


def fingerprint_file(wildcards):
    """Input: the job's dataset's fingerprint, a checkpoint: the plan (and so the job's params)
    is made from it once it exists (a fold's: its dataset's)."""
    parent = cv.parent_dataset(wildcards.dataset)
    return checkpoints.fingerprint.get(dataset=parent).output[0]


@functools.cache
def _plan(dataset, path, mtime):
    fingerprint = json.loads(Path(path).read_text())
    plan = kdcfg.plan_dataset(fingerprint, config, EXPLICIT, dataset)
    return plan, kdcfg.canonical(kdcfg.apply_plan(config, plan))


def _plan_and_config(dataset):
    """(plan, planned config) of a dataset, made once per version of its fingerprint."""
    parent = cv.parent_dataset(dataset)
    path = checkpoints.fingerprint.get(dataset=parent).output[0]
    return _plan(dataset, path, os.path.getmtime(path))


def dataset_plan(dataset):
    """The plan of a dataset (kdseg.config.plan), made from its fingerprint."""
    return _plan_and_config(dataset)[0]


def planned(wildcards):
    """The config with the planned settings of the job's dataset where the study file sets
    none (its value always wins)."""
    return _plan_and_config(wildcards.dataset)[1]


def fingerprint_settings(wildcards):
    """The preprocess keys a fingerprint depends on (how cases are cropped to the body)."""
    section = dataset_config(wildcards)["preprocess"]
    keys = ("normalization", "mr_body_fraction", "crop_margin")
    settings = {k: section[k] for k in keys if k in section}
    settings["ct"] = {"body_threshold": section["ct"]["body_threshold"]}
    return settings


def dataset_config(wildcards):
    """The config section of the job's dataset."""
    return config["datasets"][wildcards.dataset]


def raw_root(wildcards):
    """Folder of the job's raw dataset (nnU-Net v2 layout)."""
    return study_data.raw_root(config, cv.parent_dataset(wildcards.dataset))


def raw_inputs(wildcards):
    """Files (or the generated folder) of the job's raw dataset."""
    return study_data.raw_inputs(config, cv.parent_dataset(wildcards.dataset))


def raw_report(wildcards):
    """Input: the validation report of the job's dataset's raw data (a fold's: its dataset's)."""
    return LAYOUT.data("raw_report.json", cv.parent_dataset(wildcards.dataset))


def shown_preprocessed(wildcards):
    """Input: the preprocessed cases figures show (a cross-validated dataset: its first fold's,
    whose test cases its pooled predictions hold)."""
    return LAYOUT.preprocessed((FOLDS[wildcards.dataset] or [wildcards.dataset])[0])


def only(datasets):
    """A wildcard constraint: one of ``datasets`` (none: matches nothing)."""
    return "|".join(re.escape(ds) for ds in datasets) or "(?!)"


def download_spec(wildcards):
    """URL, md5 and retry settings of one published file of an open source."""
    return kdsrc.download_spec(config, wildcards.source, wildcards.filename)


def source_files(wildcards):
    """What a source is obtained from: its downloads, or the user's archive or folder once it
    is there (so replacing it re-extracts; while missing, the job explains where to get it).
    """
    return kdsrc.downloaded_files(config, wildcards.source) + [
        p
        for p in [kdsrc.manual_path(config, wildcards.source)]
        if p and os.path.exists(p)
    ]


def manual_path(wildcards):
    """Where the user put a registration-only source."""
    return kdsrc.manual_path(config, wildcards.source)


def conversion_source(wildcards):
    """The obtained source folder a converted dataset is made from."""
    return kdsrc.source_dir(config, CONVERSIONS[wildcards.raw_name][0])


def conversion_source_marker(wildcards):
    """The marker saying that the source folder of a converted dataset is complete."""
    return kdsrc.marker_of(conversion_source(wildcards))
