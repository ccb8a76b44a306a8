"""A row of controls that wraps onto a second line instead of widening its dock.

A dock's tool row of buttons and drop-downs laid out by `QHBoxLayout` asks for the sum of their
widths: eight such rows side by side made the window 1490 px wide at least, more than a
1366 px laptop (docs/window.md). `FlowLayout` lays the same widgets left to right and starts a
new line when one does not fit, so a row asks only for its widest control.

It takes the calls the panels' rows make of a `QHBoxLayout` (`addWidget(w, stretch)`,
`addSpacing`, `addStretch`, `addLayout`, `insertWidget`, `setSpacing`), so a panel switches by
changing one constructor. Rules:
- a widget with a horizontal stretch or an `Ignored` width (an elastic status label) takes the
  rest of its line, or a line of its own when less than `ELASTIC_MIN_WIDTH` is left;
- a stretch pushes what follows it to the right end of the line;
- a drop-down may be squeezed to `COMBO_MIN_WIDTH` (its text is elided) before the row wraps.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QLayout,
    QLayoutItem,
    QSizePolicy,
    QSpacerItem,
    QWidget,
    QWidgetItem,
)

#: the narrowest a drop-down is squeezed to before the row wraps
COMBO_MIN_WIDTH = 110
#: an elastic label left with less than this on a line moves to a line of its own
ELASTIC_MIN_WIDTH = 140


class _Stretch(QSpacerItem):
    """`addStretch`: fills the rest of the line (what follows goes to the right end)."""

    def __init__(self) -> None:
        super().__init__(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)


class FlowLayout(QLayout):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._stretch: list[int] = []
        self._hspacing = 4
        self._vspacing = 2
        self.setContentsMargins(0, 0, 0, 0)

    # -- the QHBoxLayout calls the panels make ------------------------------------------------
    def addWidget(self, widget: QWidget, stretch: int = 0,  # type: ignore[override]
                  alignment: Qt.AlignmentFlag | None = None) -> None:
        self.insertWidget(-1, widget, stretch)

    def insertWidget(self, index: int, widget: QWidget, stretch: int = 0) -> None:
        self.addChildWidget(widget)
        self._insert(index, QWidgetItem(widget), stretch)

    def addLayout(self, layout: QLayout, stretch: int = 0) -> None:
        self.addChildLayout(layout)
        self._insert(-1, layout, stretch)

    def addSpacing(self, size: int) -> None:
        self._insert(-1, QSpacerItem(size, 0, QSizePolicy.Policy.Fixed,
                                     QSizePolicy.Policy.Minimum), 0)

    def addStretch(self, stretch: int = 0) -> None:
        self._insert(-1, _Stretch(), stretch)

    def setSpacing(self, spacing: int) -> None:
        self._hspacing = spacing
        self.invalidate()

    def spacing(self) -> int:
        return self._hspacing

    def _insert(self, index: int, item: QLayoutItem, stretch: int) -> None:
        if index < 0 or index > len(self._items):
            index = len(self._items)
        self._items.insert(index, item)
        self._stretch.insert(index, stretch)
        self.invalidate()

    # -- QLayout ------------------------------------------------------------------------------
    def addItem(self, item: QLayoutItem) -> None:
        self._insert(-1, item, 0)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        self._stretch.pop(index)
        item = self._items.pop(index)
        self.invalidate()
        return item

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, apply=True)

    def sizeHint(self) -> QSize:
        """One line: the width of every control side by side."""
        items = self._shown()
        width = sum(self._preferred(i) for i, _s in items)
        width += self._hspacing * max(0, len(items) - 1)
        height = max((i.sizeHint().height() for i, _s in items), default=0)
        return self._with_margins(QSize(width, height))

    def minimumSize(self) -> QSize:
        """The widest single control: a narrower dock wraps the row."""
        items = self._shown()
        width = max((self._least(i) for i, _s in items), default=0)
        height = max((i.minimumSize().height() for i, _s in items), default=0)
        return self._with_margins(QSize(width, height))

    # -- placing ------------------------------------------------------------------------------
    def _shown(self) -> list[tuple[QLayoutItem, int]]:
        return [(item, s) for item, s in zip(self._items, self._stretch, strict=True)
                if not item.isEmpty() or isinstance(item, QSpacerItem)]

    def _with_margins(self, size: QSize) -> QSize:
        m = self.contentsMargins()
        return QSize(size.width() + m.left() + m.right(), size.height() + m.top() + m.bottom())

    @staticmethod
    def _is_elastic(item: QLayoutItem, stretch: int) -> bool:
        widget = item.widget()
        if widget is None:
            return False
        ignored = widget.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored
        return stretch > 0 or ignored

    @staticmethod
    def _preferred(item: QLayoutItem) -> int:
        widget = item.widget()
        if widget is not None and widget.sizePolicy().horizontalPolicy() == \
                QSizePolicy.Policy.Ignored:
            return 0  # an elastic label asks for nothing; it takes what is left
        return max(item.sizeHint().width(), item.minimumSize().width())

    @staticmethod
    def _least(item: QLayoutItem) -> int:
        widget = item.widget()
        if isinstance(widget, QComboBox):
            return min(item.minimumSize().width(), COMBO_MIN_WIDTH)
        if widget is not None and widget.sizePolicy().horizontalPolicy() == \
                QSizePolicy.Policy.Ignored:
            return 0
        return item.minimumSize().width()

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        """Place the items in lines within `rect`; the height used."""
        m = self.contentsMargins()
        area = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        width = max(1, area.width())
        lines: list[list[tuple[QLayoutItem, int, int]]] = [[]]  # (item, stretch, width)
        used = 0
        for item, stretch in self._shown():
            if isinstance(item, _Stretch):
                lines[-1].append((item, stretch, 0))
                continue
            gap = self._hspacing if lines[-1] else 0
            if self._is_elastic(item, stretch):
                left = width - used - gap
                if lines[-1] and left < min(ELASTIC_MIN_WIDTH, width):
                    lines.append([])
                    used, gap, left = 0, 0, width
                lines[-1].append((item, stretch, max(0, left)))
                used = width  # nothing follows an elastic label on its line
                continue
            want = min(self._preferred(item), width)
            if lines[-1] and used + gap + want > width:
                lines.append([])
                used, gap = 0, 0
            lines[-1].append((item, stretch, want))
            used += gap + want
        y = area.top()
        for line in lines:
            if not line:
                continue
            height = max(i.sizeHint().height() for i, _s, _w in line)
            taken = sum(w for _i, _s, w in line)
            spaces = self._hspacing * max(0, sum(1 for i, _s, _w in line
                                                if not isinstance(i, _Stretch)) - 1)
            spare = max(0, width - taken - spaces)
            stretches = [i for i, _s, _w in line if isinstance(i, _Stretch)]
            x = area.left()
            for item, _stretch, w in line:
                if isinstance(item, _Stretch):
                    x += spare // len(stretches)
                    continue
                if apply:
                    h = min(height, max(item.sizeHint().height(), item.minimumSize().height()))
                    top = y + (height - h) // 2
                    item.setGeometry(QRect(QPoint(x, top), QSize(w, h)))
                x += w + self._hspacing
            y += height + self._vspacing
        return y - self._vspacing - area.top() + m.top() + m.bottom()
