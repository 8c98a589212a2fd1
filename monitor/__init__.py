"""The monitor: app_queue's AMI events to the wallboard (Redis) and to the call log's queue facts."""
