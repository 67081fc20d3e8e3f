from trackside.agent.cli import main

raise SystemExit(main())
