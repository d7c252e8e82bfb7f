resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.psp.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# --- API (ALB) -------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "api_5xx_rate" {
  alarm_name          = "${local.name}-api-5xx-rate"
  alarm_description   = "More than ${var.alarm_5xx_rate_percent}% of API requests answered 5xx (target or ALB) for 5 minutes (ignored under 50 requests/minute)."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_5xx_rate_percent
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "5xx %"
    expression  = "IF(requests >= 50, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = { LoadBalancer = aws_lb.api.arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "target5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.api.arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb5xx"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = aws_lb.api.arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_p99_latency" {
  alarm_name          = "${local.name}-api-p99-latency"
  alarm_description   = "API p99 response time above ${var.alarm_p99_latency_seconds}s for 5 minutes."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = { LoadBalancer = aws_lb.api.arn_suffix }
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_p99_latency_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_no_healthy_targets" {
  alarm_name          = "${local.name}-api-no-healthy-targets"
  alarm_description   = "No API task passes /readyz: the API is down."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.api.arn_suffix, TargetGroup = aws_lb_target_group.api.arn_suffix }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Queues ----------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "payables_dlq_depth" {
  alarm_name          = "${local.name}-payables-dlq-not-empty"
  alarm_description   = "A payables event failed ${var.queue_max_receive_count} deliveries and sits in the DLQ: an approved transaction has no payables yet. Inspect, fix, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.payables_dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "payables_oldest_message_age" {
  alarm_name          = "${local.name}-payables-oldest-message-age"
  alarm_description   = "The oldest payables event has waited over ${var.alarm_oldest_message_age_seconds}s: workers are down or falling behind."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.payables.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_oldest_message_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# PSP/OutboxBacklog (no dimensions): the number of outbox rows not yet relayed to SQS. `psp relay` logs a
# `relay.backlog` JSON line once a minute, busy or idle; this filter turns it into the metric, so the relay
# needs no CloudWatch API permission. Missing data is breaching: a relay that stopped logging stopped.
resource "aws_cloudwatch_log_metric_filter" "outbox_backlog" {
  name           = "${local.name}-outbox-backlog"
  log_group_name = aws_cloudwatch_log_group.task["relay"].name
  pattern        = "{ $.event = \"relay.backlog\" }"

  metric_transformation {
    namespace = "PSP"
    name      = "OutboxBacklog"
    value     = "$.outbox_backlog"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "outbox_backlog" {
  alarm_name          = "${local.name}-outbox-backlog"
  alarm_description   = "More than ${var.alarm_outbox_backlog} outbox events wait to be relayed (or the relay stopped reporting)."
  namespace           = "PSP"
  metric_name         = "OutboxBacklog"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_outbox_backlog
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Webhooks --------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "webhooks_dlq_depth" {
  alarm_name          = "${local.name}-webhooks-dlq-not-empty"
  alarm_description   = "A public event failed ${var.queue_max_receive_count} fan-outs and sits in the webhooks DLQ: merchants' endpoints will not hear of it. Inspect, fix, then redrive (fan-out is idempotent)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.webhooks_dlq.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "webhooks_oldest_message_age" {
  alarm_name          = "${local.name}-webhooks-oldest-message-age"
  alarm_description   = "The oldest event on the webhooks queue has waited over ${var.alarm_oldest_message_age_seconds}s to be fanned out: the webhooks workers are down or cannot reach the database."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.webhooks.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_oldest_message_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# `psp worker webhooks` logs, as JSON lines, every attempt (`webhooks.attempted`, with `outcome`
# succeeded / failed_retrying / failed_final and a bounded `reason`), every endpoint it disables
# (`webhooks.endpoint_disabled`), and once a minute, busy or idle, its backlog (`webhooks.backlog`:
# deliveries due now and how late the most overdue one is). These filters turn the lines into metrics
# in the PSP namespace, so the worker needs no CloudWatch permission.
locals {
  webhook_log_metrics = {
    delivery_lag = {
      name    = "WebhookDeliveryLag"
      pattern = "{ $.event = \"webhooks.backlog\" }"
      value   = "$.delivery_lag_seconds"
      unit    = "Seconds"
      dims    = {}
    }
    deliveries_due = {
      name    = "WebhookDeliveriesDue"
      pattern = "{ $.event = \"webhooks.backlog\" }"
      value   = "$.deliveries_due"
      unit    = "Count"
      dims    = {}
    }
    attempts = {
      name    = "WebhookAttempts"
      pattern = "{ $.event = \"webhooks.attempted\" }"
      value   = "1"
      unit    = "Count"
      dims    = { Outcome = "$.outcome" }
    }
    endpoints_disabled = {
      name    = "WebhookEndpointsDisabled"
      pattern = "{ $.event = \"webhooks.endpoint_disabled\" }"
      value   = "1"
      unit    = "Count"
      dims    = {}
    }
  }
}

resource "aws_cloudwatch_log_metric_filter" "webhooks" {
  for_each = local.webhook_log_metrics

  name           = "${local.name}-webhooks-${replace(each.key, "_", "-")}"
  log_group_name = aws_cloudwatch_log_group.task["webhooks"].name
  pattern        = each.value.pattern

  metric_transformation {
    namespace  = "PSP"
    name       = each.value.name
    value      = each.value.value
    unit       = each.value.unit
    dimensions = each.value.dims
  }
}

# Capacity: deliveries are due and nobody attempts them. Raise webhooks.concurrency or webhooks.count
# (README, "Operations"). Missing data is breaching: workers that stopped logging stopped delivering.
resource "aws_cloudwatch_metric_alarm" "webhook_delivery_lag" {
  alarm_name          = "${local.name}-webhook-delivery-lag"
  alarm_description   = "Webhook deliveries have been due for over ${var.alarm_webhook_delivery_lag_seconds}s without an attempt (or the webhooks workers stopped reporting): add concurrency or tasks, or look for a stuck worker."
  namespace           = "PSP"
  metric_name         = "WebhookDeliveryLag"
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_webhook_delivery_lag_seconds
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_cloudwatch_log_metric_filter.webhooks]
}

# One merchant's endpoint failing is that merchant's business (retries, then disabling, handle it). Most
# attempts failing at once points at psp's own egress: NAT gateways, DNS, the security group, TLS trust.
resource "aws_cloudwatch_metric_alarm" "webhook_failure_rate" {
  alarm_name          = "${local.name}-webhook-failure-rate"
  alarm_description   = "Over ${var.alarm_webhook_failure_rate_percent}% of webhook attempts failed for 15 minutes (ignored under 50 attempts per 5 minutes): check the NAT gateways, DNS and the webhooks security group before blaming merchants."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_webhook_failure_rate_percent
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    label       = "failed attempts %"
    expression  = "IF(FILL(succeeded, 0) + FILL(retrying, 0) + FILL(final, 0) >= 50, 100 * (FILL(retrying, 0) + FILL(final, 0)) / (FILL(succeeded, 0) + FILL(retrying, 0) + FILL(final, 0)), 0)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { succeeded = "succeeded", retrying = "failed_retrying", final = "failed_final" }

    content {
      id = metric_query.key
      metric {
        namespace   = "PSP"
        metric_name = "WebhookAttempts"
        dimensions  = { Outcome = metric_query.value }
        period      = 300
        stat        = "Sum"
      }
    }
  }

  depends_on = [aws_cloudwatch_log_metric_filter.webhooks]
}

resource "aws_cloudwatch_metric_alarm" "scheduler_dlq_depth" {
  alarm_name          = "${local.name}-settlement-schedule-failed"
  alarm_description   = "EventBridge Scheduler could not start a scheduled job (settle, resolve-processing, prune-idempotency-keys); run it by hand (README) and inspect the scheduler DLQ."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.scheduler_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Database --------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "db_cpu" {
  alarm_name          = "${local.name}-db-cpu"
  alarm_description   = "RDS CPU above ${var.alarm_db_cpu_percent}% for 15 minutes."
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.alarm_db_cpu_percent
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "db_free_storage" {
  alarm_name          = "${local.name}-db-free-storage"
  alarm_description   = "RDS free storage below ${var.alarm_db_free_storage_gb} GiB (storage autoscaling stops at ${var.db_max_allocated_storage_gb} GiB)."
  namespace           = "AWS/RDS"
  metric_name         = "FreeStorageSpace"
  dimensions          = { DBInstanceIdentifier = aws_db_instance.main.identifier }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = var.alarm_db_free_storage_gb * 1024 * 1024 * 1024
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- Dashboard -------------------------------------------------------------------------------------
locals {
  alb_dimension = aws_lb.api.arn_suffix

  dashboard_widgets = [
    {
      title = "API requests and 5xx"
      metrics = [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", local.alb_dimension, { stat = "Sum" }],
        [".", "HTTPCode_Target_5XX_Count", ".", ".", { stat = "Sum" }],
        [".", "HTTPCode_ELB_5XX_Count", ".", ".", { stat = "Sum" }],
        [".", "HTTPCode_Target_4XX_Count", ".", ".", { stat = "Sum" }],
      ]
    },
    {
      title = "API latency (p50 / p99)"
      metrics = [
        ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", local.alb_dimension, { stat = "p50" }],
        ["...", { stat = "p99" }],
      ]
    },
    {
      title = "Payables queue"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.payables.name, { stat = "Maximum" }],
        [".", "ApproximateNumberOfMessagesNotVisible", ".", ".", { stat = "Maximum" }],
        [".", "ApproximateNumberOfMessagesVisible", ".", aws_sqs_queue.payables_dlq.name, { stat = "Maximum", label = "DLQ" }],
      ]
    },
    {
      title   = "Age of oldest payables message (s)"
      metrics = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", aws_sqs_queue.payables.name, { stat = "Maximum" }]]
    },
    {
      title   = "Outbox backlog"
      metrics = [["PSP", "OutboxBacklog", { stat = "Maximum" }]]
    },
    {
      title = "Webhooks queue (events to fan out)"
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.webhooks.name, { stat = "Maximum" }],
        [".", "ApproximateAgeOfOldestMessage", ".", ".", { stat = "Maximum", label = "oldest (s)", yAxis = "right" }],
        [".", "ApproximateNumberOfMessagesVisible", ".", aws_sqs_queue.webhooks_dlq.name, { stat = "Maximum", label = "DLQ" }],
      ]
    },
    {
      title = "Webhook deliveries due and lag (s)"
      metrics = [
        ["PSP", "WebhookDeliveriesDue", { stat = "Maximum" }],
        [".", "WebhookDeliveryLag", { stat = "Maximum", yAxis = "right" }],
      ]
    },
    {
      title = "Webhook attempts by outcome; endpoints disabled"
      metrics = [
        ["PSP", "WebhookAttempts", "Outcome", "succeeded", { stat = "Sum" }],
        ["...", "failed_retrying", { stat = "Sum" }],
        ["...", "failed_final", { stat = "Sum" }],
        ["PSP", "WebhookEndpointsDisabled", { stat = "Sum", yAxis = "right" }],
      ]
    },
    {
      title = "ECS CPU %"
      metrics = [for service in ["api", "relay", "worker", "webhooks"] :
        ["AWS/ECS", "CPUUtilization", "ClusterName", aws_ecs_cluster.main.name, "ServiceName", service, { stat = "Average" }]
      ]
    },
    {
      title = "ECS memory %"
      metrics = [for service in ["api", "relay", "worker", "webhooks"] :
        ["AWS/ECS", "MemoryUtilization", "ClusterName", aws_ecs_cluster.main.name, "ServiceName", service, { stat = "Average" }]
      ]
    },
    {
      title = "RDS CPU % and connections"
      metrics = [
        ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", aws_db_instance.main.identifier, { stat = "Average" }],
        [".", "DatabaseConnections", ".", ".", { stat = "Maximum", yAxis = "right" }],
      ]
    },
    {
      title   = "RDS free storage (bytes)"
      metrics = [["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", aws_db_instance.main.identifier, { stat = "Minimum" }]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "psp" {
  dashboard_name = local.name

  dashboard_body = jsonencode({
    widgets = concat(
      [{
        type   = "alarm"
        x      = 0
        y      = 0
        width  = 24
        height = 3
        properties = {
          title = "Alarms"
          alarms = [
            aws_cloudwatch_metric_alarm.api_5xx_rate.arn,
            aws_cloudwatch_metric_alarm.api_p99_latency.arn,
            aws_cloudwatch_metric_alarm.api_no_healthy_targets.arn,
            aws_cloudwatch_metric_alarm.payables_dlq_depth.arn,
            aws_cloudwatch_metric_alarm.payables_oldest_message_age.arn,
            aws_cloudwatch_metric_alarm.outbox_backlog.arn,
            aws_cloudwatch_metric_alarm.webhooks_dlq_depth.arn,
            aws_cloudwatch_metric_alarm.webhooks_oldest_message_age.arn,
            aws_cloudwatch_metric_alarm.webhook_delivery_lag.arn,
            aws_cloudwatch_metric_alarm.webhook_failure_rate.arn,
            aws_cloudwatch_metric_alarm.scheduler_dlq_depth.arn,
            aws_cloudwatch_metric_alarm.db_cpu.arn,
            aws_cloudwatch_metric_alarm.db_free_storage.arn,
          ]
        }
      }],
      [for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 3) * 8
        y      = 3 + floor(index / 3) * 6
        width  = 8
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = 60
          metrics = widget.metrics
        }
      }],
    )
  })
}
