"""The exit codes of every `bolwerk` command, defined once (README, "Exit codes")."""

EXIT_OK = 0  # ran, and (for the gate) passed
EXIT_POLICY = 1  # the policy failed (the gate's verdict)
EXIT_INPUT = 2  # usage or input error, told in one line
EXIT_UNSCANNED = 3  # could not scan (nothing answered, or required checks could not run)
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT
