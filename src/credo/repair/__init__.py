"""Credit repair plans: actions a subject can take and the score each would reach."""
