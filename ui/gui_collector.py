"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs on whichever thread happens to allocate when a threshold is
crossed, often a worker. If the garbage it finds holds a Qt object that Python owns (a panel or
store of a closed window, anything in a reference cycle), that object's C++ destructor runs on the
worker. Seen here: a worker destroying a QObject waited for the GIL inside `~QObject` while
holding Qt's connection lock, and the GUI thread, holding the GIL, waited for that lock while
deleting a menu: both froze (py-spy, a test run under load). Qt objects must die on their own
thread, so automatic collection is switched off and this collector runs it from a GUI timer,
generation by generation, with the thresholds Python would have used.

Plain reference counting still frees everything that is not in a cycle at once, on any thread.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer

log = logging.getLogger(__name__)

INTERVAL_MS = 500  # a young generation of ~700 objects fills in far less; checks are cheap


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> int | None:
        """Collect the oldest generation whose count is over its threshold (as Python would)."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        for generation in (2, 1, 0):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                gc.collect(generation)
                return generation
        return None

    def stop(self) -> None:
        self._timer.stop()
        if self._was_enabled:
            gc.enable()


_collector: GuiThreadCollector | None = None


def collect_on_gui_thread() -> GuiThreadCollector:
    """Install the collector once per application (call on the GUI thread)."""
    global _collector
    app = QCoreApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        raise RuntimeError("collect_on_gui_thread() needs the application, on its thread")
    if _collector is None or _collector.parent() is not app:
        _collector = GuiThreadCollector(app)
    return _collector
