from breachdash.cli import main

raise SystemExit(main())
