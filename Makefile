# The whole set-up: `make test` and `make run`.
PRESET ?= default
BUILD_DIR := build
JOBS ?= 2
CONFIG ?= config/tributary.toml

.PHONY: all deps configure build test run demo clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake --preset $(PRESET)

configure: deps
	cmake --preset $(PRESET)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build --preset $(PRESET) -j$(JOBS)

test: build
	ctest --preset $(PRESET)

run: build
	./$(BUILD_DIR)/core/tributary run -c $(CONFIG)

# The same service offline: every HTTP request answered from config/demo-cassettes.
demo: build
	./$(BUILD_DIR)/core/tributary run -c $(CONFIG) --replay config/demo-cassettes

clean:
	rm -rf $(BUILD_DIR)
