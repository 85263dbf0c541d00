"""Figure 10 of the Gavel paper as a sweep: `python -m scenarios.fig10 [--seeds 0] [--quick]`."""

from scenarios import main

if __name__ == "__main__":
    main("fig10")
