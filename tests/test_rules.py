"""The rule files: rule and script names match, and settings shared by rules are written once."""

from __future__ import annotations

import re

from conftest import REPO

RULES = sorted((REPO / "rules").glob("*.smk"))
# rules that train on labels share the teachers' script
SHARED_SCRIPTS = {"train_baseline": "train_teacher", "train_subset_teacher": "train_teacher"}


def rule_scripts() -> dict[str, str]:
    found = {}
    for path in RULES:
        rule = None
        for line in path.read_text().splitlines():
            if m := re.match(r"^(?:rule|checkpoint) (\w+):", line):
                rule = m[1]
            elif (m := re.search(r"workflow/scripts/(\w+)\.py", line)) and rule:
                found[rule] = m[1]
    return found


def test_each_rule_runs_the_script_of_its_name():
    scripts = rule_scripts()
    assert len(scripts) >= 20
    wrong = {rule: script for rule, script in scripts.items()
             if script != SHARED_SCRIPTS.get(rule, rule)}  # fmt: skip
    assert not wrong, wrong


def test_job_resources_and_checkpoints_are_written_once():
    helpers = ("common.smk", "jobs.smk", "plans.smk", "targets.smk")  # where they are written
    text = "".join(path.read_text() for path in RULES if path.name not in helpers)
    assert 'config["resources"]["train"]["mem_mb"]' not in text
    assert 'config["resources"]["predict"]["mem_mb"]' not in text
    assert '"checkpoint.pt"' not in text
    assert text.count("**job_resources(") >= 3  # training, prediction, soft labels


def test_every_rule_says_what_it_does():
    """`snakemake --list-rules` shows each rule's docstring: what a user can ask for."""
    for path in [*RULES, REPO / "Snakefile"]:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^(?:rule|checkpoint) \w+:", line):
                assert lines[i + 1].strip().startswith('"""'), f"{path.name}: {line}"


def test_every_training_rule_is_the_one_training_rule_used_with_its_paths():
    text = "".join(path.read_text() for path in RULES)
    # one rule per job script (a script cannot be changed by `use rule`)
    trained = re.findall(r"^rule (train_\w+):", text, flags=re.M)
    assert sorted(trained) == ["train_student", "train_teacher"]
    # and one per method's own phase (kdseg.config.methods.Phase), built in a loop
    assert len(re.findall(r"^for phase in kdcfg.method_phases\(\):\n\n    rule:$", text, re.M)) == 1
    used = re.findall(r"^use rule (\w+) as (train\w+) with:", text, flags=re.M)
    names = {new for _, new in used}
    assert {
        "train_subset_teacher",
        "train_baseline",
        "train_budget_baseline",
        "train_doubled_teacher",
        "train_doubled_student",
        "train_doubled_baseline",
    } <= names
    assert all(base.startswith("train_") for base, _ in used)


def test_rules_take_paths_and_model_ids_from_the_layout():
    """No rule writes a study path or a model id itself (kdseg.config.layout, model_ids)."""
    for path in RULES:
        text = path.read_text()
        if path.name != "common.smk":
            assert "{STUDY}" not in text, path.name
        assert "seed{" not in text, path.name


def test_training_script_lines_stay_as_finished_studies_recorded_them():
    """Snakemake records a script rule's ``script:`` line (text and indentation) as the job's
    code and re-runs every job whose recorded line differs: a finished study stays finished
    only while these lines stay as they are (docs/design.md)."""
    rules = {path.name: path.read_text() for path in RULES}
    script = '    script:\n        "../workflow/scripts/{}.py"\n'
    assert script.format("train_teacher") in rules["train.smk"]
    assert script.format("train_student") in rules["distill.smk"]
    # online KD's phase 1 since 2026-12-07 (its finished jobs re-ran once then)
    assert (
        '        script:\n            f"../workflow/scripts/{phase.script}"\n'
        in rules["distill.smk"]
    )
