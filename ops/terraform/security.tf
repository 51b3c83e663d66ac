# Least privilege: the internet reaches only the load balancer; the load balancer reaches
# only Traefik's port on the nodes; the database accepts only the nodes. Redis runs inside
# the cluster, where no security group opens it and a NetworkPolicy admits only PixTools.

resource "aws_security_group" "lb" {
  name        = "${var.name}-lb"
  description = "PixTools load balancer: HTTP(S) from the allowed ranges"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-lb" }
}

resource "aws_vpc_security_group_ingress_rule" "lb_http" {
  # checkov:skip=CKV_AWS_260: a public web service; narrow allowed_http_cidrs to restrict who may reach it.
  for_each = toset(var.allowed_http_cidrs)

  security_group_id = aws_security_group.lb.id
  description       = "HTTP from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "lb_https" {
  for_each = var.certificate_arn == "" ? toset([]) : toset(var.allowed_http_cidrs)

  security_group_id = aws_security_group.lb.id
  description       = "HTTPS from ${each.value}"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "lb_to_nodes" {
  security_group_id            = aws_security_group.lb.id
  description                  = "To Traefik on the nodes"
  referenced_security_group_id = aws_security_group.nodes.id
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

resource "aws_security_group" "nodes" {
  name        = "${var.name}-nodes"
  description = "K3s nodes: cluster traffic among themselves, HTTP from the load balancer"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-nodes" }
}

resource "aws_vpc_security_group_ingress_rule" "nodes_from_lb" {
  # checkov:skip=CKV_AWS_260: the source is the load balancer's security group, not 0.0.0.0/0 (the check does not read referenced groups).
  security_group_id            = aws_security_group.nodes.id
  description                  = "Traefik from the load balancer"
  referenced_security_group_id = aws_security_group.lb.id
  ip_protocol                  = "tcp"
  from_port                    = 80
  to_port                      = 80
}

# K3s API (6443), kubelet (10250), flannel VXLAN (8472/udp) and pod traffic between nodes.
resource "aws_vpc_security_group_ingress_rule" "nodes_from_nodes" {
  security_group_id            = aws_security_group.nodes.id
  description                  = "Cluster traffic between nodes"
  referenced_security_group_id = aws_security_group.nodes.id
  ip_protocol                  = "-1"
}

resource "aws_vpc_security_group_egress_rule" "nodes_out" {
  # checkov:skip=CKV_AWS_382: nodes pull container images, Helm charts and K3s releases from public registries whose addresses change; inbound stays closed.
  security_group_id = aws_security_group.nodes.id
  description       = "Image registries, AWS APIs and the database"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_security_group" "db" {
  name        = "${var.name}-db"
  description = "PostgreSQL: reachable from the K3s nodes only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.name}-db" }
}

resource "aws_vpc_security_group_ingress_rule" "db_from_nodes" {
  security_group_id            = aws_security_group.db.id
  description                  = "PostgreSQL from the K3s nodes"
  referenced_security_group_id = aws_security_group.nodes.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}
