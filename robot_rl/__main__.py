"""``python -m robot_rl`` runs the command line."""

from robot_rl.cli import main

raise SystemExit(main())
