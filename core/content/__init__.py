"""Long prose kept as data: page summaries, learning paths, quizzes."""
