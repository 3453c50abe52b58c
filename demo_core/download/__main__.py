from demo_core.download.cli import main

raise SystemExit(main())
