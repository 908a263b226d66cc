"""Start the AvatarCLIP Studio app: ``python main.py [RUN_DIR]``."""

import sys

from avatarclip_studio.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main(["app", *sys.argv[1:]]))
