"""What the API and the workers share: errors, the job store, the object store."""
