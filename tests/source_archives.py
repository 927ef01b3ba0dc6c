"""Miniature copies of the public sources, in each source's exact file and folder layout.

Tiny NIfTI files (a few voxels, distinct anisotropic affines per case) under the real names, so
the converters and the obtain rules see what they would see in the real archives.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (6, 5, 4)


def affine_of(i: int) -> np.ndarray:
    """A distinct oblique-free affine per case: spacing (0.7, 0.8, 2.5+i/10), origin (i, -i, 3i)."""
    aff = np.diag([-0.7, -0.8, 2.5 + i / 10, 1.0])
    aff[:3, 3] = [i, -i, 3 * i]
    return aff


def image(path: Path, i: int, channels: int = 1, dtype=np.int16, seed: int | None = None) -> None:
    """A random image with case ``i``'s affine (``seed``: other voxels, same geometry)."""
    rng = np.random.default_rng(i if seed is None else seed)
    shape = SHAPE if channels == 1 else (*SHAPE, channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(rng.integers(0, 500, shape).astype(dtype), affine_of(i)), path)


def label(path: Path, i: int, values: list[int]) -> None:
    """A label map holding every value of ``values`` (one slab each, the rest the first)."""
    data = np.full(SHAPE, values[0], dtype=np.uint8)
    for k, v in enumerate(values):
        data[k % SHAPE[0], :, k // SHAPE[0]] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, affine_of(i)), path)


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder).as_posix())
    return archive


def tar_folder(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w") as tar:
        for path in sorted(folder.iterdir()):
            tar.add(path, path.name)
    return archive


def segthor(root: Path, patients: int = 4, copy: str = "challenge") -> Path:
    """``copy="challenge"``: the CodaLab ``train.zip`` (train/Patient_NN/{Patient_NN,GT}.nii.gz);
    ``"zenodo"``: the open ``SegTHOR.zip`` as torch-em's loader reads it
    (SegTHOR/Patient_NN/{Patient_NN,GT}.nii.gz). Labels 0..4."""
    tree = root / f"segthor_{copy}_tree" if copy != "challenge" else root / "segthor_tree"
    top = "train" if copy == "challenge" else "SegTHOR"
    for i in range(1, patients + 1):
        folder = tree / top / f"Patient_{i:02d}"
        image(folder / f"Patient_{i:02d}.nii.gz", i)
        label(folder / "GT.nii.gz", i, [0, 1, 2, 3, 4])
    return zip_folder(tree, root / ("train.zip" if copy == "challenge" else "SegTHOR.zip"))


def _acdc_patient(folder: Path, n: int, ed: int, es: int, labelled: bool, group: bool) -> None:
    folder.mkdir(parents=True)
    kind = "Group: DCM\n" if group else ""
    (folder / "Info.cfg").write_text(
        f"ED: {ed}\nES: {es}\n{kind}Height: 184.0\nNbFrame: 30\nWeight: 95.0\n"
    )
    image(folder / f"patient{n:03d}_4d.nii.gz", n, channels=3)
    for frame in (ed, es):
        image(folder / f"patient{n:03d}_frame{frame:02d}.nii.gz", n)
        if labelled:
            label(folder / f"patient{n:03d}_frame{frame:02d}_gt.nii.gz", n, [0, 1, 2, 3])


ACDC_PATIENTS = {"training": [(1, 1, 12), (2, 1, 8), (3, 1, 10)], "testing": [(101, 1, 14)]}


def acdc(root: Path) -> Path:
    """``ACDC.zip`` as the Creatis collection API serves it and torch-em's loader reads it:
    ACDC/database/{training,testing}/patientNNN with Info.cfg, the 4D series, every ED/ES frame
    and its _gt (the test patients are labelled in this copy)."""
    tree = root / "acdc_tree"
    for subset, entries in ACDC_PATIENTS.items():
        for n, ed, es in entries:
            _acdc_patient(
                tree / "ACDC" / "database" / subset / f"patient{n:03d}", n, ed, es, True, True
            )
    return zip_folder(tree, root / "ACDC.zip")


def acdc_2017(root: Path) -> Path:
    """The original 2017 challenge copy, extracted: training/ and testing/ without database/;
    the test patients have no _gt files (and no Group). A folder, as a user keeps it."""
    tree = root / "acdc_2017"
    for subset, entries in ACDC_PATIENTS.items():
        for n, ed, es in entries + ([(102, 1, 9)] if subset == "testing" else []):
            labelled = subset == "training"
            _acdc_patient(tree / subset / f"patient{n:03d}", n, ed, es, labelled, labelled)
    return tree


def mrbrains18(
    root: Path, subjects: tuple[str, ...] = ("1", "4", "070"), subset: str = "training"
) -> Path:
    """``<subset>.zip`` (``training.zip`` or ``test.zip``, as DataverseNL serves them and
    torch-em's loader reads them): <subset>/<id>/{segm.nii.gz, pre/*, orig/*}, labels 0..10."""
    tree = root / f"mrbrains_tree_{subset}" if subset != "training" else root / "mrbrains_tree"
    for i, subject in enumerate(subjects, 1):
        folder = tree / subset / subject
        for k, name in enumerate(("reg_T1", "reg_IR", "FLAIR")):
            image(folder / "pre" / f"{name}.nii.gz", i, seed=i + 100 * k)  # distinct voxels
            image(folder / "orig" / f"{name}.nii.gz", i + 50)
        label(folder / "segm.nii.gz", i, list(range(11)))
    return zip_folder(tree, root / f"{subset}.zip")


def decathlon(root: Path, task: str = "Task05_Prostate") -> Path:
    """``TaskNN_Name.tar``: dataset.json (decathlon format), imagesTr (4D for prostate),
    labelsTr, imagesTs, and the macOS ``._*`` files the real tars hold."""
    tree = root / f"{task}_tree" / task
    prostate = task == "Task05_Prostate"
    prefix = "prostate" if prostate else "liver"
    cases = [0, 1, 2, 4]
    for i in cases:
        name = f"{prefix}_{i:02d}.nii.gz" if prostate else f"{prefix}_{i}.nii.gz"
        image(tree / "imagesTr" / name, i + 1, channels=2 if prostate else 1)
        label(tree / "labelsTr" / name, i + 1, [0, 1, 2])
        (tree / "imagesTr" / f"._{name}").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    image(tree / "imagesTs" / f"{prefix}_03.nii.gz", 9, channels=2 if prostate else 1)
    modality = {"0": "T2", "1": "ADC"} if prostate else {"0": "CT"}
    labels = (
        {"0": "background", "1": "PZ", "2": "TZ"}
        if prostate
        else {"0": "background", "1": "liver", "2": "cancer"}
    )
    training = [
        {"image": f"./imagesTr/{n}", "label": f"./labelsTr/{n}"}
        for n in sorted(p.name for p in (tree / "imagesTr").iterdir() if not p.name.startswith("."))
    ]
    (tree / "dataset.json").write_text(
        json.dumps(
            {
                "name": task.split("_")[1].upper(),
                "tensorImageSize": "4D" if prostate else "3D",
                "modality": modality,
                "labels": labels,
                "numTraining": len(training),
                "numTest": 1,
                "training": training,
                "test": [f"./imagesTs/{prefix}_03.nii.gz"],
            },
            indent=1,
        )
    )
    return tar_folder(tree.parent, root / f"{task}.tar")


SITES = {"BIDMC": 2, "BMC": 2, "HK": 2, "I2CVB": 2, "RUNMC": 2, "UCL": 3}


def multisite_prostate(root: Path) -> Path:
    """``Processed_data_nii.zip``: Processed_data_nii/<site>/CaseNN.nii.gz with
    CaseNN_segmentation.nii.gz (BMC: _Segmentation); I2CVB labels zones with 2."""
    tree = root / "msp_tree"
    i = 0
    for site, count in SITES.items():
        for n in range(count):
            i += 1
            folder = tree / "Processed_data_nii" / site
            image(folder / f"Case{n:02d}.nii.gz", i)
            spelling = "Segmentation" if site == "BMC" else "segmentation"
            values = [0, 1, 2] if site == "I2CVB" else [0, 1]
            label(folder / f"Case{n:02d}_{spelling}.nii.gz", i, values)
    return zip_folder(tree, root / "Processed_data_nii.zip")


def kits19(root: Path, labelled: int = 3, scans: int = 210) -> Path:
    """A mirror folder: ``kits19-master.zip`` (the repository: kits19-master/data/case_NNNNN/
    segmentation.nii.gz for the first ``labelled`` cases) and ``master_NNNNN.nii.gz`` scans."""
    mirror = root / "kits_mirror"
    repo = root / "kits_repo" / "kits19-master"
    (repo / "starter_code").mkdir(parents=True)
    (repo / "starter_code" / "get_imaging.py").write_text("# downloads the imaging\n")
    for i in range(labelled):
        label(repo / "data" / f"case_{i:05d}" / "segmentation.nii.gz", i, [0, 1, 2])
    mirror.mkdir()
    zip_folder(repo.parent, mirror / "kits19-master.zip")
    for i in range(scans):
        image(mirror / f"master_{i:05d}.nii.gz", i)
    return mirror


# Bad archives -----------------------------------------------------------------------------


def tar_with_member(path: Path, name: str, link: str | None = None) -> Path:
    """A tar holding one good file plus ``name`` (a regular file, or a symlink to ``link``)."""
    with tarfile.open(path, "w") as tar:
        good = tarfile.TarInfo("data/ok.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        bad = tarfile.TarInfo(name)
        if link is None:
            bad.size = 4
            tar.addfile(bad, io.BytesIO(b"evil"))
        else:
            bad.type, bad.linkname = tarfile.SYMTYPE, link
            tar.addfile(bad)
    return path


def truncated(archive: Path, dest: Path) -> Path:
    """``archive`` cut to 60% of its size."""
    data = archive.read_bytes()
    dest.write_bytes(data[: int(len(data) * 0.6)])
    return dest


def tar_of(path: Path, members: list[tuple[str, str, str]], mode: str = "w") -> Path:
    """A tar of ``(name, kind, value)`` members in that order: kind ``file`` (value: content),
    ``dir``, ``symlink`` or ``hardlink`` (value: the link's target)."""
    with tarfile.open(path, mode) as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(value.encode())
                tar.addfile(info, io.BytesIO(value.encode()))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}.get(
                kind, tarfile.LNKTYPE
            )
            info.linkname = value
            tar.addfile(info)
    return path


def zip_of(path: Path, members: list[tuple[str, str, str]]) -> Path:
    """A zip of ``(name, kind, value)`` members: ``file`` (value: content) or ``symlink``
    (value: its target, stored as a Unix symlink the way Info-ZIP stores one)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, kind, value in members:
            info = zipfile.ZipInfo(name)
            if kind == "symlink":
                info.external_attr = 0o120777 << 16
            zf.writestr(info, value)
    return path


def tar_escaping_through_links(path: Path, up: int, name: str) -> Path:
    """A tar whose every link stays inside the target when read lexically, but whose member
    ``escape/<name>`` lands ``up`` folders above the extraction folder: a chain of 16 links
    through 247-character folder names makes ``os.path.realpath`` exceed PATH_MAX and give up
    resolving, which defeats the standard library's ``data`` filter on Python before 3.11.13
    (CVE-2025-4517)."""
    comp, steps, deep = "d" * 247, "abcdefghijklmnop", ""
    members = []
    for step in steps:
        members += [(f"{deep}{comp}", "dir", ""), (f"{deep}{step}", "symlink", comp)]
        deep += f"{comp}/"
    chain = "/".join(steps) + "/" + "l" * 254
    members += [
        (chain, "symlink", "../" * len(steps)),
        ("escape", "symlink", chain + "/.." * up),
        (f"escape/{name}", "file", "evil"),
    ]
    return tar_of(path, members)


def zeros_archive(path: Path, size: int) -> Path:
    """A zip (deflated) or tar.gz holding one file of ``size`` zero bytes: a tiny archive that
    expands a thousand times."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("zeros.bin", bytes(size))
    else:
        with tarfile.open(path, "w:gz") as tar:
            info = tarfile.TarInfo("zeros.bin")
            info.size = size
            tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def without_end_marker(archive: Path, dest: Path, extra: int = 0) -> Path:
    """An uncompressed tar cut exactly after its last member (its end-of-archive zero blocks
    gone), plus ``extra`` bytes of what followed."""
    with tarfile.open(archive) as tar:
        tar.getmembers()
        end = tar.offset
    dest.write_bytes(archive.read_bytes()[: end + extra])
    return dest
