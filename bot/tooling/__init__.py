"""The tooling behind the `sanad` command (developers, CI, operators): building the embedding
checkpoint, training, calibrating, evaluating, benchmarking, starting the processes.

It imports the Rasa runtime (`bot.nlu`, `bot.knowledge`, `bot.redaction`, `bot.assist`, ...)
and nothing of it imports back: what the Rasa server and the action server load never pulls in
the tooling."""
