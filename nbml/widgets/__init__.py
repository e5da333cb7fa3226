"""Notebook widgets: the live tuning panel, interactive evaluation and the live-figure
mechanism every in-place view of nbml uses (``nbml.widgets.live.LiveFigure``)."""
from __future__ import annotations

from nbml.widgets.evaluation import interactive_evaluation
from nbml.widgets.explore import explore
from nbml.widgets.labels import review_panel as review_labels
from nbml.widgets.live import LiveFigure
from nbml.widgets.panel import Panel, panel

__all__ = ["LiveFigure", "Panel", "explore", "interactive_evaluation", "panel", "review_labels"]
