from avatarclip_studio.cli.main import main

raise SystemExit(main())
