"""What a job gets: its outputs, log and benchmark paths (from LAYOUT and the model-id
patterns), its inputs, params and resources."""


def job_resources(kind):
    """Scheduler resources of a training or prediction job (config ``resources.<kind>``)."""
    section = config["resources"][kind]
    return {key: section[key] for key in ("gpu", "mem_mb", "runtime")}


def trained(model, in_report=True):
    """Outputs of a job training the model-id pattern ``model`` (kdseg.config.model_ids)."""
    curves = LAYOUT.curves(model)
    if in_report:
        curves = report(
            curves,
            category="Training curves",
            subcategory="{dataset}",
            labels={"model": model},
            caption="../report/training_curves.rst",
        )
    return dict(
        model=LAYOUT.model_file(model), history=LAYOUT.history(model), curves=curves
    )


def job_log(step, model):
    """The log of a job of ``step`` on the model-id pattern ``model`` of a dataset."""
    return LAYOUT.log(step, f"{{dataset}}/{model}")


def job_benchmark(step, model):
    """Snakemake's benchmark file of a job of ``step`` on the model-id pattern ``model``."""
    return LAYOUT.benchmark(step, f"{{dataset}}/{model}")


def architecture_of(wildcards):
    """Param: the job's architecture (``{arch}``) as planned for its dataset."""
    return kdcfg.trained_architecture(
        planned(wildcards), wildcards.dataset, wildcards.arch
    )


def training_of(wildcards):
    """Param: the job's training settings that shape the weights (dataset and architecture
    applied; the job reads the others, kdseg.config.settings.RUNTIME_TRAINING, from the config).
    """
    return kdcfg.learning_settings(
        planned(wildcards), wildcards.dataset, wildcards.arch
    )


def loss_of(wildcards):
    """Param: the job's loss (``{loss}``)."""
    return config["losses"][wildcards.loss]


def checkpoint_beside(name):
    """Param: the resumable checkpoint in the folder of the job's output ``name``."""
    return lambda wildcards, output: os.path.join(
        os.path.dirname(output[name]), "checkpoint.pt"
    )


def ensemble_member_predictions(wildcards):
    """Test prediction folders of the job's ensemble's members."""
    return [
        LAYOUT.predictions(m, wildcards.dataset)
        for m in kdcfg.ensemble_members(config, wildcards.ensemble)
    ]


def soft_label_model_files(wildcards):
    """Model files whose mean probabilities are the job's soft labels."""
    return [
        LAYOUT.model_file(m, wildcards.dataset)
        for m in kdcfg.soft_label_sources(config, wildcards.model)
    ]


def soft_label_inference(wildcards):
    """The config inference settings of each model of the job's soft labels."""
    return [
        kdcfg.inference_settings(planned(wildcards), wildcards.dataset, m)
        for m in kdcfg.soft_label_sources(config, wildcards.model)
    ]


def phase_outputs(phase):
    """A method's phase job's outputs (kdseg.config.methods.Phase): a model file per network,
    its history and curves."""
    files = trained(phase.model)
    networks = {n: LAYOUT.model_file(f"{phase.model}/{n}") for n in phase.networks}
    return dict(networks, history=files["history"], curves=files["curves"])


def phase_partner_params(phase):
    """Params ``<partner>_architecture`` and ``<partner>_loss`` of a phase job's partners."""
    params = {}
    for partner in phase.partners:
        params[f"{partner}_architecture"] = partner_architecture(partner)
        params[f"{partner}_loss"] = partner_loss(partner)
    return params


def partner_architecture(partner):
    """Param: a phase partner's architecture, as planned for the job's dataset."""

    def value(wildcards):
        name, _ = kdcfg.phase_partner(config, wildcards.student, partner)
        return kdcfg.trained_architecture(planned(wildcards), wildcards.dataset, name)

    return value


def partner_loss(partner):
    """Param: a phase partner's loss."""

    def value(wildcards):
        _, loss = kdcfg.phase_partner(config, wildcards.student, partner)
        return config["losses"][loss]

    return value


def model_id(pattern, wildcards):
    """The model id the job's wildcards give the model-id pattern ``pattern``."""
    return pattern.format(**dict(wildcards.items()))


def student_teacher_files(wildcards):
    """What the job's student reads from its teachers (named inputs, see train_student)."""
    needs = kdcfg.student_needs(config, model_id(ids.STUDENT, wildcards))
    ds = wildcards.dataset
    files = {
        "soft_labels": [LAYOUT.soft_labels(m, ds) for m in needs.soft_labels],
        "models": [LAYOUT.model_file(m, ds) for m in needs.models],
    }
    if needs.init is not None:
        files["init"] = LAYOUT.model_file(needs.init, ds)
    return files


def dataset_inputs(wildcards):
    """What every training job reads: the preprocessed dataset and its fingerprint."""
    return {
        "preprocessed": LAYOUT.preprocessed(wildcards.dataset),
        "fingerprint": fingerprint_file(wildcards),
    }


def baseline_inputs(wildcards):
    """A baseline's preprocessed data and, when a teacher is the same network, its model."""
    inputs = dataset_inputs(wildcards)
    baseline = model_id(ids.BASELINE, wildcards)
    teacher = kdcfg.teacher_equal_to_baseline(VIEWS[wildcards.dataset], baseline)
    if teacher is not None:
        inputs["teacher"] = LAYOUT.model_file(teacher, wildcards.dataset)
    return inputs


def model_inference(wildcards):
    """The config inference settings of the model being predicted."""
    return kdcfg.inference_settings(
        planned(wildcards), wildcards.dataset, wildcards.model
    )


def doubled_training(wildcards):
    """The job's training settings with twice the iterations (the doubling check)."""
    return kdcfg.scaled_training(training_of(wildcards), 2)


def budget_training(wildcards):
    """The job's training settings with ``{budget}`` times the iterations."""
    return kdcfg.scaled_training(training_of(wildcards), int(wildcards.budget))
