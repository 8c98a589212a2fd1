"""The background worker (RQ on Redis): voicemail transcription (pydub + Vosk), notifications,
deadline reminders and escalations, and the sweep that re-queues what Redis lost or never got."""
