"""Results and the trainer contract: result rows and the CSV, where files live, names, how a trial reports, and when a trained trial may be reused."""
