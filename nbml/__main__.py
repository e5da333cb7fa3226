"""Command line: ``python -m nbml quickstart`` runs the quickstart notebook headless.

    python -m nbml quickstart [--output PATH]     execute notebooks/quickstart.ipynb
    python -m nbml run NOTEBOOK [--output PATH]   execute any notebook
    python -m nbml serve PATH [--port P] [--allowed-hosts H1,H2]   serve a deployed model over HTTP
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def find_notebook(name: str) -> Path:
    """``notebooks/NAME.ipynb`` from the working folder or the source checkout."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        path = base / "notebooks" / f"{name}.ipynb"
        if path.exists():
            return path
    raise SystemExit(f"nbml: notebooks/{name}.ipynb not found; run from the nbml checkout")


def execute(path: Path, output: Path | None = None, timeout: int = 600, kernel: str = "python3") -> Path:
    """Execute a notebook in a fresh kernel (cells run in its folder); write the result."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    output = output or path.with_name(path.stem + ".executed.ipynb")
    nbformat.write(nb, output)
    return output


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        from nbml.deployment.service import main as serve_main

        return serve_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m nbml", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    quick = sub.add_parser("quickstart", help="execute notebooks/quickstart.ipynb headless")
    quick.add_argument("--output", "-o", type=Path, default=None,
                       help="where to write the executed notebook (default: quickstart.executed.ipynb beside it)")
    run = sub.add_parser("run", help="execute a notebook headless")
    run.add_argument("notebook", type=Path)
    run.add_argument("--output", "-o", type=Path, default=None)
    sub.add_parser("serve", help="serve a deployed model: python -m nbml serve PATH --help")
    args = parser.parse_args(argv)

    path = find_notebook("quickstart") if args.command == "quickstart" else args.notebook
    if not path.exists():
        parser.error(f"{path} does not exist")
    start = time.perf_counter()
    try:
        out = execute(path, args.output)
    except Exception as exc:  # a failing cell: its error's last line is what matters
        import re

        text = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines()
                if line.strip() and not set(line.strip()) <= {"-"}]
        print(f"nbml: executing {path} failed: {text[-1] if text else type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"executed {path} in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
