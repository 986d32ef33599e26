"""The grading engine: the check catalogue and registry, rubrics, scoring, the run's
session and results."""
