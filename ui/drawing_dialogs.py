"""Editing a drawing's colour and label: the dialogs the chart's context menu and the drawings
dock share (module functions, so tests can stand in for the modal dialogs)."""

from __future__ import annotations

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog, QLineEdit, QWidget

from models.drawings import LABEL_MAX, DrawingBook
from ui import theme


def ask_color(parent: QWidget | None, initial: str) -> str | None:
    """A colour as "#rrggbb", or None when the dialog is cancelled."""
    color = QColorDialog.getColor(QColor(initial), parent, "Drawing colour")
    return color.name() if color.isValid() else None


def ask_text(parent: QWidget | None, title: str, prompt: str, initial: str) -> str | None:
    """A line of text (cut to the label limit), or None when cancelled."""
    text, ok = QInputDialog.getText(parent, title, prompt, QLineEdit.EchoMode.Normal, initial)
    return text.strip()[:LABEL_MAX] if ok else None


def edit_color(book: DrawingBook, drawing_id: str, parent: QWidget | None) -> bool:
    drawing = book.get(drawing_id)
    if drawing is None:
        return False
    color = ask_color(parent, drawing.color or theme.SECONDARY)
    if color is None:
        return False
    book.edit(drawing_id, color=color)
    return True


def edit_label(book: DrawingBook, drawing_id: str, parent: QWidget | None) -> bool:
    drawing = book.get(drawing_id)
    if drawing is None:
        return False
    text = ask_text(parent, "Label", "Label of the drawing:", drawing.label)
    if text is None:
        return False
    book.edit(drawing_id, label=text)
    return True
