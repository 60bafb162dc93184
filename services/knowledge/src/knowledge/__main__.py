from knowledge.bootstrap import main

raise SystemExit(main())
