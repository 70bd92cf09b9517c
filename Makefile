# RMS developer entry points. `make` alone lists the targets.
# Every target a CI step needs is here, so .ci/run and a developer run the
# same commands.

GO         ?= go
TEST_FLAGS ?=
BIN        := bin

.DEFAULT_GOAL := help
.PHONY: help generate check build agent-small test bench run clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

generate: ## Regenerate the Go SOAP stubs in generated/ from wsdl/ (gowsdl)
	scripts/generate.sh

check: ## gofmt, go vet, go.mod tidiness and freshness of generated/
	@echo '--> gofmt -l'
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi
	@echo '--> go vet ./... (and the agent without PAC: -tags nopac)'
	@$(GO) vet ./...
	@$(GO) vet -tags nopac ./soapclient/... ./cmd/rms-agent/...
	@echo '--> go mod tidy -diff'
	@$(GO) mod tidy -diff || { echo 'go.mod/go.sum are not tidy: run go mod tidy'; exit 1; }
	@echo '--> generated/ is fresh'
	@scripts/generate.sh
	@git diff --exit-code --stat -- generated/ || { echo 'generated/ is stale: run make generate and commit'; exit 1; }
	@untracked=$$(git ls-files --others --exclude-standard -- 'generated/*.go' ':!:*_test.go'); \
	if [ -n "$$untracked" ]; then echo "generated/ has uncommitted files:"; echo "$$untracked"; exit 1; fi

build: ## Build every binary in cmd/ into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

agent-small: ## Build bin/rms-agent-nopac: static, stripped, no PAC engine (~13 MB RSS instead of ~18)
	CGO_ENABLED=0 $(GO) build -tags nopac -trimpath -ldflags '-s -w' -o $(BIN)/rms-agent-nopac ./cmd/rms-agent

test: ## Run every test (go test ./...); pass extra flags with TEST_FLAGS=...
	$(GO) test $(TEST_FLAGS) ./...

bench: ## Run the benchmarks (WS-Security, store batch writes, agent outbox and audit)
	$(GO) test -run '^$$' -bench . -benchmem ./wssec/... ./server/sqlstore/ ./agent/outbox/ ./agent/auditlog/

run: build ## Run the server on https://localhost:8443 (embedded store) with simulated devices
	scripts/run.sh

clean: ## Remove build output, the dev PKI and the embedded store (bin/, var/)
	rm -rf $(BIN) var
