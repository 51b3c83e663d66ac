# K3s on spot instances. Every node is a K3s server whose datastore is the RDS database,
# so any node can go (spot interruption, scale-in) without losing the cluster's state.

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

resource "aws_launch_template" "nodes" {
  name_prefix            = "${var.name}-node-"
  image_id               = data.aws_ssm_parameter.al2023.value
  update_default_version = true
  vpc_security_group_ids = [aws_security_group.nodes.id]

  iam_instance_profile {
    arn = aws_iam_instance_profile.nodes.arn
  }

  user_data = base64encode(templatefile("${path.module}/templates/user-data.sh.tftpl", {
    region           = var.region
    k3s_version      = var.k3s_version
    secret_arn       = aws_secretsmanager_secret.cluster.arn
    db_endpoint      = aws_db_instance.main.endpoint
    images_bucket    = aws_s3_bucket.images.bucket
    manifests_bucket = aws_s3_bucket.manifests.bucket
    job_ttl_hours    = var.job_ttl_hours
    keda_manifest    = file("${path.module}/../k8s/cluster/keda.yaml")
  }))

  # IMDSv2 only; hop limit 2 lets pods reach it for the node role's S3 credentials.
  # checkov:skip=CKV_AWS_341: K3s has no pod identity webhook; pods get the node role's S3 credentials through IMDSv2, which needs a second hop.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
  }

  monitoring {
    enabled = true
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    # Encrypted with the account's EBS key: a customer key would need a grant for Auto
    # Scaling's service-linked role, which may not exist yet in a new account.
    ebs {
      volume_size           = 40
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-node" }
  }
}

resource "aws_autoscaling_group" "nodes" {
  name_prefix         = "${var.name}-nodes-"
  min_size            = var.node_min
  max_size            = var.node_max
  vpc_zone_identifier = aws_subnet.private[*].id
  target_group_arns   = [aws_lb_target_group.http.arn]
  health_check_type   = "EC2"
  # Start replacing a spot node as soon as EC2 signals it is at risk.
  capacity_rebalance = true

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = var.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = 0
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.nodes.id
        version            = "$Latest"
      }

      dynamic "override" {
        for_each = var.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-node"
    propagate_at_launch = true
  }

  lifecycle {
    precondition {
      condition     = var.node_max >= var.node_min
      error_message = "node_max must be at least node_min."
    }
  }

  # The nodes need the database and the secret at boot.
  depends_on = [aws_secretsmanager_secret_version.cluster, aws_db_instance.main]
}

# A network load balancer in the public subnets forwards to Traefik (port 80) on every node.
resource "aws_lb" "main" {
  # checkov:skip=CKV2_AWS_20: the check is for application load balancers; this one is a network load balancer, HTTPS comes with certificate_arn.
  # checkov:skip=CKV_AWS_91: access logs of a network load balancer cover TLS listeners only; HTTP requests are logged by the app.
  name                             = "${var.name}-lb"
  load_balancer_type               = "network"
  internal                         = false
  subnets                          = aws_subnet.public[*].id
  security_groups                  = [aws_security_group.lb.id]
  enable_cross_zone_load_balancing = true
  enable_deletion_protection       = var.deletion_protection
}

resource "aws_lb_target_group" "http" {
  name_prefix = "pxt-"
  port        = 80
  protocol    = "TCP"
  vpc_id      = aws_vpc.main.id
  # Leave gunicorn time to finish requests when a node leaves.
  deregistration_delay = 30

  health_check {
    protocol = "HTTP"
    path     = "/api/health"
    port     = "traffic-port"
  }
}

resource "aws_lb_listener" "http" {
  # checkov:skip=CKV_AWS_2: plain HTTP stays available until an ACM certificate is given (certificate_arn), which adds the TLS listener below.
  # checkov:skip=CKV_AWS_103: see CKV_AWS_2; the TLS listener uses a TLS 1.2+ policy.
  load_balancer_arn = aws_lb.main.arn
  port              = 80
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http.arn
  }
}

resource "aws_lb_listener" "https" {
  count = var.certificate_arn == "" ? 0 : 1

  load_balancer_arn = aws_lb.main.arn
  port              = 443
  protocol          = "TLS"
  certificate_arn   = var.certificate_arn
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.http.arn
  }
}
