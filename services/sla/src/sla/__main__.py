from sla.bootstrap import main

raise SystemExit(main())
