"""Faults around packages (issue 15, items 1, 7, 12, 13 and 14): unwritable folders, a full disk,
a missing extra, a damaged card, an architecture that would allocate terabytes, and signed
packages. Each is refused in one line that names the file, the cause or the fix."""
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

import nbml
from nbml.deployment import UntrustedPackageError, deploy, load
from nbml.deployment import package as package_module
from nbml.deployment.service import main as serve_main
from nbml.errors import NbmlError

ROOT = Path(__file__).resolve().parent.parent
KEY = "k" * 32


def fix_hash(path, name):
    """What anyone can do to a package without the signing key: recompute a file's hash."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["sha256"][name] = package_module._sha256(path / name)
    (path / "manifest.json").write_text(json.dumps(manifest))


def python(script: str, env=None, timeout=240):
    """Run ``script`` in a fresh interpreter from the checkout; (exit code, stdout, stderr)."""
    env = {**os.environ, "NBML_STORE": "off", "MPLBACKEND": "Agg", **(env or {})}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def one_line(cell) -> str:
    message = str(cell.error)
    assert cell.error is not None and "\n" not in message and "Traceback" not in cell.err + cell.out, message
    return message


# -- item 7: writing where one cannot, a missing extra ---------------------------------------

def test_deploy_to_an_unwritable_folder_is_one_line(run, ip, iris_result):
    ip.user_ns["r"] = iris_result
    message = one_line(run("%deploy r /proc/pkg"))
    assert message.startswith("cannot write the package to '/proc/pkg'") and "give a folder you can write" in message
    assert "%tb" not in message


def test_deploy_into_a_path_through_a_file_leaves_nothing(iris_result, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NbmlError, match="cannot write the package"):
        deploy(iris_result, tmp_path / "file" / "pkg")
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


MISSING_EXTRA = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # as if the serve extra were not installed
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
ip = InteractiveShell.instance()
ip.run_line_magic("load_ext", "nbml")
ip.run_cell(
    "import nbml\\n"
    "from sklearn.datasets import load_iris\\n"
    "from sklearn.linear_model import LogisticRegression\\n"
    "split = nbml.split(load_iris(as_frame=True).frame, target='target', activate=False)\\n"
    "r = nbml.train(LogisticRegression(max_iter=500), split=split)\\n")
for line in {lines!r}:
    with capture_output() as cap:
        result = ip.run_cell(line)
    print("CELL", line, "->", repr(str(result.error_in_exec)), "| stderr lines:", len(cap.stderr.splitlines()))
"""


def test_without_the_serve_extra_deploy_and_serve_say_what_to_install(tmp_path, iris_result):
    deploy(iris_result, tmp_path / "pkg")
    lines = [f"%deploy r {tmp_path / 'new'}", f"%serve {tmp_path / 'pkg'} --no-log", "%serve r --no-log"]
    code, out, err = python(MISSING_EXTRA.format(blocked=["skops", "skops.io", "fastapi", "uvicorn"], lines=lines))
    assert code == 0, err
    cells = [line for line in out.splitlines() if line.startswith("CELL")]
    assert len(cells) == 3, out + err
    for cell in cells:
        assert "pip install 'nbml[serve]'" in cell and "stderr lines: 1" in cell, cell  # the one line itself
    assert "needs skops, which is not installed" in cells[0]
    assert "needs uvicorn, which is not installed" in cells[2]
    assert not (tmp_path / "new").exists()


def test_command_line_without_the_serve_extra_is_one_line(tmp_path, iris_result):
    deploy(iris_result, tmp_path / "pkg")
    code, out, err = python(f"""
        import sys
        sys.modules["uvicorn"] = None
        from nbml.__main__ import main
        sys.exit(main(["serve", {str(tmp_path / 'pkg')!r}, "--port", "0"]))
    """)
    assert code == 2 and err.strip().count("\n") == 0, err
    assert err.startswith("nbml serve: serving a model needs uvicorn") and "pip install 'nbml[serve]'" in err


# -- item 1: a failed deploy leaves nothing behind -----------------------------------------

def test_a_full_disk_mid_deploy_leaves_nothing_and_keeps_the_old_package(tmp_path):
    code, out, err = python(f"""
        import resource, signal, warnings
        from pathlib import Path
        warnings.simplefilter("ignore")
        import nbml
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        split = nbml.split(load_iris(as_frame=True).frame, target="target", activate=False)
        small = nbml.train(RandomForestClassifier(n_estimators=1, max_depth=1, random_state=0), split=split)
        big = nbml.train(RandomForestClassifier(n_estimators=50, random_state=0), split=split)
        root = Path({str(tmp_path)!r})
        nbml.deploy(small, root / "old")
        before = {{p.name: p.read_bytes() for p in (root / "old").iterdir()}}
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))
        for target in (root / "a" / "b" / "new", root / "old"):
            try:
                nbml.deploy(big, target)
            except ValueError as exc:
                print("REFUSED", exc)
        after = {{p.name: p.read_bytes() for p in (root / "old").iterdir()}}
        print("OLD KEPT", before == after, "LEFT", sorted(p.name for p in root.iterdir()))
    """)
    assert code == 0, err
    assert out.count("REFUSED cannot write the package to") == 2, out
    assert "OLD KEPT True LEFT ['old']" in out, out


# -- item 12: a damaged card, reference or manifest names its file --------------------------

@pytest.fixture
def package_dir(iris_result, tmp_path):
    deploy(iris_result, tmp_path / "pkg")
    return tmp_path / "pkg"


def edit_card(path, change):
    card = json.loads((path / "card.json").read_text())
    change(card)
    (path / "card.json").write_text(json.dumps(card))
    fix_hash(path, "card.json")


@pytest.mark.parametrize("change, words", [
    (lambda c: c.pop("schema"), "has no 'schema'"),
    (lambda c: c["schema"]["columns"][0].pop("kind"), "bad schema column 0: kind None"),
    (lambda c: c["schema"]["columns"][0].update(min="low"), "'min' is not a number"),
    (lambda c: c.update(task=None), "has no 'task'"),
])
def test_a_card_without_what_serving_reads_is_refused(package_dir, change, words, run):
    edit_card(package_dir, change)
    with pytest.raises(UntrustedPackageError, match=re.escape(f"{package_dir / 'card.json'} ") + ".*" + re.escape(words)):
        load(package_dir)
    assert words in one_line(run(f"%serve {package_dir} --no-log"))


def test_a_card_that_is_not_json_is_one_line_naming_the_file(package_dir, capsys):
    (package_dir / "card.json").write_text("{not json")
    fix_hash(package_dir, "card.json")
    with pytest.raises(UntrustedPackageError, match=r"card.json is not valid JSON \(Expecting property name"):
        load(package_dir)
    assert serve_main([str(package_dir), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(package_dir / "card.json") in err and "Traceback" not in err


def test_command_line_card_without_schema_is_one_line(package_dir, capsys):
    edit_card(package_dir, lambda c: c.pop("schema"))
    assert serve_main([str(package_dir), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nbml serve: refusing to load") and "card.json has no 'schema'" in err


def test_a_damaged_manifest_or_reference_names_its_file(package_dir):
    (package_dir / "reference.json").write_text("[1, 2")
    fix_hash(package_dir, "reference.json")
    with pytest.raises(UntrustedPackageError, match="reference.json is not a table of training rows"):
        load(package_dir)
    (package_dir / "manifest.json").write_text("{")
    with pytest.raises(UntrustedPackageError, match="manifest.json is not an nbml manifest"):
        load(package_dir)


# -- item 13: the architecture is checked against the weights before anything is built -------

@pytest.fixture
def net_dir(iris_result, tmp_path):
    pytest.importorskip("torch")
    result = nbml.train(nbml.TorchClassifier(hidden=(4,), epochs=2, seed=0), split=iris_result.split)
    deploy(result, tmp_path / "net")
    return tmp_path / "net"


def edit_architecture(path, change):
    spec = json.loads((path / "architecture.json").read_text())
    change(spec)
    (path / "architecture.json").write_text(json.dumps(spec))
    fix_hash(path, "architecture.json")


def test_a_terabyte_architecture_is_refused_before_anything_is_built(net_dir):
    import resource

    edit_architecture(net_dir, lambda s: s["layers"][0]["args"].update(in_features=10**6, out_features=10**6))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(UntrustedPackageError, match=r"it needs 1,000,001,000,\d+ numbers, module.pt holds \d+"):
        load(net_dir)
    assert time.perf_counter() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing large allocated


@pytest.mark.parametrize("change, words", [
    (lambda s: s["layers"][0]["args"].update(in_features=True), "in_features=true must be a positive integer"),
    (lambda s: s["layers"][0]["args"].update(device="cuda"), "Linear takes only in_features, out_features, bias"),
    (lambda s: s["layers"].append({"type": "Dropout", "args": {"p": "x"}}), "p=\"x\" must be a finite number"),
])
def test_architecture_arguments_are_checked(net_dir, change, words):
    edit_architecture(net_dir, change)
    with pytest.raises(UntrustedPackageError, match=words):
        load(net_dir)


# -- item 14: signed packages -----------------------------------------------------------------

def negate_coefficients(path):
    """The attack hashes cannot stop: a valid skops file with the model reversed, hash recomputed."""
    data = (path / "model.skops").read_bytes()
    model = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    model[-1].coef_ = -model[-1].coef_
    (path / "model.skops").write_bytes(sio.dumps(model))
    fix_hash(path, "model.skops")


def test_hashes_alone_do_not_stop_a_recomputed_hash(package_dir, iris_result):
    negate_coefficients(package_dir)
    X = iris_result.split.X_test
    assert not np.array_equal(load(package_dir).predict(X), iris_result.predict(X))  # loads silently


def test_a_signed_package_loads_with_its_key_and_is_refused_once_changed(iris_result, tmp_path):
    package = deploy(iris_result, tmp_path / "pkg", key=KEY)
    assert package.signed and (tmp_path / "pkg" / "signature.json").exists()
    loaded = load(tmp_path / "pkg", key=KEY)
    assert loaded.signed and np.array_equal(loaded.predict(iris_result.split.X_test),
                                            iris_result.predict(iris_result.split.X_test))
    with pytest.raises(UntrustedPackageError, match="signature does not match the key"):
        load(tmp_path / "pkg", key="another key of 32 characters....")
    negate_coefficients(tmp_path / "pkg")
    with pytest.raises(UntrustedPackageError, match="changed after it was signed, or signed with another key"):
        load(tmp_path / "pkg", key=KEY)
    (tmp_path / "pkg" / "signature.json").unlink()
    with pytest.raises(UntrustedPackageError, match=r"it is not signed \(signature.json is missing\)"):
        load(tmp_path / "pkg", key=KEY)


def test_the_key_comes_from_the_environment(iris_result, tmp_path, monkeypatch, run, ip, capsys):
    deploy(iris_result, tmp_path / "unsigned")
    monkeypatch.setenv("NBML_SIGNING_KEY", KEY)
    ip.user_ns["r"] = iris_result
    cell = run(f"%deploy r {tmp_path / 'signed'}")
    assert cell.error is None and "signed with $NBML_SIGNING_KEY" in cell.out
    assert load(tmp_path / "signed").signed
    message = one_line(run(f"%serve {tmp_path / 'unsigned'} --no-log"))
    assert "is not signed" in message
    assert serve_main([str(tmp_path / "unsigned"), "--port", "0"]) == 2
    assert "is not signed" in capsys.readouterr().err
    cell = run(f"%serve {tmp_path / 'signed'} --no-log -o signed_service")
    assert cell.error is None, str(cell.error)
    run("%serve signed_service --stop")


@pytest.mark.parametrize("key, error, words", [
    ("short", NbmlError, "key is too short to sign with"),
    (42, TypeError, "key must be a string or bytes"),
])
def test_bad_keys(iris_result, tmp_path, key, error, words):
    with pytest.raises(error, match=words):
        deploy(iris_result, tmp_path / "pkg", key=key)
    assert not (tmp_path / "pkg").exists()
