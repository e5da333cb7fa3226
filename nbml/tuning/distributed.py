"""Running candidate fits on a Dask cluster (``scheduler=ADDRESS``) through joblib's dask backend."""
from __future__ import annotations

import contextlib

from nbml.errors import NbmlError

# how long to wait for a scheduler to answer
CONNECT_TIMEOUT = "10s"


@contextlib.contextmanager
def dask_backend(scheduler):
    """Connect to ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``, or a
    ``distributed.Client``) and make it joblib's backend inside the block; yields the
    number of worker threads. A client this function opened is closed again."""
    try:
        import joblib
        from distributed import Client
    except ImportError:
        raise NbmlError("scheduler= needs dask.distributed: pip install 'dask[distributed]'") from None
    own = None
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise NbmlError(f"scheduler={scheduler!r} is not a Dask scheduler address; use e.g. "
                            f"'tcp://127.0.0.1:8786'")
        try:
            client = own = Client(scheduler.strip(), timeout=CONNECT_TIMEOUT, set_as_default=False)
        except OSError as exc:
            raise NbmlError(f"could not reach the Dask scheduler at {scheduler!r}: {exc}") from None
    try:
        workers = sum(client.nthreads().values())
        if workers == 0:
            raise NbmlError(f"the Dask scheduler at {client.scheduler.address} has no workers")
        with client.as_current(), joblib.parallel_config(backend="dask", client=client):
            yield workers
    finally:
        if own is not None:
            own.close()
