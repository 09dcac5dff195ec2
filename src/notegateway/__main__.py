from notegateway.cli import main

raise SystemExit(main())
