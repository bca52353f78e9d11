# Set-up and operation of the stacks. `make test` needs only Python 3.11+;
# `make preview|up|destroy|keys STACK=<name>` also need the Pulumi CLI and a kube context, and say what is
# missing first (scripts/preflight.py). `make verify STACK=<name>` (after `make up`) needs them too, but not the
# virtual environment: scripts/verify.py uses only the standard library.

PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
# A local file state backend by default: no Pulumi Cloud account needed. Override to use another.
PULUMI_BACKEND_URL ?= file://$(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test preview up destroy preflight select clean bench bench-smoke

$(STAMP): pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

test: $(STAMP)
	$(BIN)/python -m pytest

preflight: $(STAMP)
	$(BIN)/python scripts/preflight.py --stack $(STACK)

# The agent keys of a stack: prompted for (not echoed) and stored encrypted, with the stack's passphrase, in
# stacks/Pulumi.$(STACK).yaml. Not for stacks with sigsci:existingSecret.
.PHONY: keys
keys: $(STAMP)
	$(BIN)/python scripts/preflight.py --stack $(STACK) --skip-keys
	pulumi stack select --create $(STACK) --secrets-provider passphrase
	pulumi config set --stack $(STACK) --secret sigsci:accessKeyId
	pulumi config set --stack $(STACK) --secret sigsci:secretAccessKey

# Select (or create, with passphrase-encrypted secrets) the stack, then act on it.
select: preflight
	pulumi stack select --create $(STACK) --secrets-provider passphrase

preview: select
	pulumi preview --stack $(STACK) --diff

up: select
	pulumi up --stack $(STACK)

# Proof that every entry of the stack inspects a marked request (docs/operations.md#proving-inspection): one row
# each, non-zero unless all are inspected. VERIFY_ARGS passes more options, e.g. VERIFY_ARGS="--route ingress=URL".
.PHONY: verify
verify:
	$(PYTHON) scripts/verify.py --stack $(STACK) $(VERIFY_ARGS)

# --run-program: the delete hooks give patched Services their targetPort back (docs/patched-apps.md).
destroy: select
	pulumi destroy --stack $(STACK) --run-program

clean:
	rm -rf $(VENV) .pytest_cache

# Speed against the same objects declared flat with pulumi_kubernetes; writes BENCHMARKS.md (a few minutes).
bench: $(STAMP)
	$(BIN)/python scripts/bench.py --sizes 100,500 --reps 5

# The benchmark once, small, only to show it works (CI runs this through the tests).
bench-smoke: $(STAMP)
	$(BIN)/python scripts/bench.py --sizes 5,10 --reps 1 --out /dev/null
