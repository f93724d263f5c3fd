"""Statistics and the report's model: comparisons across windows, noise, significance, the leaderboard, trends and learning curves."""
