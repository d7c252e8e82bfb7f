# Daily settlement: EventBridge Scheduler runs the `settle` task definition (`psp jobs settle`, which
# settles everything due up to today, so a missed run is caught up by the next one; running it twice
# settles nothing twice). The schedule is evaluated in the settlement time zone, daylight saving
# included. The task definition is referenced without a revision: each run uses the latest one.
resource "aws_scheduler_schedule" "settle" {
  name        = "${local.name}-settle"
  description = "psp jobs settle, daily at ${var.settlement_time} ${var.settlement_timezone}"

  schedule_expression          = "cron(${local.settlement_minute} ${local.settlement_hour} * * ? *)"
  schedule_expression_timezone = var.settlement_timezone
  kms_key_arn                  = aws_kms_key.psp.arn

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_ecs_cluster.main.arn
    role_arn = aws_iam_role.scheduler.arn

    ecs_parameters {
      task_definition_arn     = aws_ecs_task_definition.psp["settle"].arn_without_revision
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
