"""The left panel: the three texts, the preset, the guidance model and the run buttons."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from avatarclip_studio.guidance.base import PromptError, check_prompt

PRESETS = ("preview", "quality", "tiny")
EXAMPLES = {
    "shape": "a tall and skinny person",
    "appearance": "a firefighter",
    "motion": "a person is waving",
}


class PromptPanel(QWidget):
    """Emits ``generate_requested`` when Generate is pressed; the window decides what runs."""

    generate_requested = Signal()
    pause_requested = Signal()
    resume_requested = Signal()
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edits = {key: QLineEdit(self) for key in EXAMPLES}
        for key, edit in self.edits.items():
            edit.setPlaceholderText(f"e.g. {EXAMPLES[key]}")
            edit.setObjectName(f"{key}_prompt")
        self.preset = QComboBox(self)
        self.preset.addItems(PRESETS)
        self.preset.setToolTip(
            "preview: minutes on a CPU · quality: the paper's settings (GPU) · tiny: seconds"
        )
        self.guidance = QLabel("guidance: chosen when a run starts (CLIP if its weights are found)", self)
        self.guidance.setWordWrap(True)
        self.error = QLabel("", self)
        self.error.setObjectName("prompt_error")
        self.error.setStyleSheet("color: #d9534f")
        self.error.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Body shape", self.edits["shape"])
        form.addRow("Appearance", self.edits["appearance"])
        form.addRow("Motion", self.edits["motion"])
        form.addRow("Preset", self.preset)

        self.generate = QPushButton("Generate", self)
        self.pause = QPushButton("Pause", self)
        self.resume = QPushButton("Resume", self)
        self.stop = QPushButton("Stop", self)
        buttons = QHBoxLayout()
        for button in (self.generate, self.pause, self.resume, self.stop):
            buttons.addWidget(button)
        self.generate.clicked.connect(self.generate_requested)
        self.pause.clicked.connect(self.pause_requested)
        self.resume.clicked.connect(self.resume_requested)
        self.stop.clicked.connect(self.stop_requested)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.guidance)
        layout.addWidget(self.error)
        layout.addStretch(1)
        self.set_running(False)

    def prompts(self) -> dict[str, str]:
        """The checked texts; the motion text is optional (no motion stage without it).

        Raises :class:`PromptError` naming the empty or too long field, and shows it under the buttons.
        """
        try:
            prompts = {
                key: check_prompt(self.edits[key].text(), f"{key} prompt") for key in ("shape", "appearance")
            }
            if self.edits["motion"].text().strip():
                prompts["motion"] = check_prompt(self.edits["motion"].text(), "motion prompt")
        except PromptError as exc:
            self.error.setText(str(exc))
            raise
        self.error.clear()
        return prompts

    def set_prompts(self, prompts: dict[str, str]) -> None:
        for key, edit in self.edits.items():
            edit.setText(prompts.get(key, ""))

    def set_running(self, running: bool, paused: bool = False) -> None:
        """Enable the buttons that make sense now."""
        self.generate.setEnabled(not running)
        self.pause.setEnabled(running and not paused)
        self.resume.setEnabled(running and paused)
        self.stop.setEnabled(running)
        for edit in self.edits.values():
            edit.setReadOnly(running)
        self.preset.setEnabled(not running)
