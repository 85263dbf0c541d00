"""Figure 11 of the Gavel paper as a sweep: `python -m scenarios.fig11 [--seeds 0] [--quick]`."""

from scenarios import main

if __name__ == "__main__":
    main("fig11")
