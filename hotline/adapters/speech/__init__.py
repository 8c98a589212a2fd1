"""Speech to text for messages: engines behind one interface, audio cut at pauses, readable transcripts.

``engines`` chooses and loads the configured engine; ``vietasr_engine`` and ``vosk_engine`` are the
only modules that speak to each recognizer; ``pauses`` finds the stretches of speech; ``readable``
turns spoken numbers into digits and sentences into sentence case.
"""
