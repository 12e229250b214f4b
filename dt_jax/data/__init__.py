"""Input pipeline: TFDS data sources -> validated examples -> training windows / eval sequences -> device batches."""
