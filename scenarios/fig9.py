"""Figure 9 of the Gavel paper as a sweep: `python -m scenarios.fig9 [--seeds 0] [--quick]`."""

from scenarios import main

if __name__ == "__main__":
    main("fig9")
