from choicelab.cli import main

raise SystemExit(main())
