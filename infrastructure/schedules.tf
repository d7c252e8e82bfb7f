# The scheduled jobs: EventBridge Scheduler runs each one's task definition.
# - settle: daily (`psp jobs settle` settles everything due up to today, so a missed run is caught up by
#   the next one; running it twice settles nothing twice), evaluated in the settlement time zone,
#   daylight saving included;
# - resolve_processing: every 5 minutes, asks the acquirer about transactions it timed out on;
# - prune_idempotency_keys: daily, deletes keys older than PSP_IDEMPOTENCY_KEY_TTL_DAYS.
# Every job is safe to run twice or concurrently. Task definitions are referenced without a revision:
# each run uses the latest one.
locals {
  scheduled_jobs = {
    settle = {
      description = "psp jobs settle, daily at ${var.settlement_time} ${var.settlement_timezone}"
      expression  = "cron(${local.settlement_minute} ${local.settlement_hour} * * ? *)"
    }
    resolve_processing = {
      description = "psp jobs resolve-processing, every 5 minutes"
      expression  = "rate(5 minutes)"
    }
    prune_idempotency_keys = {
      description = "psp jobs prune-idempotency-keys, daily at 03:30 ${var.settlement_timezone}"
      expression  = "cron(30 3 * * ? *)"
    }
  }
}

resource "aws_scheduler_schedule" "job" {
  for_each    = local.scheduled_jobs
  name        = "${local.name}-${replace(each.key, "_", "-")}"
  description = each.value.description

  schedule_expression          = each.value.expression
  schedule_expression_timezone = var.settlement_timezone
  kms_key_arn                  = aws_kms_key.psp.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.main.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn     = aws_ecs_task_definition.psp[each.key].arn_without_revision
      launch_type             = "FARGATE"
      platform_version        = "LATEST"
      task_count              = 1
      enable_ecs_managed_tags = true
      propagate_tags          = "TASK_DEFINITION"

      network_configuration {
        subnets          = aws_subnet.private[*].id
        security_groups  = [aws_security_group.tasks.id]
        assign_public_ip = false
      }
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 10
    }

    dead_letter_config {
      arn = aws_sqs_queue.scheduler_dlq.arn
    }
  }
}
