# Sanad's set-up, run and test targets. The README's two commands are `make run` and `make test`.
SHELL := /bin/bash
RASA_BIN := .venvs/rasa/bin
API_BIN := .venvs/api/bin

.PHONY: run test setup envs system-packages model stock lock calibrate eval bench clean

run: model          ## Sanad on this machine with the embedded defaults
	$(RASA_BIN)/sanad run

test: model system-packages   ## every test suite (trains the model first if needed)
	scripts/test

setup: envs
	$(RASA_BIN)/sanad model build

envs:
	scripts/setup-envs

system-packages:    ## Debian packages the browser tests need (chromium, an Arabic font)
	scripts/system-packages

model: setup        ## the e5 checkpoint and the trained Rasa model (only when stale)
	$(RASA_BIN)/sanad train

stock: setup
	$(RASA_BIN)/sanad train --stock

eval: model
	$(RASA_BIN)/sanad eval $$(.venvs/rasa/bin/python -c "from bot.paths import DEV_EVAL; print(DEV_EVAL)") --json

bench: model
	$(RASA_BIN)/sanad bench

calibrate: setup    ## re-fit bot/calibration.yml (about 20 minutes on 2 cores; --reuse refits in 2)
	$(RASA_BIN)/sanad calibrate

lock:               ## re-resolve requirements/*.lock (maintainers; needs uv)
	scripts/lock-requirements

clean:
	rm -rf build models var .rasa
