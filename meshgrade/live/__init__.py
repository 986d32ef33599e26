"""Live grading: opening the lab or a cluster for a run, and applying routing stages to it."""
