"""The one live-view mechanism of nbml: a figure drawn again and again, shown in place.

``LiveFigure`` owns one ``matplotlib.figure.Figure`` (made without pyplot, reused for every
redraw: axes are cleared, not recreated) and publishes its PNG to wherever it is shown:

- ``widget()``: an ``ipywidgets.Image`` created once, whose ``value`` is replaced (panels);
- ``show()``: a display with a display id, updated with ``handle.update`` (loss curves and
  search progress printed from training code).

Both at once work too. There is no ``clear_output``, so nothing flickers and no figures pile
up. ``draw(fn, ...)`` draws from scratch; ``update(plot, ...)`` gives new data to the artists
of an ``nbml.plots.artists.InPlacePlot`` and renders once (only the changed artists, over a
cached picture of the rest, when the axes did not change). Both are throttled: at most
every ``min_interval`` seconds and about ``max_share`` of the wall time; a skipped draw is
remembered and ``flush()`` (called at the end of a run) draws the latest one. ``force=True`` draws now.

IPython and ipywidgets are imported only when the figure is shown.
"""
from __future__ import annotations

import io
import math
import struct
import threading
import time
import zlib

import numpy as np

from nbml.errors import NbmlError
from nbml.plots.artists import DATA, FULL, OVERLAY
from nbml.plots.artists import wipe as _wipe


def png_bytes(figure, dpi: int = 72) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def canvas_png(canvas) -> bytes:
    """The Agg canvas's RGBA pixels as PNG, written directly: no row filters and zlib level 1
    (a live view's picture is replaced within seconds; on a plot this is ~8x faster than
    Pillow's encoder at about the same size)."""
    pixels = np.asarray(canvas.buffer_rgba())
    height, width, _ = pixels.shape
    rows = np.empty((height, 1 + width * 4), dtype=np.uint8)
    rows[:, 0] = 0  # filter type 'none' for every row
    rows[:, 1:] = pixels.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"".join((b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows, 1)), _chunk(b"IEND", b"")))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


class LiveFigure:
    """A reusable figure with ``ncols`` axes, rendered to PNG and updated in place.

    ``draw(fn, *args)`` clears the axes, calls ``fn(axes, *args)`` (``fn`` draws; it may also
    use ``axes[0].figure``) and publishes the PNG; it returns True when it drew, False when
    the throttle deferred it.
    """

    def __init__(self, ncols: int = 1, figsize=(4.0, 3.2), dpi: int = 72, min_interval: float = 0.0,
                 max_share: float | None = None, layout: str | None = None, reuse_axes: bool = True,
                 margins: dict | None = None):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if not isinstance(ncols, int) or ncols < 1:
            raise NbmlError(f"ncols={ncols!r} must be a positive integer")
        if min_interval < 0:
            raise NbmlError(f"min_interval={min_interval!r} must be >= 0 seconds")
        if max_share is not None and not 0 < max_share <= 1:
            raise NbmlError(f"max_share={max_share!r} must be in (0, 1] or None")
        if layout not in (None, "constrained", "tight"):
            raise NbmlError(f"layout={layout!r} is not allowed: use None (fixed margins, fastest), "
                            f"'constrained' or 'tight'")
        self.figure = Figure(figsize=figsize, dpi=dpi, layout=layout)
        FigureCanvasAgg(self.figure)
        self.axes = list(self.figure.subplots(1, ncols, squeeze=False)[0])
        if layout is None:
            self.figure.subplots_adjust(**{"left": 0.2, "right": 0.96, "bottom": 0.15, "top": 0.9,
                                           "wspace": 0.3, **(margins or {})})
        self.reuse_axes = reuse_axes
        self.dpi = dpi
        self.min_interval = min_interval
        self.max_share = max_share
        self.png: bytes | None = None
        self.n_draws = 0
        self.draw_time = 0.0  # seconds spent drawing and rendering, in total
        self.image = None   # ipywidgets.Image, once widget() was called
        self.handle = None  # IPython DisplayHandle, once show() was called
        self._next = -math.inf
        self._pending = None
        self._plots: dict = {}  # id(axes) -> the InPlacePlot shown there
        self._base = self._middle = None  # pictures without the in-place plots' artists / without overlays
        self._lock = threading.RLock()

    # -- drawing -------------------------------------------------------------------------
    def draw(self, fn, *args, force: bool = False) -> bool:
        """Clear the axes, call ``fn(axes, *args)``, render and publish (throttled)."""
        with self._lock:
            now = time.perf_counter()
            if not self._due(now, force, ("draw", fn, args)):
                return False
            for ax in self.axes:
                _wipe(ax) if self.reuse_axes else ax.clear()
                ax.set_axis_on()
                ax.set_aspect("auto")  # images and ROC curves set 'equal'; the next plot may not want it
            # titles and colorbars live outside the axes: blank or drop what a previous draw added
            for text in self.figure.texts:
                text.set_text("")
            for extra in [a for a in self.figure.axes if a not in self.axes]:
                extra.remove()
            for plot in self._plots.values():  # their artists are gone: the next update builds them again
                plot.ready = False
            self._plots = {}
            fn(self.axes, *args)
            self._finish(now, force, self._render(FULL))
            return True

    def update(self, plot, *data, force: bool = False) -> bool:
        """Show ``data`` with ``plot`` (an ``nbml.plots.artists.InPlacePlot`` on one of this
        figure's axes): its artists get the new data and the figure renders once, redrawing
        only what the plot says changed over cached pictures of the rest. Throttled like
        ``draw``."""
        with self._lock:
            now = time.perf_counter()
            if not self._due(now, force, ("update", plot, data)):
                return False
            level = plot.update(*data)
            self._plots[id(plot.ax)] = plot
            self._finish(now, force, self._render(level))
            return True

    def _due(self, now, force, call) -> bool:
        if not force and now < self._next:
            self._pending = call
            return False
        self._pending = None
        return True

    def _finish(self, started, force, png):
        self.png = png
        self.n_draws += 1
        took = time.perf_counter() - started
        self.draw_time += took
        if not force:  # forced draws (a run's first and last) do not hold back the next one
            wait = self.min_interval
            if self.max_share is not None:
                wait = max(wait, took / self.max_share - took)
            self._next = time.perf_counter() + wait
        self._publish(self.png)

    def _render(self, level: int) -> bytes:
        """PNG of the figure, redrawing only ``level`` (``nbml.plots.artists``): ``FULL`` draws
        everything but the in-place plots' artists and keeps that picture, ``DATA`` restores it
        and draws their ``animated`` artists (keeping that picture too), ``OVERLAY`` restores
        the second picture; their ``overlay`` artists are drawn last, every time."""
        canvas, box = self.figure.canvas, self.figure.bbox
        animated = [a for plot in self._plots.values() for a in plot.animated]
        overlay = [a for plot in self._plots.values() for a in plot.overlay]
        if level < OVERLAY and self._middle is not None and self.png is not None:
            return self.png  # nothing changed: the same picture
        if level >= FULL or self._base is None:
            canvas.draw()  # animated artists are skipped here...
            self._base, level = canvas.copy_from_bbox(box), FULL
        if level >= DATA or self._middle is None:
            if level < FULL:
                canvas.restore_region(self._base)
            self._draw_artists(animated)  # ...and drawn here, on top
            self._middle = canvas.copy_from_bbox(box)
        else:
            canvas.restore_region(self._middle)
        self._draw_artists(overlay)
        return canvas_png(canvas)

    def _draw_artists(self, artists):
        for artist in artists:
            if artist.get_visible():
                self.figure.draw_artist(artist)

    def flush(self) -> bool:
        """Draw the latest deferred ``draw`` or ``update`` call, if any."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is None:
            return False
        how, what, args = pending
        if how == "draw":
            return self.draw(what, *args, force=True)
        return self.update(what, *args, force=True)

    # -- showing -------------------------------------------------------------------------
    def widget(self, width: str | None = None):
        """The ``ipywidgets.Image`` showing this figure (created on first use)."""
        if self.image is None:
            import ipywidgets as widgets

            self.image = widgets.Image(value=self.png or b"", format="png")
            if width:
                self.image.layout.width = width
        return self.image

    def show(self):
        """Display the figure once (with a display id); later draws update that output."""
        from IPython.display import display

        if self.handle is None:
            self.handle = display(self._ipython_image(), display_id=True)
        else:
            self.handle.update(self._ipython_image())
        return self.handle

    def _ipython_image(self):
        from IPython.display import Image

        if self.png is None:
            self.png = png_bytes(self.figure, self.dpi)
        return Image(data=self.png, format="png")

    def _publish(self, png: bytes):
        if self.image is not None:
            self.image.value = png
        if self.handle is not None:
            self.handle.update(self._ipython_image())


STATUS_COLORS = {"ok": "#2e7d32", "busy": "#8a6d00", "error": "#b00020"}
STATUS_ICONS = {"ok": "✔", "busy": "⏳", "error": "⚠"}


def status_html(state: str, text: str, escape: bool = True) -> str:
    """A panel's one-line status (ok / busy / error), coloured, with its icon."""
    import html

    shown = html.escape(text) if escape else text
    return (f"<span class='nbml-status nbml-{state}' style='color:{STATUS_COLORS[state]}'>{STATUS_ICONS[state]} "
            f"{shown}</span>")
