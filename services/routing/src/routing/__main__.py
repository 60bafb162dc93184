from routing.bootstrap import main

raise SystemExit(main())
