variable "name" {
  description = "Repository name, e.g. \"staging-indexer\". One repository holds the single image that runs every component."
  type        = string
}

variable "images_to_keep" {
  description = "How many most recent images the lifecycle policy keeps; older ones are deleted."
  type        = number
  default     = 100
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
