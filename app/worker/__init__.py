"""The worker process: ``python -m app.worker`` runs the gateway's background jobs from the Redis queue."""
