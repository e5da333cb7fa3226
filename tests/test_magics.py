"""The magics in a real IPython shell: %load_ext, %split, %%train, %train, %evaluate, %config."""
import subprocess
import sys
import textwrap

from IPython.core.error import UsageError

import nbml


def test_split_train_evaluate_round_trip(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    cell = run("%split cancer --target target --seed 1")
    assert cell.error is None
    assert isinstance(cell.value, nbml.Split) and ip.user_ns["_"] is cell.value
    assert "rows" in cell.out and "target=1" in cell.out
    cell = run("%%train -o lr --cv 3\nfrom sklearn.linear_model import LogisticRegression\nC = 0.5\n"
               "LogisticRegression(C=C, max_iter=300)")
    assert cell.error is None, cell.err
    lr = ip.user_ns["lr"]
    assert isinstance(lr, nbml.TrainResult) and len(lr.cv) == 3 and lr.params["C"] == 0.5
    assert ip.user_ns["C"] == 0.5  # the cell ran in the user namespace
    assert "validation" in cell.out and "±" in cell.out
    cell = run("%evaluate lr --on test --plots roc,cm")
    assert cell.error is None and cell.value.on == "test" and cell.value.plots == ("roc", "cm")


def test_line_form_with_spaces_in_the_expression(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    cell = run("from sklearn.ensemble import RandomForestClassifier\n"
               "%train RandomForestClassifier(n_estimators=10, max_depth=3) -o rf")
    assert cell.error is None, cell.err
    assert ip.user_ns["rf"].params["max_depth"] == 3


def test_semicolon_silences_output(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target")
    run("from sklearn.linear_model import LogisticRegression")
    cell = run("%train LogisticRegression(max_iter=300) -o quiet;")
    assert cell.error is None and cell.out.strip() == ""
    assert isinstance(ip.user_ns["quiet"], nbml.TrainResult)


def test_config_sets_defaults(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    run("%config Nbml.cv = 4")
    run("%config Nbml.seed = 11")
    run("%split cancer --target target")
    assert nbml.active_split().seed == 11
    r = run("%train LogisticRegression(max_iter=300)").value
    assert len(r.cv) == 4 and r.seed == 11
    run("%config Nbml.plots = False")
    assert nbml.options.plots is False
    run("%config Nbml.plots = True")
    assert nbml.options.plots is True


def test_help_is_generated_from_arguments(ip):
    for name in ("split", "train", "evaluate"):
        doc = ip.find_line_magic(name).__doc__
        assert f"%{name} " in doc and "-o" in doc
    assert "--epochs" in ip.find_cell_magic("train").__doc__


def test_unload_removes_every_magic(shell):
    shell.run_line_magic("unload_ext", "nbml")
    try:
        assert shell.find_line_magic("split") is None and shell.find_cell_magic("train") is None
        assert not any(type(c).__name__ == "Nbml" for c in shell.configurables)
    finally:
        shell.run_line_magic("load_ext", "nbml")
    assert shell.find_line_magic("split") is not None


def test_no_magic_shadows_an_ipython_builtin():
    from IPython.core.interactiveshell import InteractiveShell

    from nbml.magics import FAMILIES

    fresh = InteractiveShell.instance()
    ours = {name for fam in FAMILIES for kind in fam.magics.values() for name in kind}
    builtin = set()
    for instance in fresh.magics_manager.registry.values():
        if type(instance) not in FAMILIES:
            for kind in instance.magics.values():
                builtin |= set(kind)
    assert not ours & builtin


def test_load_ext_is_fast_and_imports_neither_torch_nor_optuna():
    code = textwrap.dedent("""
        import sys, time
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        start = time.perf_counter()
        ip.run_line_magic("load_ext", "nbml")
        took = time.perf_counter() - start
        heavy = [m for m in ("torch", "optuna", "sklearn", "pandas", "matplotlib") if m in sys.modules]
        print(took, ",".join(heavy))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    took = float(out[0])
    assert took < 0.5, f"%load_ext nbml took {took:.3f} s"
    assert len(out) == 1, f"%load_ext nbml imported {out[1]}"
    assert UsageError  # (imported for the reader: user mistakes surface as UsageError)


def test_semicolon_keeps_result_in_underscore(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target;")
    cell = run("%%train\nLogisticRegression(max_iter=300);")
    assert cell.error is None and cell.out.strip() == ""
    assert isinstance(ip.user_ns["_"], nbml.TrainResult)


def test_config_sets_drift_and_log_settings(run):
    from nbml.deployment.log import LOG_SETTINGS
    from nbml.deployment.monitoring import THRESHOLDS

    before = dict(THRESHOLDS), dict(LOG_SETTINGS)
    try:
        run("%config Nbml.drift_psi = 0.31")
        run("%config Nbml.log_max_rows = 77")
        assert THRESHOLDS["psi"] == 0.31 and LOG_SETTINGS["max_rows"] == 77
    finally:
        run(f"%config Nbml.drift_psi = {before[0]['psi']}")
        run(f"%config Nbml.log_max_rows = {before[1]['max_rows']}")


def test_evaluate_interactive_returns_the_toggle_widget(run, ip, cancer):
    ip.user_ns["cancer"] = cancer
    run("%split cancer --target target\nfrom sklearn.linear_model import LogisticRegression")
    run("%train LogisticRegression(max_iter=300) -o lr")
    cell = run("%evaluate lr --interactive --plots roc,cm -o ev")
    assert cell.error is None, cell.err
    assert type(cell.value).__name__ == "VBox" and ip.user_ns["ev"].plots == ("roc", "cm")


def test_config_storage_sets_the_store(run, tmp_path):
    from nbml import store

    before = store.default_url()
    try:
        run(f"%config Nbml.storage = '{tmp_path / 'other.db'}'")
        assert "other.db" in store.default_url()
    finally:
        run("%config Nbml.storage = ''")
    assert store.default_url() == before
