from cases.bootstrap import main

raise SystemExit(main())
