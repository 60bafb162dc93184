from scheduling.bootstrap import main

raise SystemExit(main())
