# The whole set-up: `make test` and `make run`.
PRESET ?= default
BUILD_DIR := build
JOBS ?= 2
CONFIG ?= config/tributary.toml

PREFIX ?= /usr/local

.PHONY: all deps configure build test run demo install deb clean

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

# The binary, plugins, default config, systemd unit, docs and SDK under $(PREFIX).
install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# A Debian package in $(BUILD_DIR)/ (tributary_<version>_<arch>.deb).
deb: build
	cd $(BUILD_DIR) && cpack -G DEB

clean:
	rm -rf $(BUILD_DIR)
