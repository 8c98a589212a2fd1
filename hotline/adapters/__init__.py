"""One module per outside system: the database, AMI, the job queue (RQ on Redis), SMTP, the speech
engines, and the files Asterisk reads (configuration, prompts, queue sounds)."""
