"""AvatarCLIP Studio: text to animated 3D avatars.

The pipeline core (every sub-package except ``ui``) never imports Qt.
"""

__version__ = "0.1.0"
