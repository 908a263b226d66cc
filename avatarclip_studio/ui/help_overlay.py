"""The keyboard help shown over the 3D view (H or ?)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QWidget

SHORTCUTS = (
    ("Space", "play / pause the motion"),
    ("← / →", "previous / next frame"),
    ("F", "frame the avatar"),
    ("R", "reset the view"),
    ("H or ?", "show / hide this help"),
    ("Left drag", "orbit"),
    ("Right or middle drag", "pan"),
    ("Wheel", "zoom"),
    ("Ctrl+O", "open a run folder"),
    ("Ctrl+S", "save a screenshot"),
)


class HelpOverlay(QLabel):
    """A panel centred over ``over`` listing :data:`SHORTCUTS`; hidden until toggled.

    A frameless tool window rather than a child widget: the 3D view is a native GL window, which
    would cover any sibling widget drawn over it.
    """

    def __init__(self, over: QWidget) -> None:
        super().__init__(over)
        self.over = over
        self.setWindowFlags(
            Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowDoesNotAcceptFocus
        )
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        rows = "".join(
            f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in SHORTCUTS
        )
        self.setText(f"<h3>Shortcuts</h3><table>{rows}</table>")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setStyleSheet("background: rgb(28, 29, 33); color: white; padding: 14px;")
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        self.adjustSize()
        corner = QPoint((self.over.width() - self.width()) // 2, (self.over.height() - self.height()) // 2)
        self.move(self.over.mapToGlobal(corner))
        self.show()
        self.raise_()
