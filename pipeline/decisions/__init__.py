"""What the scores decide: the leaderboard, the champion, the retrain gate."""
