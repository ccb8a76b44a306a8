"""Qt only: the main window, dock panels, chart pieces and the worker scheduler.

PySide6 is the one Qt binding: pin it for pyqtgraph (and anything using qtpy) before either is
imported, so another binding installed on the machine can never be picked up by accident.
"""

import os

os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
