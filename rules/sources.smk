"""Public datasets: download (open sources) or find (registration-only), extract, convert."""


# Downloads run where Snakemake runs (cluster login nodes have the internet, nodes often not).
localrules:
    download,


rule download:
    """Download one published file of a public dataset (checksum, retries)."""
    output:
        f"{DATA}/downloads/{{source}}/{{filename}}",
    log:
        f"{DATA}/logs/download/{{source}}/{{filename}}.log",
    conda:
        ENV
    resources:
        mem_mb=1000,
        runtime=240,
    params:
        spec=download_spec,
    script:
        "../workflow/scripts/download.py"


rule obtain:
    """Extract a public dataset's archives safely into its source folder."""
    input:
        source_files,
    output:
        # a marker beside the shared folder, not the folder: Snakemake would delete the folder
        # before re-running the job, whoever else is reading it (kdseg.data.sources.obtain)
        f"{DATA}/sources/{{source}}.done.json",
    log:
        f"{DATA}/logs/obtain/{{source}}.log",
    benchmark:
        f"{DATA}/benchmarks/obtain/{{source}}.tsv"
    conda:
        ENV
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        manual_path=manual_path,
        folder=lambda wc: kdsrc.source_dir(config, wc.source),
    script:
        "../workflow/scripts/obtain.py"


rule convert:
    """Convert a public dataset into the nnU-Net v2 raw layout."""
    input:
        conversion_source_marker,
    output:
        f"{DATA}/nnUNet_raw/{{raw_name}}.done.json",
    log:
        f"{DATA}/logs/convert/{{raw_name}}.log",
    benchmark:
        f"{DATA}/benchmarks/convert/{{raw_name}}.tsv"
    conda:
        ENV
    resources:
        mem_mb=16000,
        runtime=240,
    params:
        source=lambda wc: CONVERSIONS[wc.raw_name][0],
        source_dir=conversion_source,
        folder=lambda wc: f"{DATA}/nnUNet_raw/{wc.raw_name}",
        options=lambda wc: CONVERSIONS[wc.raw_name][1],
    script:
        "../workflow/scripts/convert.py"
