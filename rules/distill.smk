"""Students of every method (kdseg.config.methods; trained by kdseg.distill.trainers) and the
training phases of the methods' own (``Phase``: online KD's joint first phase). Their job
scripts differ from the teachers', so each is a rule of its own; paths, inputs and params come
from the helpers of common.smk."""


rule train_student:
    """Train one student with its entry's distillation method."""
    input:
        unpack(student_teacher_files),
        unpack(dataset_inputs),
    output:
        **trained(ids.STUDENT),
    log:
        job_log("train", ids.STUDENT),
    benchmark:
        job_benchmark("train", ids.STUDENT)
    # the chain teachers -> soft labels -> students -> tables is the study's critical path
    priority: 1
    conda:
        ENV
    threads: config["resources"]["train"]["threads"]
    resources:
        **job_resources("train"),
    params:
        architecture=architecture_of,
        kd=lambda wc: kdcfg.student_settings(config, wc.student),
        training=training_of,
        checkpoint=checkpoint_beside("model"),
    script:
        "../workflow/scripts/train_student.py"


for phase in kdcfg.method_phases():

    rule:
        """A method's own training phase (online KD's phase 1: teacher and student together)."""
        name:
            phase.rule
        input:
            unpack(dataset_inputs),
        output:
            **phase_outputs(phase),
        log:
            job_log("train", phase.model),
        benchmark:
            job_benchmark("train", phase.model)
        conda:
            ENV
        threads: config["resources"]["train"]["threads"]
        resources:
            **job_resources("train"),
        params:
            **phase_partner_params(phase),
            architecture=architecture_of,
            kd=lambda wc: kdcfg.phase_settings(config, wc.student),
            training=training_of,
            checkpoint=checkpoint_beside("history"),
        script:
            f"../workflow/scripts/{phase.script}"
