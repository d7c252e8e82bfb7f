"""The SQS adapter of the queue port (boto3); import it only when ``PSP_QUEUE_BACKEND=sqs``."""
