"""One module per AWS service: sqs, lambda_, producer (more arrive with later services)."""
