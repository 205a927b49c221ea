"""budgetdoc training side: annotation corpus, synthetic documents, training, evaluation."""
