"""The install files: requirements.txt (local installs, PyPI only, no slow extra index) and the Pipfile
(Streamlit Community Cloud, torch from the PyTorch CPU index) list the same packages and versions."""
import re
import tomllib

from conftest import ROOT


def _requirements() -> dict[str, str]:
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"requirements.txt must not carry pip options (each index is retried per package): {line}"
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", line).groups()
        out[name.lower()] = spec.replace(" ", "")
    return out


def test_pipfile_and_requirements_list_the_same_packages():
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())
    packages = {name.lower(): (spec["version"] if isinstance(spec, dict) else spec).replace(" ", "")
                for name, spec in pipfile["packages"].items()}
    assert packages == _requirements()


def test_cloud_takes_torch_cpu_from_the_pytorch_index():
    pipfile = tomllib.loads((ROOT / "Pipfile").read_text())
    sources = {s["name"]: s["url"] for s in pipfile["source"]}
    torch = pipfile["packages"]["torch"]
    assert torch["version"] == "==2.13.0"
    assert sources[torch["index"]] == "https://download.pytorch.org/whl/cpu"
    assert pipfile["requires"]["python_version"] == "3.11"


def test_no_file_cloud_would_read_before_the_pipfile():
    # Cloud reads the first of uv.lock, Pipfile, environment.yml, requirements.txt, pyproject.toml
    assert not (ROOT / "uv.lock").exists()
    assert (ROOT / "Pipfile").exists()
