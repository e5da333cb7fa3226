"""``%deploy`` (safe package), ``%serve`` (HTTP service) and ``%drift`` (drift report)."""
from __future__ import annotations

import os

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class DeployMagics(NbmlMagicsBase):
    def _model(self, text: str):
        """A variable (TrainResult or Package) if the name is defined, else a package path."""
        text = text.strip().strip("'\"")
        if text.isidentifier() and text in self.shell.user_ns:
            return self.shell.user_ns[text]
        if os.path.isdir(os.path.expanduser(text)):
            return os.path.expanduser(text)
        raise UsageError(f"{text!r} is neither a variable of the notebook (a result from %%train -o NAME) nor a "
                         f"package folder (from %deploy NAME PATH)")

    @magic_arguments(name="deploy")
    @argument("name", help="the TrainResult to package (from %%train -o NAME)")
    @argument("path", help="folder to write the package to")
    @argument("--reference-rows", type=int, default=None,
              help="training rows kept as the drift baseline (default 5000; 0: none)")
    @argument("--docker", action="store_true",
              help="also write a Dockerfile, a pinned requirements.txt and nbml's wheel: docker build PATH serves it")
    @argument("-o", "--out", default=None, help="store the Package in this variable")
    @line_magic("deploy")
    def deploy_magic(self, line):
        """Package a trained result safely: skops (no pickle) for the pipeline, state_dict +
        layer spec for torch networks, and a model card (card.json). ``nbml.load(PATH)`` reads it.
        With $NBML_SIGNING_KEY set, the package is signed (signature.json). ``--docker``: the
        folder is also a container's build context (``python -m nbml serve`` in the image)."""
        from nbml.deployment.package import REFERENCE_ROWS, deploy

        args = self.parse(self.deploy_magic, line)
        result = self.lookup(args.name, "result")
        rows = REFERENCE_ROWS if args.reference_rows is None else args.reference_rows
        with self.errors(f"%deploy {args.name}"):
            package = deploy(result, args.path.strip("'\""), name=args.name, reference_rows=rows, docker=args.docker)
        files = ", ".join(sorted(p.name for p in package.path.iterdir()))
        signed = "signed with $NBML_SIGNING_KEY; " if package.signed else ""
        print(f"deployed {args.name} to {package.path} ({signed}{files})")
        if args.docker:
            print(f"container: docker build -t {args.name.lower()} {package.path} && docker run -p 8000:8000 "
                  f"{args.name.lower()}")
        return self.finish(package, args.out, self.silenced(line))

    @magic_arguments(name="serve")
    @argument("source", nargs="?", default=None, help="a result/package variable or a package folder")
    @argument("--port", "-p", type=int, default=None, help="port (default: a free one)")
    @argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    @argument("--allowed-hosts", default=None, metavar="H1,H2",
              help="Host names the service answers (default: localhost names and the bound address; '*': any)")
    @argument("--stop", action="store_true", help="stop the service of SOURCE (or, without SOURCE, all)")
    @argument("--no-log", action="store_true", help="do not log predictions to the store")
    @argument("-o", "--out", default=None, help="store the service handle in this variable")
    @line_magic("serve")
    def serve_magic(self, line):
        """Serve a model over HTTP in the background: POST /predict, GET /health, GET /metadata.
        ``%serve --stop`` stops it. With $NBML_SIGNING_KEY set, a package folder must carry
        that key's signature."""
        from nbml.deployment import service

        args = self.parse(self.serve_magic, line)
        if args.stop:
            return self._stop(service, args.source)
        if args.source is None:
            raise UsageError("missing the model: %serve NAME_OR_PATH (or %serve --stop)")
        source = self._model(args.source)
        with self.errors("%serve"):
            from nbml.deployment.package import Package
            from nbml.training import TrainResult

            if isinstance(source, TrainResult):  # served under its variable name
                source = Package.from_result(source, name=args.source.strip())
            handle = service.serve(source, port=args.port, host=args.host, log=not args.no_log,
                                   allowed_hosts=args.allowed_hosts)
        print(f"serving {handle.package.name} at {handle.url}  (POST {handle.url}/predict; %serve --stop stops it)")
        return self.finish(handle, args.out, self.silenced(line))

    def _stop(self, service, source):
        handles = service.running()
        if source is not None:
            text = source.strip()
            value = self.shell.user_ns.get(text) if text.isidentifier() else None
            handles = [h for h in handles if h is value or h.url == text or h.package.name == text
                       or (h.package.path is not None and os.path.abspath(text) == os.path.abspath(h.package.path))
                       or (value is not None and (h.source is value or h.package is value))]
            if not handles:
                raise UsageError(f"no running service matches {text!r}")
        if not handles:
            print("no service is running")
            return
        for handle in handles:
            handle.stop()
            print(f"stopped {handle.package.name} at {handle.url}")
        return

    @magic_arguments(name="drift")
    @argument("name", help="the model: a result/package variable or a package folder")
    @argument("data", nargs="?", default=None, help="DataFrame of new rows (with the target: performance too)")
    @argument("--log", action="store_true", help="compare the inputs in the prediction log instead of DATA")
    @argument("-o", "--out", default=None, help="store the DriftReport in this variable")
    @line_magic("drift")
    def drift_magic(self, line):
        """Drift of new data vs the training data: PSI and KS (numeric), chi-square (categorical),
        prediction and performance drift; a verdict per feature, most drifted first."""
        from nbml.deployment.monitoring import drift

        args = self.parse(self.drift_magic, line)
        model = self._model(args.name)
        if args.data is None and not args.log:
            raise UsageError("missing the new data: %drift NAME DF (or %drift NAME --log)")
        data = None if args.data is None else self.lookup(args.data, "DataFrame")
        with self.errors(f"%drift {args.name}"):
            report = drift(model, data, log=args.log)
        return self.finish(report, args.out, self.silenced(line))
