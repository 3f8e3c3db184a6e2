from __future__ import annotations

from pathlib import Path

import pytest

from kubetwin.scenario import loader


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_multi_document_list_and_order(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "b/app.yaml",
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
# empty document below
---
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Pod, metadata: {name: p}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
""",
    )
    _write(tmp_path, "a/ng.yml", "apiVersion: kubetwin.io/v1alpha1\nkind: NodeGroup\nmetadata: {name: g}\n")
    _write(tmp_path, "notes.txt", "ignored")
    docs = loader.load(tmp_path)
    assert [d.kind for d in docs] == ["Namespace", "NodeGroup", "Deployment", "Pod"]
    assert docs[0].where.endswith("app.yaml (document 3)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("a: [1, 2\n", "invalid YAML", id="bad-yaml"),
        pytest.param("- 1\n- 2\n", "expected a mapping", id="not-a-mapping"),
        pytest.param("kind: Pod\nmetadata: {name: x}\n", "Object 'Kind' or 'apiVersion' is missing", id="no-apiversion"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    f = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(loader.ManifestError) as e:
        loader.load(tmp_path)
    assert str(f) in str(e.value)
    assert message in str(e.value)


def test_missing_path_and_empty_dir(tmp_path: Path) -> None:
    with pytest.raises(loader.ManifestError, match="no such file"):
        loader.load(tmp_path / "nope")
    with pytest.raises(loader.ManifestError, match="no \\*.yaml"):
        loader.load(tmp_path)
