"""The catalogue loader refuses inconsistent data with an error naming the item."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from services.assessment.catalogue import CatalogueError, load_catalogue
from services.assessment.catalogue.loader import DATA_DIR
from services.assessment.deployment import read_bootstrap_admin_key


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("clauses.yaml", "id: 6.2.4.2.e\n", "id: 6.2.4.2.E\n", "id must look like"),
        ("clauses.yaml", "  modality: optional\n", "  modality: maybe\n", "maybe"),
        ("clauses.yaml", "ambiguity: 6.4.3-no-modal-verb", "ambiguity: nowhere", "unknown ambiguity"),
        ("clauses.yaml", "section: 6.3.2.1", "section: 6.3.2.2", "own section"),
        (
            "performance.yaml",
            'direction: lower,\n   gloss_en: "Time to first token, online',
            'direction: higher,\n   gloss_en: "Time to first token, online',
            "contradicts higher",
        ),
        ("performance.yaml", "支持去重: dedup, ", "", "cannot interpret level cell '支持去重'"),
        ("performance.yaml", "unit: tokens/s/GPU", "unit: parsecs", "unknown unit"),
        ("levels.yaml", "5: 95}", "5: 85}", "must not decrease"),
    ],
)
def test_inconsistent_data_is_refused(tmp_path: Path, file: str, old: str, new: str, message: str):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    text = (data / file).read_text(encoding="utf-8")
    assert old in text, old
    (data / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(data)


def test_the_packaged_data_loads_from_a_copy(tmp_path: Path):
    shutil.copytree(DATA_DIR, tmp_path / "data")
    assert len(load_catalogue(tmp_path / "data").clauses) == len(load_catalogue().clauses)


def test_bootstrap_admin_key_hook(tmp_path: Path):
    from_state = SimpleNamespace(state=SimpleNamespace(bootstrap=SimpleNamespace(admin_token="stic_a")))
    assert read_bootstrap_admin_key(from_state, SimpleNamespace(bootstrap_key_file=None)) == "stic_a"
    key_file = tmp_path / "admin.key"
    key_file.write_text("stic_b\n")
    no_state = SimpleNamespace(state=SimpleNamespace())
    assert read_bootstrap_admin_key(no_state, SimpleNamespace(bootstrap_key_file=key_file)) == "stic_b"
    with pytest.raises(RuntimeError, match="bootstrap admin key"):
        read_bootstrap_admin_key(no_state, SimpleNamespace(bootstrap_key_file=tmp_path / "missing"))
