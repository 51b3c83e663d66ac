# K3s on spot instances. Every node is a K3s server whose datastore is the RDS database,
# so any node can go (spot interruption, scale-in) without losing the cluster's state.

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

# Two pools, each an Auto Scaling group the cluster autoscaler (ops/k8s/cluster/
# cluster-autoscaler.yaml) resizes between its min and max as pods wait or nodes idle:
#   general  spot instances of several 2-vCPU types: the api, the Pillow consumers, Redis.
#   ml       on-demand 4-vCPU instances, tainted for worker-ml alone: a denoise runs for up
#            to 15 minutes, longer than the two minutes' notice of a spot reclaim, and from
#            zero nodes while no denoise waits.
# Every termination the group decides (scale-in, instance refresh, rebalancing) waits in a
# lifecycle hook while the node drains, for longer than the longest grace period of the
# pool's pods; a spot reclaim allows two minutes, which the general pool's grace periods fit.
locals {
  pools = {
    general = {
      instance_types = var.instance_types
      min            = var.node_min
      max            = var.node_max
      spot           = true
      target_groups  = [aws_lb_target_group.http.arn]
      labels         = ["pixtools.io/pool=general"]
      taints         = []
      drain_seconds  = 150
    }
    ml = {
      instance_types = var.ml_instance_types
      min            = 0
      max            = var.ml_node_max
      spot           = false
      target_groups  = []
      labels         = ["pixtools.io/pool=ml"]
      taints         = ["pixtools.io/pool=ml:NoSchedule"]
      drain_seconds  = 960
    }
  }
}

resource "aws_launch_template" "pool" {
  for_each = local.pools

  name_prefix            = "${var.name}-${each.key}-"
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
    public_url       = local.public_url
    node_labels      = jsonencode(each.value.labels)
    node_taints      = jsonencode(each.value.taints)
    drain_seconds    = each.value.drain_seconds
    keda_manifest    = file("${path.module}/../k8s/cluster/keda.yaml")
    traefik_manifest = file("${path.module}/../k8s/cluster/traefik.yaml")
    autoscaler_manifest = templatefile("${path.module}/../k8s/cluster/cluster-autoscaler.yaml", {
      cluster_name = var.name
      region       = var.region
    })
  }))

  # IMDSv2 only, and one hop: the nodes (and host-network system pods such as the cluster
  # autoscaler) reach it, application pods do not, so they cannot borrow the node role.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
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
    tags          = { Name = "${var.name}-${each.key}" }
  }
}

resource "aws_autoscaling_group" "pool" {
  for_each = local.pools

  name_prefix         = "${var.name}-${each.key}-"
  min_size            = each.value.min
  max_size            = each.value.max
  vpc_zone_identifier = aws_subnet.private[*].id
  target_group_arns   = each.value.target_groups
  health_check_type   = "EC2"
  # Start replacing a spot node as soon as EC2 signals it is at risk.
  capacity_rebalance = each.value.spot

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = each.value.spot ? var.on_demand_base_capacity : 0
      on_demand_percentage_above_base_capacity = each.value.spot ? 0 : 100
      spot_allocation_strategy                 = "price-capacity-optimized"
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.pool[each.key].id
        version            = "$Latest"
      }

      dynamic "override" {
        for_each = each.value.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  # The node drains itself when it sees this (user data), then lets the termination go on.
  initial_lifecycle_hook {
    name                 = "drain"
    lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
    heartbeat_timeout    = each.value.drain_seconds + 120
    default_result       = "CONTINUE"
  }

  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.name}-${each.key}"
    propagate_at_launch = true
  }

  # The cluster autoscaler finds the groups by these tags, and learns from the node-template
  # ones what a node of an empty group (ml at zero) would carry.
  tag {
    key                 = "k8s.io/cluster-autoscaler/enabled"
    value               = "true"
    propagate_at_launch = false
  }

  tag {
    key                 = "k8s.io/cluster-autoscaler/${var.name}"
    value               = "owned"
    propagate_at_launch = false
  }

  dynamic "tag" {
    for_each = { for label in each.value.labels : split("=", label)[0] => split("=", label)[1] }
    content {
      key                 = "k8s.io/cluster-autoscaler/node-template/label/${tag.key}"
      value               = tag.value
      propagate_at_launch = false
    }
  }

  dynamic "tag" {
    for_each = { for taint in each.value.taints : split("=", taint)[0] => split("=", taint)[1] }
    content {
      key                 = "k8s.io/cluster-autoscaler/node-template/taint/${tag.key}"
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    precondition {
      condition     = each.value.max >= each.value.min
      error_message = "a pool's max must be at least its min (node_max >= node_min)."
    }
    # The cluster autoscaler owns the size between min and max.
    ignore_changes = [desired_capacity]
  }

  # The nodes need the database and the secret at boot.
  depends_on = [aws_secretsmanager_secret_version.cluster, aws_db_instance.main]
}

moved {
  from = aws_launch_template.nodes
  to   = aws_launch_template.pool["general"]
}

moved {
  from = aws_autoscaling_group.nodes
  to   = aws_autoscaling_group.pool["general"]
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
