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

# webhooks: the outbox relay publishes public events (transaction.approved, payable.paid, ...) here;
# `psp worker webhooks` fans each one out into deliveries in the database and deletes the message, so
# the queue holds only events not yet fanned out (retries of a delivery live in the database, not here).
# Same settings as the payables pair: PSP_WORKER_VISIBILITY_TIMEOUT and PSP_WORKER_MAX_RECEIVES apply
# to both.
resource "aws_sqs_queue" "webhooks_dlq" {
  name                              = "${local.name}-webhooks-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.psp.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "webhooks" {
  name                              = "${local.name}-webhooks"
  visibility_timeout_seconds        = var.queue_visibility_timeout_seconds
  message_retention_seconds         = 345600
  receive_wait_time_seconds         = 20
  kms_master_key_id                 = aws_kms_key.psp.arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.webhooks_dlq.arn
    maxReceiveCount     = var.queue_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "webhooks_dlq" {
  queue_url = aws_sqs_queue.webhooks_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.webhooks.arn]
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
    webhooks      = aws_sqs_queue.webhooks.arn
    webhooks_dlq  = aws_sqs_queue.webhooks_dlq.arn
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
    webhooks      = aws_sqs_queue.webhooks.id
    webhooks_dlq  = aws_sqs_queue.webhooks_dlq.id
    scheduler_dlq = aws_sqs_queue.scheduler_dlq.id
  }

  queue_url = each.value
  policy    = data.aws_iam_policy_document.queue_tls_only[each.key].json
}
