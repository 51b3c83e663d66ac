# EC2 warns two minutes before it reclaims a spot instance: the warning goes to an SNS
# topic (subscribe alerting to it). The node itself also sees it and drains (user data).

resource "aws_sns_topic" "spot_interruptions" {
  name              = "${var.name}-spot-interruptions"
  kms_master_key_id = aws_kms_key.main.id
}

resource "aws_cloudwatch_event_rule" "spot_interruption" {
  name        = "${var.name}-spot-interruption"
  description = "EC2 spot instance interruption warnings"
  event_pattern = jsonencode({
    source        = ["aws.ec2"]
    "detail-type" = ["EC2 Spot Instance Interruption Warning"]
  })
}

resource "aws_cloudwatch_event_target" "spot_interruption" {
  rule = aws_cloudwatch_event_rule.spot_interruption.name
  arn  = aws_sns_topic.spot_interruptions.arn
}

data "aws_iam_policy_document" "spot_topic" {
  statement {
    sid       = "EventBridgePublishes"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.spot_interruptions.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.spot_interruption.arn]
    }
  }
}

resource "aws_sns_topic_policy" "spot_interruptions" {
  arn    = aws_sns_topic.spot_interruptions.arn
  policy = data.aws_iam_policy_document.spot_topic.json
}

resource "aws_sns_topic_subscription" "spot_email" {
  count = var.alert_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.spot_interruptions.arn
  protocol  = "email"
  endpoint  = var.alert_email
}
