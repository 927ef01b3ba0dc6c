import json

import pytest

from kdseg.data.raw_dataset import discover_cases, list_raw_files, read_dataset_json
from kdseg.errors import KdsegError


def test_reads_dataset_json_and_discovers_cases(tiny_raw):
    info = read_dataset_json(tiny_raw)
    assert info.num_channels == 1 and info.channel_names[0] == "CT"
    assert info.foreground_labels == {"esophagus": 1, "heart": 2, "trachea": 3, "aorta": 4}
    cases = discover_cases(tiny_raw, info)
    assert [c.case for c in cases] == [f"thorax_{i:03d}" for i in range(4)]
    assert all(c.label is not None and 0 in c.images for c in cases)
    assert len(list_raw_files(tiny_raw)) == 1 + 4 + 4


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("labels"), "key 'labels' is missing"),
        (lambda d: d.update(labels={"a": 1}), "background value 0"),
        (lambda d: d.update(labels={"background": 0, "a": "x"}), "must map names to integers"),
        (lambda d: d.update(channel_names={"1": "CT"}), "keys must be 0..0"),
    ],
)
def test_bad_dataset_json_names_file_and_key(tiny_raw, edit, message):
    path = tiny_raw / "dataset.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(KdsegError, match=message) as err:
        read_dataset_json(tiny_raw)
    assert "dataset.json" in str(err.value)


def test_missing_or_invalid_dataset_json(tmp_path):
    with pytest.raises(KdsegError, match=r"dataset\.json: missing"):
        read_dataset_json(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(KdsegError, match="not valid JSON"):
        read_dataset_json(tmp_path)
