from intake.bootstrap import main

raise SystemExit(main())
