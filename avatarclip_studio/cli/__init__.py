"""The ``avatarclip-studio`` command line: the same pipeline as the app, headless."""
