"""The command line: `meshgrade grade`, `batch`, `gradebook`, `watch` and the rest."""
