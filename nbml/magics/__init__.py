"""IPython magics: parse arguments, call core, return the result object.

Each family lives in its own module; ``register`` adds them all to a shell together with
the ``Nbml`` configurable behind ``%config Nbml.<option>``. Nothing heavy is imported
here: core modules load on a magic's first use.
"""
from __future__ import annotations

from nbml.magics.common import keep_traceback
from nbml.magics.config import Nbml
from nbml.magics.data import DataMagics
from nbml.magics.eda import EdaMagics
from nbml.magics.train import TrainMagics
from nbml.magics.tune import TuneMagics
from nbml.magics.panel import PanelMagics
from nbml.magics.deploy import DeployMagics
from nbml.magics.explore import ExploreMagics
from nbml.magics.labels import LabelMagics
from nbml.magics.finalize import FinalizeMagics
from nbml.magics.fairness import FairnessMagics
from nbml.magics.automl import AutoMLMagics

FAMILIES = [DataMagics, TrainMagics, TuneMagics, EdaMagics, PanelMagics, DeployMagics, ExploreMagics,
            LabelMagics, FinalizeMagics, FairnessMagics, AutoMLMagics]


def register(shell) -> None:
    if any(isinstance(c, Nbml) for c in shell.configurables):
        return  # already loaded
    config = Nbml(parent=shell)
    shell.configurables.append(config)
    for family in FAMILIES:
        shell.register_magics(family(shell, config=config))
    shell.events.register("post_run_cell", keep_traceback)  # %tb after a one-line error


def unregister(shell) -> None:
    if keep_traceback in shell.events.callbacks["post_run_cell"]:
        shell.events.unregister("post_run_cell", keep_traceback)
    manager = shell.magics_manager
    for family in FAMILIES:
        instance = manager.registry.pop(family.__name__, None)
        if instance is None:
            continue
        for kind, names in instance.magics.items():
            for name in names:
                manager.magics[kind].pop(name, None)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, Nbml)]
