variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like eu-west-1."
  }
}

variable "name" {
  description = "Prefix of every resource name (lower-case letters, digits and dashes)."
  type        = string
  default     = "pixtools"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name))
    error_message = "name must be 2-21 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "Address range of the VPC; public and private /24 subnets are carved from it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR block of /20 or larger."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets, nodes and the database over."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (RDS needs subnets in at least two zones)."
  }
}

variable "instance_types" {
  description = "EC2 instance types of the general (spot) pool, 2 vCPU and 8 GiB each (more types, fewer interruptions)."
  type        = list(string)
  default     = ["m7i.large", "m6i.large", "m6a.large", "m5.large"]

  validation {
    condition     = length(var.instance_types) >= 2
    error_message = "instance_types needs at least two types so spot capacity can be found."
  }
}

variable "node_min" {
  description = "Smallest number of nodes in the general pool."
  type        = number
  default     = 2

  validation {
    condition     = var.node_min >= 1
    error_message = "node_min must be at least 1."
  }
}

variable "node_max" {
  description = "Largest number of nodes in the general pool: the cluster autoscaler adds nodes up to it while pods wait."
  type        = number
  default     = 8

  validation {
    condition     = var.node_max >= 1 && var.node_max <= 50
    error_message = "node_max must be between 1 and 50."
  }
}

variable "ml_instance_types" {
  description = "EC2 instance types of the ml pool (on-demand, 4 vCPU and 8 GiB or more): one worker-ml pod each."
  type        = list(string)
  default     = ["c7i.xlarge", "c6i.xlarge", "c6a.xlarge", "m7i.xlarge"]

  validation {
    condition     = length(var.ml_instance_types) >= 1
    error_message = "ml_instance_types needs at least one instance type."
  }
}

variable "ml_node_max" {
  description = "Largest number of nodes in the ml pool (it has none while no denoise waits); match KEDA's worker-ml maxReplicaCount."
  type        = number
  default     = 4

  validation {
    condition     = var.ml_node_max >= 1 && var.ml_node_max <= 20
    error_message = "ml_node_max must be between 1 and 20."
  }
}

variable "public_url" {
  description = "The address users reach PixTools at (PIXTOOLS_PUBLIC_URL), e.g. https://pixtools.example.com; empty uses the load balancer's name."
  type        = string
  default     = ""

  validation {
    condition     = var.public_url == "" || can(regex("^https?://[^/]+$", var.public_url))
    error_message = "public_url must be empty or an http(s):// address without a path."
  }
}

variable "on_demand_base_capacity" {
  description = "General-pool nodes kept on on-demand instances; every node above it is spot."
  type        = number
  default     = 0

  validation {
    condition     = var.on_demand_base_capacity >= 0
    error_message = "on_demand_base_capacity cannot be negative."
  }
}

variable "k3s_version" {
  description = "K3s release installed on the nodes."
  type        = string
  default     = "v1.32.4+k3s1"

  validation {
    condition     = can(regex("^v1\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))
    error_message = "k3s_version must look like v1.32.4+k3s1."
  }
}

variable "db_instance_class" {
  description = "RDS instance class of the PostgreSQL database (app data and K3s state)."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = startswith(var.db_instance_class, "db.")
    error_message = "db_instance_class must be an RDS class such as db.t4g.medium."
  }
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB (it grows automatically up to ten times this)."
  type        = number
  default     = 20

  validation {
    condition     = var.db_allocated_storage >= 20 && var.db_allocated_storage <= 6000
    error_message = "db_allocated_storage must be between 20 and 6000 GiB."
  }
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups (point-in-time recovery window)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_multi_az" {
  description = "Run the database with a standby in a second zone."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the database from deletion (turn off before terraform destroy)."
  type        = bool
  default     = true
}

variable "job_ttl_hours" {
  description = "How long jobs and their files are kept (PIXTOOLS_JOB_TTL_HOURS)."
  type        = number
  default     = 24

  validation {
    condition     = var.job_ttl_hours > 0 && var.job_ttl_hours <= 8760
    error_message = "job_ttl_hours must be between 0 and 8760 (a year)."
  }
}

variable "retention_days" {
  description = "Days after which S3 deletes image objects whatever the app did; at least job_ttl_hours."
  type        = number
  default     = 2

  validation {
    condition     = var.retention_days >= 1 && var.retention_days <= 365 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number between 1 and 365."
  }
}

variable "allowed_http_cidrs" {
  description = "Address ranges allowed to reach the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.allowed_http_cidrs : can(cidrnetmask(cidr))])
    error_message = "allowed_http_cidrs must be IPv4 CIDR blocks."
  }
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the load balancer; empty serves plain HTTP only."
  type        = string
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || startswith(var.certificate_arn, "arn:aws:acm:")
    error_message = "certificate_arn must be empty or an ACM certificate ARN."
  }
}

variable "alert_email" {
  description = "E-mail address subscribed to spot interruption warnings; empty for none."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be empty or an e-mail address."
  }
}

variable "log_retention_days" {
  description = "Days to keep VPC flow logs in CloudWatch."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, ... 365, ...)."
  }
}
