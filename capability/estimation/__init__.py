"""Per-problem estimates (pure): pass@k, pass rates and ``-log p``, difficulty buckets,
problems whose trend disagrees with their bucket, and the result type of every interval."""
