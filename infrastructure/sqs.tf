# payables: the outbox relay publishes "transaction.approved" events here; `psp worker payables`
# consumes them. After var.queue_max_receive_count failed deliveries SQS moves a message to the DLQ,
# where it waits (14 days) for an operator: any message there raises the DLQ alarm.

resource "aws_sqs_queue" "payables_dlq" {
  name                              = "${local.name}-payables-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.psp.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "payables" {
  name                              = "${local.name}-payables"
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = 345600
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = aws_kms_key.psp.arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.payables_dlq.arn
    maxReceiveCount     = var.queue_max_receive_count
  })
}

# Only the payables queue may dead-letter into this DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "payables_dlq" {
  queue_url = aws_sqs_queue.payables_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.payables.arn]
  })
}

# Failed EventBridge Scheduler invocations (e.g. RunTask throttled) land here instead of vanishing.
resource "aws_sqs_queue" "scheduler_dlq" {
  name                              = "${local.name}-scheduler-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.psp.arn
  kms_data_key_reuse_period_seconds = 300
}

data "aws_iam_policy_document" "queue_tls_only" {
  for_each = {
    payables      = aws_sqs_queue.payables.arn
    payables_dlq  = aws_sqs_queue.payables_dlq.arn
    scheduler_dlq = aws_sqs_queue.scheduler_dlq.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "tls_only" {
  for_each = {
    payables      = aws_sqs_queue.payables.id
    payables_dlq  = aws_sqs_queue.payables_dlq.id
    scheduler_dlq = aws_sqs_queue.scheduler_dlq.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.queue_tls_only[each.key].json
}
