data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

# The nodes' role: K3s itself and host-network system pods (the cluster autoscaler). The
# instance metadata hop limit of 1 keeps application pods from it; they have their own
# credentials (the app user below).
resource "aws_iam_role" "nodes" {
  name_prefix        = "${var.name}-nodes-"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

data "aws_iam_policy_document" "nodes" {
  # Nodes read the manifests they apply.
  statement {
    sid       = "ManifestsRead"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.manifests.arn}/k8s/*"]
  }

  statement {
    sid       = "ClusterSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.cluster.arn]
  }

  # SSE-KMS manifests and the secret are encrypted with the project key.
  statement {
    sid       = "ProjectKey"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }

  # The cluster autoscaler looks at groups, instance types and launch templates (actions
  # that take no resource)...
  statement {
    sid = "AutoscalerReads"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }

  # ...and resizes this cluster's pools; a leaving node completes its own termination hook.
  statement {
    sid = "PoolsResize"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
      "autoscaling:CompleteLifecycleAction",
    ]
    resources = [for group in aws_autoscaling_group.pool : group.arn]
  }
}

resource "aws_iam_role_policy" "nodes" {
  name   = "${var.name}-nodes"
  role   = aws_iam_role.nodes.id
  policy = data.aws_iam_policy_document.nodes.json
}

# The app's own S3 credentials, for the pods (pixtools-secrets, written by the nodes from
# Secrets Manager): it stores, reads, lists and deletes job files, nothing else anywhere.
# Rotate with `terraform apply -replace=aws_iam_access_key.app` (the nodes pick the new key
# up when they next boot; roll them with an instance refresh).
resource "aws_iam_user" "app" {
  # checkov:skip=CKV_AWS_273: K3s has no pod identity; a key for one bucket, held in one Secret, replaces the node role every pod could borrow.
  name = "${var.name}-app"
  path = "/pixtools/"
}

resource "aws_iam_group" "app" {
  name = "${var.name}-app"
  path = "/pixtools/"
}

resource "aws_iam_user_group_membership" "app" {
  user   = aws_iam_user.app.name
  groups = [aws_iam_group.app.name]
}

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ImagesObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.images.arn}/*"]
  }

  statement {
    sid       = "ImagesList"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.images.arn]
  }

  # The images are SSE-KMS encrypted with the project key.
  statement {
    sid       = "ProjectKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_group_policy" "app" {
  name   = "${var.name}-app"
  group  = aws_iam_group.app.name
  policy = data.aws_iam_policy_document.app.json
}

resource "aws_iam_access_key" "app" {
  user = aws_iam_user.app.name
}

# Operators reach the nodes through Session Manager: no SSH port, no bastion.
resource "aws_iam_role_policy_attachment" "nodes_ssm" {
  role       = aws_iam_role.nodes.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "nodes" {
  name_prefix = "${var.name}-nodes-"
  role        = aws_iam_role.nodes.name
}

# VPC flow logs write to their log group only.
resource "aws_iam_role" "flow_logs" {
  name_prefix = "${var.name}-flow-logs-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow_logs.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "${var.name}-flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

# RDS enhanced monitoring.
resource "aws_iam_role" "rds_monitoring" {
  name_prefix = "${var.name}-rds-mon-"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
